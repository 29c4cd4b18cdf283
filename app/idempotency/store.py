"""The idempotency records: claim a key, keep the first answer, forget expired keys."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import UUID

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, delete, select

from app.db import session_scope, utcnow
from app.errors import PROBLEM_JSON
from app.idempotency.models import IdempotencyRecord

# A first request that has not answered in this long is taken to have died with its process.
ABANDONED_AFTER = timedelta(minutes=2)
# Expired records deleted per transaction, so that a purge never holds locks for long.
PURGE_BATCH = 500


@dataclass(frozen=True)
class Reply:
    """What to answer instead of running the request again."""

    status: int
    body: bytes
    content_type: str = PROBLEM_JSON
    replayed: bool = False


def problem(status: int, title: str, detail: str) -> Reply:
    body = {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
        "errors": [{"path": "header.Idempotency-Key", "message": detail}],
    }
    return Reply(status, json.dumps(body).encode())


def claim(
    engine: Engine, token_id: UUID, key: str, fingerprint: str, expiry: timedelta
) -> Reply | None:
    """Claim the key for this request, or return the answer to send instead."""
    for _ in range(3):
        try:
            with session_scope(engine) as session:
                session.add(IdempotencyRecord(token_id=token_id, key=key, request_hash=fingerprint))
            return None
        except IntegrityError:
            pass
        with session_scope(engine) as session:
            record = _find(session, token_id, key)
            if record is None:
                continue
            age = utcnow() - record.created_at
            if age > expiry or (record.status_code is None and age > ABANDONED_AFTER):
                # Expired (the key is new again) or its first request died: claim it afresh.
                session.delete(record)
                continue
            if record.request_hash != fingerprint:
                return problem(
                    422,
                    "Invalid input",
                    "This Idempotency-Key was already used with a different request; use a new key",
                )
            if record.status_code is None:
                return problem(
                    409,
                    "Conflict",
                    "A request with this Idempotency-Key is still being processed; retry shortly",
                )
            if record.withheld:
                return problem(
                    409,
                    "Conflict",
                    f"The first request with this Idempotency-Key was answered with status "
                    f"{record.status_code}, but that answer was marked Cache-Control: no-store "
                    "(it may hold a secret shown once) and is not kept, so it cannot be "
                    "replayed; nothing was done again. Send a new key to make the call again.",
                )
            return Reply(
                record.status_code,
                record.body or b"",
                record.content_type or "application/json",
                replayed=True,
            )
    return problem(409, "Conflict", "Could not claim this Idempotency-Key; retry")


def finish(engine: Engine, token_id: UUID, key: str, captured: dict[str, Any]) -> None:
    """Keep the answer for repeats; free the key when there was no definite answer."""
    status = captured.get("status")
    with session_scope(engine) as session:
        if status is None or status >= 500:
            # Failed without a definite answer: free the key so the client can retry.
            session.execute(
                delete(IdempotencyRecord).where(
                    col(IdempotencyRecord.token_id) == token_id,
                    col(IdempotencyRecord.key) == key,
                )
            )
            return
        record = _find(session, token_id, key)
        if record is None:
            return
        headers = [(k.lower(), v.decode("latin-1")) for k, v in captured["headers"]]
        record.status_code = status
        if any(k == b"cache-control" and "no-store" in v.lower() for k, v in headers):
            record.withheld = True
        else:
            record.content_type = next((v for k, v in headers if k == b"content-type"), None)
            record.body = captured["body"]
        session.add(record)


def purge_expired(engine: Engine, expiry: timedelta) -> int:
    """Delete records older than `expiry`, a batch per transaction; returns how many."""
    cutoff = utcnow() - expiry
    total = 0
    while True:
        with session_scope(engine) as session:
            ids = session.exec(
                select(IdempotencyRecord.id)
                .where(col(IdempotencyRecord.created_at) < cutoff)
                .order_by(col(IdempotencyRecord.created_at))
                .limit(PURGE_BATCH)
            ).all()
            if ids:
                session.execute(delete(IdempotencyRecord).where(col(IdempotencyRecord.id).in_(ids)))
        total += len(ids)
        if len(ids) < PURGE_BATCH:
            return total


def _find(session: Session, token_id: UUID, key: str) -> IdempotencyRecord | None:
    return session.exec(
        select(IdempotencyRecord).where(
            IdempotencyRecord.token_id == token_id, IdempotencyRecord.key == key
        )
    ).first()
