"""Connection limits for `followthrough serve`: how long a client may take to send a request's
head, how long an idle keep-alive connection stays open, and how many connections are served
at once.

uvicorn closes idle keep-alive connections and can refuse requests past a concurrency limit
(503), but it has no deadline for reading a request's head: its keep-alive timer only starts
after an answer and stops at the first byte of the next request, so a client that sends half a
header line and stalls holds its connection, and a place under the cap, for as long as it
likes. The protocol classes here add that deadline to uvicorn's own (h11 and httptools); the
body's deadline is the request guard's (app/request_guard.py).
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

from app.settings import RequestLimits

try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # pragma: no cover - httptools is optional for uvicorn
    HttpToolsProtocol = None  # type: ignore[assignment, misc]


def _arm(protocol: Any) -> None:
    """Close the connection unless a new request's head is complete within the timeout.

    uvicorn starts a new cycle object when a head is complete, so "no new cycle since arming,
    and the last one has answered" means the connection is waiting for a head."""
    _disarm(protocol)
    if protocol.transport is None or protocol.transport.is_closing():
        return
    protocol._head_deadline = protocol.loop.call_later(
        protocol.header_timeout, _expire, protocol, protocol.cycle
    )


def _disarm(protocol: Any) -> None:
    handle: asyncio.TimerHandle | None = getattr(protocol, "_head_deadline", None)
    if handle is not None:
        handle.cancel()
    protocol._head_deadline = None


def _expire(protocol: Any, waiting_after: Any) -> None:
    protocol._head_deadline = None
    cycle = protocol.cycle
    waiting = cycle is waiting_after and (cycle is None or cycle.response_complete)
    if waiting and not protocol.transport.is_closing():
        protocol.transport.close()


class _HeadDeadline:
    """Arms the head deadline when a connection opens and after each answer; mixed into
    uvicorn's protocol classes, whose methods it extends."""

    header_timeout = 10.0

    def connection_made(self, transport: asyncio.Transport) -> None:
        super().connection_made(transport)  # type: ignore[misc]
        _arm(self)

    def on_response_complete(self) -> None:
        super().on_response_complete()  # type: ignore[misc]
        _arm(self)

    def connection_lost(self, exc: Exception | None) -> None:
        _disarm(self)
        super().connection_lost(exc)  # type: ignore[misc]


class H11WithHeadDeadline(_HeadDeadline, H11Protocol):  # type: ignore[misc]
    pass


if HttpToolsProtocol is not None:

    class HttpToolsWithHeadDeadline(_HeadDeadline, HttpToolsProtocol):  # type: ignore[misc]
        pass


PROTOCOLS: dict[str, type[asyncio.Protocol]] = {"h11": H11WithHeadDeadline}
if HttpToolsProtocol is not None:
    PROTOCOLS["httptools"] = HttpToolsWithHeadDeadline


def server_options(limits: RequestLimits, http: str | None = None) -> dict[str, Any]:
    """uvicorn Config options that apply `limits`; `http` picks the parser (default: httptools
    when installed, as uvicorn's own "auto" does)."""
    name = http or ("httptools" if "httptools" in PROTOCOLS else "h11")
    protocol = type(
        PROTOCOLS[name].__name__,
        (PROTOCOLS[name],),
        {"header_timeout": limits.header_timeout_seconds},
    )
    return {
        "http": protocol,
        "timeout_keep_alive": limits.keep_alive_seconds,
        # uvicorn counts the new connection itself: refusing at max + 1 serves `max` at once.
        "limit_concurrency": limits.max_connections + 1,
    }
