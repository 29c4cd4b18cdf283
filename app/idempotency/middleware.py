"""`Idempotency-Key` for POST: the same key and body replay the first response, never create twice.

Keys are scoped to the caller (a hash of the bearer token). A key reused with a different
request is refused with 422; a key whose first request is still running gets 409.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from anyio import to_thread
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, delete, select
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.db import session_scope, utcnow
from app.errors import PROBLEM_JSON
from app.idempotency.models import IdempotencyRecord

HEADER = b"idempotency-key"
MAX_KEY_LENGTH = 255
KEY_PATTERN = re.compile(rf"[\x21-\x7e]{{1,{MAX_KEY_LENGTH}}}")
# A first request that has not answered in this long is taken to have died with its process.
ABANDONED_AFTER = timedelta(minutes=2)


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    content_type: str = PROBLEM_JSON
    replayed: bool = False


def _problem(status: int, title: str, detail: str) -> Reply:
    body = {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
        "errors": [{"path": "header.Idempotency-Key", "message": detail}],
    }
    return Reply(status, json.dumps(body).encode())


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
        key = raw_key.decode("latin-1")
        if not KEY_PATTERN.fullmatch(key):
            await _send(
                send,
                _problem(
                    400,
                    "Bad request",
                    f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} visible ASCII characters",
                ),
            )
            return

        body = await _read_body(receive)
        caller = hashlib.sha256(authorization).hexdigest()
        fingerprint = hashlib.sha256(
            b"\n".join([scope["path"].encode(), scope.get("query_string", b""), body])
        ).hexdigest()
        engine: Engine = scope["app"].state.engine

        claim = await to_thread.run_sync(_claim, engine, caller, key, fingerprint)
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
            await to_thread.run_sync(_finish, engine, caller, key, captured)


def _claim(engine: Engine, caller: str, key: str, fingerprint: str) -> Reply | None:
    """Claim the key for this request, or return the response to send instead."""
    for _ in range(2):
        try:
            with session_scope(engine) as session:
                session.add(IdempotencyRecord(caller=caller, key=key, request_hash=fingerprint))
            return None
        except IntegrityError:
            pass
        with session_scope(engine) as session:
            record = _find(session, caller, key)
            if record is None:
                continue
            if record.request_hash != fingerprint:
                return _problem(
                    422,
                    "Invalid input",
                    "This Idempotency-Key was already used with a different request; use a new key",
                )
            if record.status_code is None:
                if utcnow() - record.created_at > ABANDONED_AFTER:
                    session.delete(record)
                    continue
                return _problem(
                    409,
                    "Conflict",
                    "A request with this Idempotency-Key is still being processed; retry shortly",
                )
            return Reply(
                record.status_code,
                record.body or b"",
                record.content_type or "application/json",
                replayed=True,
            )
    return _problem(409, "Conflict", "Could not claim this Idempotency-Key; retry")


def _finish(engine: Engine, caller: str, key: str, captured: dict[str, Any]) -> None:
    status = captured.get("status")
    with session_scope(engine) as session:
        if status is None or status >= 500:
            # Failed without a definite answer: free the key so the client can retry.
            session.execute(
                delete(IdempotencyRecord).where(
                    col(IdempotencyRecord.caller) == caller, col(IdempotencyRecord.key) == key
                )
            )
            return
        record = _find(session, caller, key)
        if record is None:
            return
        content_type = next(
            (v.decode("latin-1") for k, v in captured["headers"] if k.lower() == b"content-type"),
            None,
        )
        record.status_code = status
        record.content_type = content_type
        record.body = captured["body"]
        session.add(record)


def _find(session: Session, caller: str, key: str) -> IdempotencyRecord | None:
    return session.exec(
        select(IdempotencyRecord).where(
            IdempotencyRecord.caller == caller, IdempotencyRecord.key == key
        )
    ).first()


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


async def _send(send: Send, reply: Reply) -> None:
    headers = [
        (b"content-type", reply.content_type.encode()),
        (b"content-length", str(len(reply.body)).encode()),
    ]
    if reply.replayed:
        headers.append((b"idempotent-replayed", b"true"))
    await send({"type": "http.response.start", "status": reply.status, "headers": headers})
    await send({"type": "http.response.body", "body": reply.body})
