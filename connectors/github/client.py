"""The PyGithub client, with every request it sends going through the egress policy.

PyGithub opens its own `requests.Session` per connection object (`HTTPSRequestsConnectionClass`)
and offers no per-client way to mount an adapter: its only hook, `injectConnectionClasses`,
changes every client in the process and turns connection reuse off. So the connection classes
are set on this client's `Requester` instance instead (the attributes its name-mangled
`__connectionClass`, `__httpConnectionClass` and `__httpsConnectionClass` resolve to), with
subclasses that mount the policy's adapter on the session they create. PyGithub builds a new
Requester only for `withLazy`/`withAuth`/`withApiVersion`; the connector calls none of them (it
builds the client lazy, and `get_repo` without `lazy` keeps the same Requester).
"""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import urlsplit

from github import Auth, Github
from github.Requester import (
    HTTPRequestsConnectionClass,
    HTTPSRequestsConnectionClass,
    Requester,
)

from connectors.base import ConnectorConfig
from connectors.egress.policy import EgressPolicy
from connectors.egress.requests_adapter import mount

DEFAULT_BASE_URL = "https://api.github.com"


def _connection_classes(
    policy: EgressPolicy,
) -> tuple[type[HTTPRequestsConnectionClass], type[HTTPSRequestsConnectionClass]]:
    def through_policy(connection: Any) -> None:
        connection.adapter = mount(
            connection.session,
            policy,
            max_retries=connection.retry,
            pool_connections=connection.pool_size,
            pool_maxsize=connection.pool_size,
        )

    class EgressHTTPConnection(HTTPRequestsConnectionClass):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            through_policy(self)

    class EgressHTTPSConnection(HTTPSRequestsConnectionClass):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            through_policy(self)

    return EgressHTTPConnection, EgressHTTPSConnection


def _route_through(requester: Requester, policy: EgressPolicy, scheme: str) -> None:
    http, https = _connection_classes(policy)
    chosen = https if scheme == "https" else http
    for attribute, value in (
        ("_Requester__httpConnectionClass", http),
        ("_Requester__httpsConnectionClass", https),
        ("_Requester__connectionClass", chosen),
    ):
        setattr(requester, attribute, value)


def github_client(token: str, config: ConnectorConfig) -> Github:
    """A PyGithub client for `config.base_url` (github.com when None), retries off, every
    request checked by `config.egress`. Raises DestinationRefused for a refused base URL before
    anything is built."""
    base_url = (config.base_url or DEFAULT_BASE_URL).rstrip("/")
    destination = config.egress.check_url(base_url)
    client = Github(
        auth=Auth.Token(token),
        base_url=base_url,
        # PyGithub asserts an int here (a float such as the default 15.0 raises), so a
        # fractional timeout is rounded up to whole seconds.
        timeout=max(math.ceil(config.timeout), 1),
        # Its default GithubRetry resends POSTs on 5xx, which creates duplicate issues.
        retry=None,
        lazy=True,
        per_page=100,
        seconds_between_requests=config.options.get("seconds_between_requests", 0.25) or None,
        seconds_between_writes=config.options.get("seconds_between_writes", 1.0) or None,
    )
    _route_through(client.requester, config.egress, destination.scheme)
    return client


def web_host(base_url: str | None) -> str:
    """The host people browse issues on: github.com for the public API, the API host without
    its `api.` for GHE.com (`api.<sub>.ghe.com`), else the GHE Server host (`<host>/api/v3`)."""
    netloc = urlsplit((base_url or DEFAULT_BASE_URL).rstrip("/")).netloc.lower()
    if netloc == "api.github.com":
        return "github.com"
    return netloc.removeprefix("api.")
