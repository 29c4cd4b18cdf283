"""Importing an incident channel into the timeline: a Slack export, or plain `HH:MM text` lines.

Each message keeps the time it was written (as both `at` and `written_at`) and its author, so a
timeline imported the day after still reads as written during the incident. Structural faults
in the body are a 422 naming where; a message that simply is not a note (a channel join, a bot,
an empty text, a duplicate) is skipped and reported with the reason. An import that would take
the timeline past its cap is refused whole (409), never cut short.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlmodel import Session, col, select

from app.enums import TimelineKind
from app.errors import InvalidInput, PayloadTooLarge, field_error
from app.postmortems.models import Postmortem
from app.timeline import service as timeline_service
from app.timeline.models import TimelineEntry, TimelineEntryRevision
from app.timeline.schemas import (
    TimelineEntryCreate,
    TimelineImportFormat,
    TimelineImportSkip,
    TimelineSource,
)

MAX_IMPORT_ENTRIES = 5000
EXCERPT_CHARS = 120

# Slack subtypes that are channel housekeeping rather than something a responder wrote.
# https://api.slack.com/events/message#subtypes
HOUSEKEEPING_SUBTYPES = frozenset(
    {
        "channel_join",
        "channel_leave",
        "group_join",
        "group_leave",
        "channel_topic",
        "channel_purpose",
        "channel_name",
        "channel_archive",
        "channel_unarchive",
        "group_topic",
        "group_purpose",
        "group_name",
        "group_archive",
        "group_unarchive",
        "channel_convert_to_private",
        "channel_convert_to_public",
        "pinned_item",
        "unpinned_item",
        "bot_add",
        "bot_remove",
        "reminder_add",
        "tombstone",
        "message_deleted",
        "message_changed",
        "huddle_thread",
    }
)
SLACK_TS = r"^\d{1,11}(\.\d{1,6})?$"

_LINE = re.compile(
    r"^\[?(?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<second>\d{2}))?\]?\s+(?:-\s+)?(?P<rest>\S.*)$"
)
# "Bob: paged the on-call", "Carol Smith: ...": up to three words, then a colon and a space.
_NAMED = re.compile(r"^(?P<name>[\w.'@-]+(?: [\w.'@-]+){0,2}):\s+(?P<text>\S.*)$")
# A line earlier than the one before by more than this has crossed midnight.
_MIDNIGHT = timedelta(hours=12)


class SlackProfile(BaseModel):
    model_config = ConfigDict(extra="ignore")
    real_name: str | None = None
    display_name: str | None = None


class SlackBotProfile(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: str | None = None


class SlackMessage(BaseModel):
    """The fields of a Slack export message we read; every other field is ignored."""

    model_config = ConfigDict(extra="ignore")
    ts: str = Field(pattern=SLACK_TS, description='Epoch seconds, e.g. "1730538241.000200"')
    type: str | None = None
    subtype: str | None = None
    user: str | None = None
    username: str | None = None
    user_profile: SlackProfile | None = None
    bot_id: str | None = None
    bot_profile: SlackBotProfile | None = None
    text: str | None = None
    thread_ts: str | None = None


@dataclass(frozen=True)
class ImportOptions:
    format: TimelineImportFormat
    timezone: str = "UTC"
    on: date | None = None
    default_author: str | None = None
    kind: TimelineKind = TimelineKind.OBSERVATION
    include_bots: bool = False


@dataclass(frozen=True)
class Candidate:
    path: str
    at: datetime
    author: str | None
    text: str


@dataclass
class ImportResult:
    format: TimelineImportFormat
    entries: list[TimelineEntry]
    duplicates: int
    skipped: list[TimelineImportSkip]


def _skip(path: str, reason: str, excerpt: str) -> TimelineImportSkip:
    excerpt = excerpt.strip()
    if len(excerpt) > EXCERPT_CHARS:
        excerpt = excerpt[: EXCERPT_CHARS - 1] + "…"
    return TimelineImportSkip(path=path, reason=reason, excerpt=excerpt)


def _too_many(count: int, what: str) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"An import holds at most {MAX_IMPORT_ENTRIES} {what}; this one has {count}: split it"
    )


# --- Slack --------------------------------------------------------------------------------


def _slack_time(ts: str) -> datetime:
    # Whole and fractional parts apart, not a float: "1730538241.000200" keeps its microseconds.
    whole, _, fraction = ts.partition(".")
    return datetime.fromtimestamp(int(whole), UTC).replace(microsecond=int(fraction.ljust(6, "0")))


def _slack_text(text: str) -> str:
    # Slack escapes only these three in message text.
    # https://api.slack.com/reference/surfaces/formatting#escaping
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _slack_messages(body: bytes) -> tuple[list[Any], str]:
    """The list of messages and the path it sits at: a day file of an export is a list; a
    `conversations.history` answer is an object with `messages`."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise InvalidInput(
            "A Slack import takes the export's JSON: a list of messages",
            errors=[field_error("body", f"not JSON: {exc}")],
        ) from None
    if isinstance(data, dict) and isinstance(data.get("messages"), list):
        return data["messages"], "body.messages"
    if not isinstance(data, list):
        raise InvalidInput(
            "A Slack import takes the export's JSON: a list of messages",
            errors=[field_error("body", 'expected a list of messages (or {"messages": [...]})')],
        )
    return data, "body"


def parse_slack(
    body: bytes, options: ImportOptions
) -> tuple[list[Candidate], list[TimelineImportSkip]]:
    raw, where = _slack_messages(body)
    if len(raw) > MAX_IMPORT_ENTRIES:
        raise _too_many(len(raw), "messages")
    errors = []
    messages: list[tuple[str, SlackMessage]] = []
    for index, item in enumerate(raw):
        path = f"{where}[{index}]"
        if not isinstance(item, dict):
            errors.append(field_error(path, "expected a message object"))
            continue
        try:
            messages.append((path, SlackMessage.model_validate(item)))
        except ValidationError as exc:
            errors.extend(
                field_error(".".join([path, *map(str, e["loc"])]), e["msg"]) for e in exc.errors()
            )
    if errors:
        raise InvalidInput(
            f"{len(errors)} problem(s) in the Slack export; nothing was imported", errors=errors
        )
    candidates: list[Candidate] = []
    skipped: list[TimelineImportSkip] = []
    for path, message in messages:
        text = _slack_text(message.text or "")
        if message.type not in (None, "message"):
            skipped.append(_skip(path, f"not a message (type {message.type!r})", text))
        elif message.subtype in HOUSEKEEPING_SUBTYPES:
            skipped.append(_skip(path, f"channel housekeeping ({message.subtype})", text))
        elif (message.subtype == "bot_message" or message.bot_id) and not options.include_bots:
            skipped.append(_skip(path, "posted by a bot (include_bots=true keeps these)", text))
        elif not text.strip():
            skipped.append(_skip(path, "no text", ""))
        else:
            profile = message.user_profile or SlackProfile()
            bot = message.bot_profile or SlackBotProfile()
            author = next(
                (
                    name
                    for name in (
                        profile.real_name,
                        profile.display_name,
                        message.username,
                        bot.name,
                        message.user,
                    )
                    if name and name.strip()
                ),
                None,
            )
            candidates.append(Candidate(path, _slack_time(message.ts), author, text))
    return candidates, skipped


# --- lines --------------------------------------------------------------------------------


def _decode_lines(body: bytes) -> list[str]:
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput(
            "A lines import takes UTF-8 text, one `HH:MM text` per line",
            errors=[field_error("body", f"not UTF-8 text: {exc}")],
        ) from None
    return text.splitlines()


def parse_lines(
    body: bytes, options: ImportOptions, zone: ZoneInfo, day: date
) -> tuple[list[Candidate], list[TimelineImportSkip]]:
    lines = _decode_lines(body)
    count = sum(1 for line in lines if line.strip())
    if count > MAX_IMPORT_ENTRIES:
        raise _too_many(count, "lines")
    candidates: list[Candidate] = []
    skipped: list[TimelineImportSkip] = []
    previous: datetime | None = None
    for number, line in enumerate(lines, start=1):
        path = f"line {number}"
        if not line.strip():
            continue
        match = _LINE.match(line.strip())
        if match is None:
            skipped.append(_skip(path, "does not start with a time (HH:MM or HH:MM:SS)", line))
            continue
        hour, minute = int(match["hour"]), int(match["minute"])
        second = int(match["second"] or 0)
        if hour > 23 or minute > 59 or second > 59:
            skipped.append(_skip(path, "not a time of day", line))
            continue
        try:
            local = datetime.combine(day, time(hour, minute, second), tzinfo=zone)
            # Notes run forward: a time far earlier than the last one is the next day.
            while previous is not None and local < previous - _MIDNIGHT:
                day += timedelta(days=1)
                local = datetime.combine(day, time(hour, minute, second), tzinfo=zone)
            at = local.astimezone(UTC)
        except OverflowError:
            skipped.append(_skip(path, "outside the dates a timeline can hold", line))
            continue
        previous = local
        named = _NAMED.match(match["rest"])
        author, text = (named["name"], named["text"]) if named else (None, match["rest"])
        candidates.append(Candidate(path, at, author, text))
    return candidates, skipped


# --- storing ------------------------------------------------------------------------------


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise InvalidInput(
            f"Unknown time zone {name!r}",
            errors=[field_error("query.timezone", "not an IANA time zone name, e.g. Europe/Paris")],
        ) from None


def _known(
    session: Session, postmortem_id: UUID, times: list[datetime]
) -> set[tuple[datetime, str, str]]:
    """(written_at, author, text) of entries already in the timeline over the import's span,
    their earlier versions included: an entry tidied up since is not imported again."""
    if not times:
        return set()
    in_span = (
        col(TimelineEntry.postmortem_id) == postmortem_id,
        col(TimelineEntry.written_at) >= min(times),
        col(TimelineEntry.written_at) <= max(times),
    )
    current = session.exec(
        select(TimelineEntry.written_at, TimelineEntry.author, TimelineEntry.text).where(*in_span)
    )
    earlier = session.exec(
        select(TimelineEntry.written_at, TimelineEntryRevision.author, TimelineEntryRevision.text)
        .join(TimelineEntryRevision, col(TimelineEntryRevision.entry_id) == TimelineEntry.id)
        .where(*in_span)
    )
    return {(w, a, t) for w, a, t in [*current, *earlier] if w is not None}


def _reason(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())


def import_messages(
    session: Session,
    postmortem: Postmortem,
    body: bytes,
    options: ImportOptions,
    *,
    cap: int | None = None,
) -> ImportResult:
    """Add a channel's messages to the timeline, each with the time it was written and its
    author, marked as imported. Messages already in the timeline with the same written time,
    author and text (or twice in the body) are counted as duplicates and not added again.

    With `cap` (the most entries a timeline holds), an import whose new entries would take the
    timeline past it is refused whole with a 409 and nothing is added: cutting a channel at an
    arbitrary message would drop the end of the incident without anyone choosing what to keep.
    Duplicates and skipped messages take no room."""
    if options.format is TimelineImportFormat.SLACK:
        candidates, skipped = parse_slack(body, options)
    else:
        zone = _zone(options.timezone)
        day = options.on or postmortem.started_at.astimezone(zone).date()
        candidates, skipped = parse_lines(body, options, zone, day)
    known = _known(session, postmortem.id, [c.at for c in candidates])
    seen: dict[tuple[datetime, str, str], str] = {}
    entries: list[TimelineEntry] = []
    duplicates = 0
    for candidate in candidates:
        author = candidate.author or options.default_author
        if author is None:
            skipped.append(
                _skip(
                    candidate.path,
                    "names no author and no default_author was given",
                    candidate.text,
                )
            )
            continue
        try:
            data = TimelineEntryCreate(
                at=candidate.at,
                written_at=candidate.at,
                author=author,
                kind=options.kind,
                text=candidate.text,
            )
        except ValidationError as exc:
            skipped.append(_skip(candidate.path, _reason(exc), candidate.text))
            continue
        key = (candidate.at, data.author, data.text)
        if key in known or key in seen:
            duplicates += 1
            reason = (
                "duplicate of an entry already in the timeline"
                if key in known
                else f"duplicate of {seen[key]} in this import"
            )
            skipped.append(_skip(candidate.path, reason, data.text))
            continue
        seen[key] = candidate.path
        entries.append(timeline_service.new_entry(postmortem, data, source=TimelineSource.IMPORT))
    if cap is not None:
        timeline_service.ensure_room(session, postmortem, len(entries), cap)
    session.add_all(entries)
    session.flush()
    skipped.sort(key=_position)
    entries.sort(key=lambda e: (e.at, e.id))
    return ImportResult(options.format, entries, duplicates, skipped)


def _position(skip: TimelineImportSkip) -> int:
    digits = re.findall(r"\d+", skip.path)
    return int(digits[-1]) if digits else -1
