"""Reusable constrained types for API shapes."""

import re
from datetime import date, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BeforeValidator, Field, StringConstraints

Slug = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9._-]*$"
    ),
]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
ShortText = Annotated[str, StringConstraints(max_length=500)]
LongText = Annotated[str, StringConstraints(max_length=20_000)]
Label = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[^\s,]+$")
]


def _no_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value


NonBlankText = Annotated[str, StringConstraints(max_length=20_000), AfterValidator(_no_blank)]
Url = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=2000, pattern=r"^https?://\S+$"
    ),
]
Limit = Annotated[int, Field(ge=1, le=200)]

# Pydantic reads numbers, and strings of digits, as Unix times ("since=0.5" became 1970-01-01):
# every date and time the API accepts must be written out in ISO 8601 instead.
_ISO_DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _iso_date_time(value: object) -> object:
    if isinstance(value, datetime) or (isinstance(value, str) and _ISO_DATE_TIME.match(value)):
        return value
    raise ValueError(
        "must be an ISO-8601 date and time with a zone, such as 2026-03-01T14:05:00Z; "
        "numbers are not read as times"
    )


def _iso_date(value: object) -> object:
    if isinstance(value, date) or (isinstance(value, str) and _ISO_DATE.fullmatch(value)):
        return value
    raise ValueError("must be an ISO-8601 date such as 2026-03-01; numbers are not read as dates")


# A moment: an ISO-8601 string with a zone offset (or Z); never a number, never naive.
ZonedDateTime = Annotated[AwareDatetime, BeforeValidator(_iso_date_time)]
# A calendar day: YYYY-MM-DD, nothing else.
IsoDate = Annotated[date, BeforeValidator(_iso_date)]
