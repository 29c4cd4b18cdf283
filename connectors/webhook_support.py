"""What the three webhook parsers share: HMAC checks, body hashing, and reading JSON whose
shape a hostile (but validly signed, or unsigned Jira) sender chose.

A body is read in two steps. `load_json` refuses, before `json.loads` runs, a body nested
deeper than MAX_DEPTH (a byte scan: a deep body would otherwise cost the parser's recursion,
and later every walker's) and afterwards one with an unpaired UTF-16 surrogate escape (no
database can store the string it decodes to). `read` then checks the fields a parser uses
against its pydantic model (`connectors/<kind>/payloads.py`): fields we do not read are
ignored, and a field of the wrong type is a PayloadShapeError naming its path
(`body.issue.labels`, `body.changelog.items[2].to`), never a TypeError from deep inside a parser.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from datetime import UTC, date, datetime
from itertools import accumulate
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from connectors.base import MalformedPayload

MAX_DEPTH = 64


class PayloadShapeError(MalformedPayload):
    """A body of the wrong shape, with each problem's path (`body.issue.labels`, `body.changelog.items[2].to`) and why."""

    def __init__(self, errors: list[dict[str, str]]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{e['path']}: {e['message']}" for e in errors))


def shape_error(path: str, message: str) -> PayloadShapeError:
    return PayloadShapeError([{"path": path, "message": message}])


def hmac_sha256_hex(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signature_matches(expected_hex: str, given: str | None) -> bool:
    """Constant-time comparison of a hex digest with what the vendor sent."""
    if not given:
        return False
    return hmac.compare_digest(expected_hex.encode(), given.strip().lower().encode())


def body_hash(body: bytes) -> str:
    return "sha256:" + hashlib.sha256(body).hexdigest()


# -- reading JSON ---------------------------------------------------------------------------------

_ESCAPE = re.compile(rb"\\.", re.DOTALL)
_STRING = re.compile(rb'"[^"]*"')
_NOT_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")
_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}
# A \uD800-\uDBFF escape not followed by a \uDC00-\uDFFF one, or the reverse, after an even
# number of backslashes (an odd number makes the first one part of an escaped backslash).
_LONE_SURROGATE = re.compile(
    rb"(?:^|[^\\])(?:\\\\)*(?:\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F][0-9a-fA-F]{2})"
    rb"|(?<!\\u[dD][89abAB][0-9a-fA-F]{2})\\u[dD][c-fC-F][0-9a-fA-F]{2})"
)


def nesting_depth(body: bytes) -> int:
    """How deep the body's arrays and objects nest, counted on the bytes (strings skipped)
    without parsing; at most the number of opening brackets, which is the cheap answer."""
    openers = body.count(b"[") + body.count(b"{")
    if openers <= MAX_DEPTH:
        return openers
    bare = _STRING.sub(b"", _ESCAPE.sub(b"", body)).translate(None, _NOT_BRACKET)
    return max(accumulate(map(_STEP.__getitem__, bare)), default=0)


def load_json(body: bytes) -> dict[str, Any]:
    """The body as a JSON object; MalformedPayload when it is not one, is nested deeper than
    MAX_DEPTH, or holds a string no database can store."""
    if nesting_depth(body) > MAX_DEPTH:
        raise shape_error("body", f"JSON nested deeper than {MAX_DEPTH} levels")
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise shape_error("body", f"not JSON: {str(exc)[:200]}") from None
    if not isinstance(data, dict):
        raise shape_error("body", "not a JSON object")
    # The scan only where a surrogate escape could be: it costs ~0.5 ms on a 10 KB body.
    if (b"\\ud" in body or b"\\uD" in body) and _LONE_SURROGATE.search(body):
        raise shape_error("body", "a string holds an unpaired UTF-16 surrogate escape")
    return data


# -- payload models -------------------------------------------------------------------------------


class Payload(BaseModel):
    """A vendor payload's fields that a parser reads; everything else is ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True, hide_input_in_errors=True)


M = TypeVar("M", bound=Payload)


def read(model: type[M], data: Any) -> M:
    """`data` as `model`; PayloadShapeError naming each wrongly shaped field's path."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = exc.errors(include_url=False, include_input=False, include_context=False)
        raise PayloadShapeError(
            [{"path": _path(error["loc"]), "message": error["msg"]} for error in problems[:10]]
        ) from None


def _path(loc: tuple[int | str, ...]) -> str:
    """('issue', 'labels', 0, 'name') -> 'body.issue.labels[0].name', as 422 answers say it."""
    return "body" + "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc)


def parse_time(value: Any) -> datetime:
    """ISO 8601 (with Z) or epoch milliseconds, as timezone-aware UTC; MalformedPayload for
    anything else, NaN, infinities and times outside years 1 to 9999."""
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


def parse_date(value: Any) -> date | None:
    """A due date (`2026-04-01`, or the date part of a time); None for null or empty."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise MalformedPayload(f"not a date: {value!r:.80}")
    try:
        return date.fromisoformat(value[:10])
    except ValueError as exc:
        raise MalformedPayload(f"not a date: {value!r:.80}") from exc


def _time(value: Any) -> datetime | None:
    return None if value is None else parse_time(value)


# Who did something (a login, an account id, a name): kept with the item's history in columns
# of 200 characters, far beyond any vendor's own limit (GitHub logins are at most 39).
Account = Annotated[str, Field(max_length=200)]
# A vendor time field: null, or a time parse_time reads (never NaN or past year 9999).
VendorTime = Annotated[datetime | None, BeforeValidator(_time)]
# A vendor date field: null or empty, or an ISO date.
VendorDate = Annotated[date | None, BeforeValidator(parse_date)]


def text_or_none(value: Any) -> str | None:
    """A non-empty string as it is; anything else (null, "") as None."""
    return value if isinstance(value, str) and value else None
