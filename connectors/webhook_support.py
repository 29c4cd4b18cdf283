"""What the three webhook parsers share: HMAC checks, body hashing, and reading JSON whose
shape a hostile (but validly signed, or unsigned Jira) sender chose: anything unexpected
becomes MalformedPayload, never a TypeError from deep inside a parser."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any

from connectors.base import MalformedPayload


def hmac_sha256_hex(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signature_matches(expected_hex: str, given: str | None) -> bool:
    """Constant-time comparison of a hex digest with what the vendor sent."""
    if not given:
        return False
    return hmac.compare_digest(expected_hex.encode(), given.strip().lower().encode())


def body_hash(body: bytes) -> str:
    return "sha256:" + hashlib.sha256(body).hexdigest()


def load_json(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise MalformedPayload(f"not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise MalformedPayload("the body is not a JSON object")
    return data


def listed(value: Any, what: str) -> list[Any]:
    """A JSON array the payload may leave out (None or absent is empty); anything else that is
    not an array is malformed."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise MalformedPayload(f"`{what}` is not a list: {value!r:.80}")
    return value


def text_or_none(value: Any) -> str | None:
    """A non-empty string as it is; anything else (objects, numbers, null) as None."""
    return value if isinstance(value, str) and value else None


def parse_time(value: Any) -> datetime:
    """ISO 8601 (with Z) or epoch milliseconds, as timezone-aware UTC."""
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    if not is_number and not (isinstance(value, str) and value):
        raise MalformedPayload(f"not a timestamp: {value!r:.80}")
    try:
        if is_number:
            # NaN, infinities and far-off epochs raise ValueError/OverflowError/OSError.
            return datetime.fromtimestamp(value / 1000, tz=UTC)
        text = value.replace("Z", "+00:00")
        # Jira writes offsets without a colon: 2019-02-15T21:15:40.507+0000
        if len(text) > 5 and text[-5] in "+-" and text[-3] != ":":
            text = text[:-2] + ":" + text[-2:]
        parsed = datetime.fromisoformat(text)
        # astimezone can overflow at the ends of the calendar (0001-01-01T00:00+01:00).
        return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except (ValueError, OverflowError, OSError) as exc:
        raise MalformedPayload(f"not a timestamp: {value!r:.80}") from exc
