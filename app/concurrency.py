"""Optimistic concurrency: `If-Match` carries the version a client last saw."""

from __future__ import annotations

from app.errors import InvalidInput, PreconditionFailed, field_error


def etag(version: int) -> str:
    return f'"{version}"'


def check_if_match(if_match: str | None, current_version: int, what: str) -> None:
    """Refuse a write based on a stale read; no header means last write wins."""
    if if_match is None or if_match.strip() == "*":
        return
    raw = if_match.strip().removeprefix("W/").strip('"')
    try:
        expected = int(raw)
    except ValueError as exc:
        raise InvalidInput(
            'If-Match must be the ETag returned by a previous read, such as "3"',
            errors=[field_error("header.If-Match", "not an ETag this service issued")],
        ) from exc
    if expected != current_version:
        raise PreconditionFailed(
            f"The {what} changed since you read it (you have version {expected}, it is now "
            f"{current_version}); read it again and reapply your change",
            extra={"current_version": current_version},
        )
