"""The egress policy for httpx clients (Linear, and any later caller).

`EgressTransport(policy)` is an `httpx.HTTPTransport` that checks every request's URL, resolves
its host and checks every address, and (unless `follow_redirects=True`) turns a redirect answer
into `RedirectRefused`; a client that follows redirects sends each hop through the transport,
so each is checked. Its connection pool's network backend is pinned: a new connection resolves
and checks again and connects to the checked address, while TLS still verifies and names the
host (httpcore passes the origin's host as `server_hostname`).

No proxy: the transport connects directly (a proxy would resolve the name itself).
"""

from __future__ import annotations

import ssl
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx

from connectors.egress.policy import EgressPolicy, RedirectRefused

_REDIRECTS = frozenset({301, 302, 303, 307, 308})


class _PinnedBackend(httpcore.SyncBackend):
    def __init__(self, policy: EgressPolicy) -> None:
        self._policy = policy

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        try:
            addresses = self._policy.addresses(host, port)
        except OSError as exc:
            raise httpcore.ConnectError(f"{host} does not resolve") from exc
        failure: Exception | None = None
        for address in addresses:
            try:
                return super().connect_tcp(
                    str(address), port, timeout, local_address, socket_options
                )
            except httpcore.ConnectTimeout:
                raise
            except httpcore.ConnectError as exc:
                failure = exc
        raise httpcore.ConnectError(f"could not connect to {host}") from failure


class EgressTransport(httpx.HTTPTransport):
    def __init__(
        self,
        policy: EgressPolicy,
        *,
        follow_redirects: bool = False,
        verify: ssl.SSLContext | str | bool = True,
        limits: httpx.Limits = httpx.Limits(max_connections=100, max_keepalive_connections=20),
    ) -> None:
        super().__init__(verify=verify, limits=limits)
        self.policy = policy
        self.follow_redirects = follow_redirects
        # httpx builds its pool without a way to pass a network backend; this is the same
        # pool with the pinned backend.
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(verify=verify),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_PinnedBackend(policy),
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        destination = self.policy.check_url(str(request.url))
        try:
            self.policy.addresses(destination.host, destination.port)
        except OSError as exc:
            raise httpx.ConnectError(
                f"{destination.host} does not resolve", request=request
            ) from exc
        response = super().handle_request(request)
        if response.status_code in _REDIRECTS and not self.follow_redirects:
            response.close()
            raise RedirectRefused(response.status_code)
        return response
