"""`Idempotency-Key` for POST: the same key and body replay the first response, never create twice.

Keys are scoped to the caller's token and only ever recorded for a known, unrevoked token: a
request with any other token passes straight through to the app, which answers 401, and
leaves nothing behind. A key reused with a different request is refused with 422; a key whose
first request is still running gets 409. After `limits.idempotency_key_hours` a key is new
again. An answer marked `Cache-Control: no-store` (a secret shown once) is not kept: the key
still stops a concurrent double, and a repeat afterwards gets 409 saying so.
"""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta
from typing import Any
from uuid import UUID

from anyio import to_thread
from sqlalchemy.engine import Engine
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.auth import service as auth_service
from app.db import session_scope
from app.idempotency import store
from app.settings import Settings

HEADER = b"idempotency-key"
MAX_KEY_LENGTH = 255
KEY_PATTERN = re.compile(rf"[\x21-\x7e]{{1,{MAX_KEY_LENGTH}}}")


class IdempotencyMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        raw_key = headers.get(HEADER)
        authorization = headers.get(b"authorization")
        if raw_key is None or authorization is None:
            await self.app(scope, receive, send)
            return
        engine: Engine = scope["app"].state.engine
        token_id = await to_thread.run_sync(_token_id, engine, authorization)
        if token_id is None:
            # Unknown or revoked: the app answers 401; nothing is recorded or replayed.
            await self.app(scope, receive, send)
            return
        key = raw_key.decode("latin-1")
        if not KEY_PATTERN.fullmatch(key):
            await _send(
                send,
                store.problem(
                    400,
                    "Bad request",
                    f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} visible ASCII characters",
                ),
            )
            return

        body = await _read_body(receive)
        fingerprint = hashlib.sha256(
            b"\n".join([scope["path"].encode(), scope.get("query_string", b""), body])
        ).hexdigest()
        settings: Settings = scope["app"].state.settings
        expiry = timedelta(hours=settings.limits.idempotency_key_hours)

        claim = await to_thread.run_sync(store.claim, engine, token_id, key, fingerprint, expiry)
        if claim is not None:
            await _send(send, claim)
            return

        captured: dict[str, Any] = {"body": b""}

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                captured["status"] = message["status"]
                captured["headers"] = message.get("headers", [])
            elif message["type"] == "http.response.body":
                captured["body"] += message.get("body", b"")
            await send(message)

        try:
            await self.app(scope, _replay(body), capture)
        finally:
            await to_thread.run_sync(store.finish, engine, token_id, key, captured)


def _token_id(engine: Engine, authorization: bytes) -> UUID | None:
    """The id of the bearer token, when it is known and not revoked."""
    scheme, _, plain = authorization.decode("latin-1").partition(" ")
    if scheme.lower() != "bearer" or not plain.strip():
        return None
    with session_scope(engine, read_only=True) as session:
        caller = auth_service.identify(session, plain)
    return caller.token_id if caller is not None else None


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    return receive


async def _send(send: Send, reply: store.Reply) -> None:
    headers = [
        (b"content-type", reply.content_type.encode()),
        (b"content-length", str(len(reply.body)).encode()),
    ]
    if reply.replayed:
        headers.append((b"idempotent-replayed", b"true"))
    await send({"type": "http.response.start", "status": reply.status, "headers": headers})
    await send({"type": "http.response.body", "body": reply.body})
