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


def encode_cursor(*key: datetime | UUID) -> str:
    """A cursor for a sort key of one or more times followed by a row id."""
    raw = json.dumps(
        [part.isoformat() if isinstance(part, datetime) else str(part) for part in key]
    )
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_key(cursor: str, times: int) -> tuple[list[datetime], UUID]:
    """The `times` zoned times and the row id an issued cursor holds; a 422 for anything else."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        *written, row_id = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if len(written) != times:
            raise ValueError("a cursor of another list")
        parsed = [datetime.fromisoformat(at) for at in written]
        if any(at.tzinfo is None for at in parsed):
            # Issued cursors always carry a zone; a naive one would reach the UTC column.
            raise ValueError("naive cursor time")
        return [at.astimezone(UTC) for at in parsed], UUID(row_id)
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


def decode_cursor(cursor: str) -> tuple[datetime, UUID]:
    [at], row_id = decode_key(cursor, times=1)
    return at, row_id


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
