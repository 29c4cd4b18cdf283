"""Opaque, stable keyset cursors: (sort timestamp, id) of the last row seen."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Select, and_, or_
from sqlmodel import Session

from app.errors import InvalidInput, field_error


def encode_cursor(at: datetime, row_id: UUID) -> str:
    raw = json.dumps([at.isoformat(), str(row_id)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, UUID]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        at, row_id = json.loads(base64.urlsafe_b64decode(padded.encode()))
        when = datetime.fromisoformat(at)
        if when.tzinfo is None:
            # Issued cursors always carry a zone; a naive one would reach the UTC column.
            raise ValueError("naive cursor time")
        return when.astimezone(UTC), UUID(row_id)
    except (
        ValueError,
        TypeError,
        AttributeError,
        OverflowError,
        binascii.Error,
        json.JSONDecodeError,
    ) as exc:
        raise InvalidInput(
            "The cursor is not one this service issued; pass next_cursor back unchanged",
            errors=[field_error("query.cursor", "malformed cursor")],
        ) from exc


def paginate(
    session: Session,
    query: Select[Any],
    *,
    at_column: Any,
    id_column: Any,
    cursor: str | None,
    limit: int,
) -> tuple[list[Any], str | None]:
    """Newest first; the cursor resumes exactly after the last row returned."""
    if cursor:
        at, row_id = decode_cursor(cursor)
        query = query.where(or_(at_column < at, and_(at_column == at, id_column < row_id)))
    rows = list(
        session.execute(
            query.order_by(at_column.desc(), id_column.desc()).limit(limit + 1)
        ).scalars()
    )
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    last = rows[-1]
    return rows, encode_cursor(getattr(last, at_column.key), getattr(last, id_column.key))
