"""Small helpers the three webhook parsers share: HMAC checks, body hashing, time parsing."""

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
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedPayload(f"not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise MalformedPayload("the body is not a JSON object")
    return data


def parse_time(value: Any) -> datetime:
    """ISO 8601 (with Z) or epoch milliseconds, always timezone-aware UTC."""
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value / 1000, tz=UTC)
    if not isinstance(value, str) or not value:
        raise MalformedPayload(f"not a timestamp: {value!r}")
    text = value.replace("Z", "+00:00")
    # Jira writes offsets without a colon: 2019-02-15T21:15:40.507+0000
    if len(text) > 5 and text[-5] in "+-" and text[-3] != ":":
        text = text[:-2] + ":" + text[-2:]
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise MalformedPayload(f"not a timestamp: {value!r}") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
