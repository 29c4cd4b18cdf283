"""Headers that keep API answers out of caches, frames and content sniffing.

Every answer gets `X-Content-Type-Options: nosniff`. An answer to a request that carried an
Authorization header gets `Cache-Control: no-store` unless the route chose its own caching.
JSON answers (JSON and problem+json) also get a Content-Security-Policy that allows nothing and
`Referrer-Policy: no-referrer`. HTML pages (the wall, /docs, /redoc) keep what they set
themselves, since they load their own scripts and styles.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

JSON_CSP = "default-src 'none'; frame-ancestors 'none'"


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        authenticated = any(name == b"authorization" for name, _ in scope["headers"])

        async def add_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", []))
                headers = MutableHeaders(raw=message["headers"])
                headers.setdefault("X-Content-Type-Options", "nosniff")
                if authenticated:
                    headers.setdefault("Cache-Control", "no-store")
                if _is_json(headers.get("content-type", "")):
                    headers.setdefault("Content-Security-Policy", JSON_CSP)
                    headers.setdefault("Referrer-Policy", "no-referrer")
            await send(message)

        await self.app(scope, receive, add_headers)


def _is_json(content_type: str) -> bool:
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or media_type.endswith("+json")
