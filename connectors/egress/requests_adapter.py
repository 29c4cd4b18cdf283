"""The egress policy for `requests` sessions (the `jira` library, PyGithub, any later caller).

`mount(session, policy)` replaces the session's http:// and https:// adapters with one that,
for every request, checks the URL, resolves its host and checks every address (DNS can change
between requests), and refuses a redirect answer unless asked to let the session follow it
(each hop then goes through the same checks). Its connections are pinned: a new connection
resolves and checks again and then connects to the checked address itself, so a DNS answer
that changes between the check and the connect (rebinding) gains nothing. TLS still verifies
the certificate against the host name, and SNI names it.

A proxy from the environment (HTTPS_PROXY) bypasses the pinned connection (requests builds its
own proxy pools); the per-request check of the destination still applies, the proxy resolves.
"""

from __future__ import annotations

import socket
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError
from urllib3.util import connection

from connectors.egress.policy import EgressPolicy, RedirectRefused

_REDIRECTS = frozenset({301, 302, 303, 307, 308})


def _pinned_socket(conn: HTTPConnection, policy: EgressPolicy) -> socket.socket:
    """Connect to an address the policy allows for the connection's host, trying each in turn
    (what urllib3's own `_new_conn` does, with the addresses checked first)."""
    try:
        addresses = policy.addresses(conn.host, conn.port)
    except OSError as exc:
        raise NameResolutionError(conn.host, conn, socket.gaierror(str(exc))) from exc
    failure: OSError | None = None
    for address in addresses:
        try:
            return connection.create_connection(
                (str(address), conn.port),
                conn.timeout,
                source_address=conn.source_address,
                socket_options=conn.socket_options,
            )
        except TimeoutError as exc:
            raise ConnectTimeoutError(conn, f"Connection to {conn.host} timed out") from exc
        except OSError as exc:
            failure = exc
    raise NewConnectionError(conn, f"Failed to establish a new connection: {failure}")


def _pools(policy: EgressPolicy) -> dict[str, type[HTTPConnectionPool]]:
    class PinnedHTTPConnection(HTTPConnection):
        def _new_conn(self) -> socket.socket:
            return _pinned_socket(self, policy)

    class PinnedHTTPSConnection(HTTPSConnection):
        def _new_conn(self) -> socket.socket:
            return _pinned_socket(self, policy)

    class PinnedHTTPPool(HTTPConnectionPool):
        ConnectionCls = PinnedHTTPConnection

    class PinnedHTTPSPool(HTTPSConnectionPool):
        ConnectionCls = PinnedHTTPSConnection

    return {"http": PinnedHTTPPool, "https": PinnedHTTPSPool}


class EgressAdapter(HTTPAdapter):
    """An HTTPAdapter that applies the policy to every request and every connection."""

    def __init__(
        self, policy: EgressPolicy, *, follow_redirects: bool = False, **options: Any
    ) -> None:
        self.policy = policy
        self.follow_redirects = follow_redirects
        super().__init__(**options)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _pools(self.policy)

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> Any:
        destination = self.policy.check_url(str(request.url))
        try:
            self.policy.addresses(destination.host, destination.port)
        except OSError as exc:
            raise requests.ConnectionError(
                f"{destination.host} does not resolve", request=request
            ) from exc
        response = super().send(request, *args, **kwargs)
        if response.status_code in _REDIRECTS and not self.follow_redirects:
            response.close()
            raise RedirectRefused(response.status_code)
        return response


def mount(session: requests.Session, policy: EgressPolicy, **options: Any) -> EgressAdapter:
    """Route every http(s) request of `session` through the policy; `options` go to the
    adapter (max_retries, pool sizes, follow_redirects)."""
    adapter = EgressAdapter(policy, **options)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return adapter
