"""Slow down token guessing: too many 401 answers to one client address in a window and that
address gets 429 with Retry-After, without reaching the app or the database, until the window
has passed.

Counted in memory, per process: with several API processes each counts its own failures, so an
address may try up to (processes x limit) times per window. Behind a reverse proxy, the client
address is the proxy's unless uvicorn is told to trust its X-Forwarded-For (FORWARDED_ALLOW_IPS).

Webhook deliveries (/v1/webhooks/...) that fail their signature check do not count: they come
from the trackers' shared sending addresses, so one integration with a stale secret would
otherwise lock out every other integration's deliveries, and an HMAC secret cannot be guessed
by trying anyway. Requests from a throttled address are refused on every path, webhooks
included.
"""

from __future__ import annotations

import json
import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import PROBLEM_JSON
from app.settings import RequestLimits

UNCOUNTED_PREFIXES = ("/v1/webhooks/",)


class FailureCounter:
    """Recent failure times per address, for at most `max_addresses` addresses."""

    def __init__(self, allowed: int, window: float, max_addresses: int) -> None:
        self.allowed = allowed
        self.window = window
        self.max_addresses = max_addresses
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def blocked_for(self, address: str, now: float) -> float:
        """Seconds until `address` may try again; 0 when it may try now."""
        failures = self._failures.get(address)
        if failures is None:
            return 0.0
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        if not failures:
            del self._failures[address]
            return 0.0
        if len(failures) < self.allowed:
            return 0.0
        return failures[-self.allowed] + self.window - now

    def record(self, address: str, now: float) -> None:
        failures = self._failures.setdefault(address, deque(maxlen=self.allowed))
        failures.append(now)
        self._failures.move_to_end(address)
        while len(self._failures) > self.max_addresses:
            # The address seen longest ago is forgotten first.
            self._failures.popitem(last=False)


class AuthFailureThrottle:
    def __init__(
        self,
        app: ASGIApp,
        limits: RequestLimits,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app = app
        self.clock = clock
        self.counter = FailureCounter(
            limits.auth_failures_allowed,
            limits.auth_failure_window_seconds,
            limits.auth_failure_addresses,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = scope.get("client")
        if scope["type"] != "http" or not client:
            await self.app(scope, receive, send)
            return
        address = str(client[0])
        wait = self.counter.blocked_for(address, self.clock())
        if wait > 0:
            await _too_many(scope, send, math.ceil(wait))
            return
        if scope["path"].startswith(UNCOUNTED_PREFIXES):
            await self.app(scope, receive, send)
            return

        async def watch(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 401:
                self.counter.record(address, self.clock())
            await send(message)

        await self.app(scope, receive, watch)


async def _too_many(scope: Scope, send: Send, retry_after: int) -> None:
    detail = f"Too many failed authentication attempts from this address; retry in {retry_after} s"
    body = json.dumps(
        {
            "type": "about:blank",
            "title": "Too many requests",
            "status": 429,
            "detail": detail,
            "instance": scope["path"],
        }
    ).encode()
    headers = [
        (b"content-type", PROBLEM_JSON.encode()),
        (b"content-length", str(len(body)).encode()),
        (b"retry-after", str(retry_after).encode()),
    ]
    await send({"type": "http.response.start", "status": 429, "headers": headers})
    await send({"type": "http.response.body", "body": body})
