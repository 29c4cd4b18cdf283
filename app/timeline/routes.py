from datetime import timedelta
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request, Response

from app.auth.deps import Reader, Writer
from app.db import SessionDep
from app.enums import TimelineKind
from app.postmortems import service as postmortems_service
from app.settings import SettingsDep
from app.timeline import imports as timeline_imports
from app.timeline import service as timeline_service
from app.timeline.schemas import (
    DecisionPointCreate,
    DecisionPointList,
    DecisionPointRead,
    DecisionPointUpdate,
    TimelineEntryCreate,
    TimelineEntryHistory,
    TimelineEntryRead,
    TimelineEntryUpdate,
    TimelineImportFormat,
    TimelineImportRead,
    TimelineList,
)
from app.validation import IsoDate, Limit, Name

router = APIRouter(prefix="/v1/postmortems/{postmortem_id}", tags=["timeline"])


@router.post("/timeline", status_code=201, response_model=TimelineEntryRead)
def add_timeline_entry(
    postmortem_id: UUID,
    data: TimelineEntryCreate,
    session: SessionDep,
    _: Writer,
    settings: SettingsDep,
) -> TimelineEntryRead:
    """Add a timeline entry. `recorded_at` is set by the server; `written_at`, when the note was
    written (never later than it reaches us), may be given. The two tell a timeline written
    during the incident from one reconstructed afterwards. A timeline holds at most
    `max_timeline_entries` entries (2000 by default): past that the answer is 409, naming the
    cap and the setting that raises it."""
    # Locked, so that two adds cannot both take the timeline's last place.
    postmortem = postmortems_service.get(session, postmortem_id, for_update=True)
    entry = timeline_service.add_entry(session, postmortem, data, cap=settings.max_timeline_entries)
    return timeline_service.entry_read(entry, postmortem, _grace(settings))


@router.get("/timeline", response_model=TimelineList)
def list_timeline(
    postmortem_id: UUID,
    session: SessionDep,
    _: Reader,
    settings: SettingsDep,
    cursor: str | None = None,
    limit: Limit = 50,
) -> TimelineList:
    """The timeline in incident order (by `at`; entries for the same moment in the order they
    arrived), a page at a time: pass `next_cursor` back as `cursor` for the next page."""
    postmortem = postmortems_service.get(session, postmortem_id)
    grace = _grace(settings)
    rows, next_cursor = timeline_service.page(session, postmortem_id, cursor=cursor, limit=limit)
    return TimelineList(
        items=[timeline_service.entry_read(e, postmortem, grace) for e in rows],
        next_cursor=next_cursor,
    )


async def _raw_body(request: Request) -> bytes:
    # The export is taken as it is (JSON or text, by `format`), so the body is read raw.
    return await request.body()


_SLACK_EXPORT_SCHEMA = {
    "type": "array",
    "maxItems": timeline_imports.MAX_IMPORT_ENTRIES,
    "items": {
        "type": "object",
        "required": ["ts"],
        "properties": {
            "ts": {"type": "string", "pattern": timeline_imports.SLACK_TS},
            "user": {"type": "string"},
            "username": {"type": "string"},
            "user_profile": {"type": "object", "properties": {"real_name": {"type": "string"}}},
            "text": {"type": "string"},
            "subtype": {"type": "string"},
            "bot_id": {"type": "string"},
            "thread_ts": {"type": "string"},
        },
    },
}


@router.post(
    "/timeline/import",
    response_model=TimelineImportRead,
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "`format=slack`: a day file of a Slack export (a list of messages) "
            'or a `conversations.history` answer (`{"messages": [...]}`). `format=lines`: UTF-8 '
            "text, one `HH:MM text`, `HH:MM:SS text` or `HH:MM name: text` per line.",
            "content": {
                "application/json": {"schema": _SLACK_EXPORT_SCHEMA},
                "text/plain": {"schema": {"type": "string"}},
            },
        }
    },
)
def import_timeline(
    postmortem_id: UUID,
    session: SessionDep,
    _: Writer,
    settings: SettingsDep,
    body: Annotated[bytes, Depends(_raw_body)],
    import_format: Annotated[TimelineImportFormat, Query(alias="format")],
    timezone: Annotated[
        str, Query(max_length=64, description="IANA zone the `lines` times are in")
    ] = "UTC",
    on: Annotated[
        IsoDate | None,
        Query(alias="date", description="Day of the `lines` times; default the incident's start"),
    ] = None,
    default_author: Annotated[
        Name | None, Query(description="Author of messages and lines that name none")
    ] = None,
    kind: TimelineKind = TimelineKind.OBSERVATION,
    include_bots: Annotated[bool, Query(description="Keep Slack messages posted by bots")] = False,
) -> TimelineImportRead:
    """Import an incident channel's messages as timeline entries, each with the time it was
    written (`at` and `written_at`) and its author, marked `source: "import"`. Importing the same
    messages again adds nothing: a message with the same written time, author and text is a
    duplicate. Messages that are not notes (joins, bots, empty, unreadable lines) are skipped
    and listed with the reason; a body that is not what `format` says is a 422 naming where.
    An import whose new entries would take the timeline past `max_timeline_entries` is refused
    whole with 409 (nothing is added); duplicates and skipped messages take no room."""
    postmortem = postmortems_service.get(session, postmortem_id, for_update=True)
    options = timeline_imports.ImportOptions(
        format=import_format,
        timezone=timezone,
        on=on,
        default_author=default_author,
        kind=kind,
        include_bots=include_bots,
    )
    result = timeline_imports.import_messages(
        session, postmortem, body, options, cap=settings.max_timeline_entries
    )
    grace = _grace(settings)
    return TimelineImportRead(
        format=result.format,
        imported=len(result.entries),
        duplicates=result.duplicates,
        skipped=result.skipped,
        items=[timeline_service.entry_read(e, postmortem, grace) for e in result.entries],
    )


@router.get("/timeline/{entry_id}", response_model=TimelineEntryRead)
def get_timeline_entry(
    postmortem_id: UUID, entry_id: UUID, session: SessionDep, _: Reader, settings: SettingsDep
) -> TimelineEntryRead:
    """One timeline entry as it reads now."""
    postmortem = postmortems_service.get(session, postmortem_id)
    entry = timeline_service.get_entry(session, postmortem_id, entry_id)
    return timeline_service.entry_read(entry, postmortem, _grace(settings))


@router.patch("/timeline/{entry_id}", response_model=TimelineEntryRead)
def edit_timeline_entry(
    postmortem_id: UUID,
    entry_id: UUID,
    data: TimelineEntryUpdate,
    session: SessionDep,
    caller: Writer,
    settings: SettingsDep,
) -> TimelineEntryRead:
    """Edit an entry; the version it replaces is kept (see `/history`). Entries cannot be deleted."""
    postmortem = postmortems_service.get(session, postmortem_id)
    entry = timeline_service.edit_entry(session, postmortem_id, entry_id, data, caller)
    return timeline_service.entry_read(entry, postmortem, _grace(settings))


@router.get("/timeline/{entry_id}/history", response_model=TimelineEntryHistory)
def timeline_entry_history(
    postmortem_id: UUID, entry_id: UUID, session: SessionDep, _: Reader
) -> TimelineEntryHistory:
    """Every version of an entry, oldest first."""
    return TimelineEntryHistory(
        entry_id=entry_id, versions=timeline_service.entry_history(session, postmortem_id, entry_id)
    )


@router.post("/decision-points", status_code=201, response_model=DecisionPointRead)
def add_decision_point(
    postmortem_id: UUID, data: DecisionPointCreate, session: SessionDep, _: Writer
) -> DecisionPointRead:
    """Record a responder decision point: what they knew, were unsure of, and what would have helped."""
    postmortem = postmortems_service.get(session, postmortem_id)
    point = timeline_service.add_decision_point(session, postmortem, data)
    return timeline_service.decision_point_read(
        point, timeline_service.first_alert_at(session, postmortem)
    )


@router.get("/decision-points", response_model=DecisionPointList)
def list_decision_points(postmortem_id: UUID, session: SessionDep, _: Reader) -> DecisionPointList:
    """The responder timeline, with minutes from the first alert to each decision."""
    postmortem = postmortems_service.get(session, postmortem_id)
    alert_at = timeline_service.first_alert_at(session, postmortem)
    points = timeline_service.decision_points(session, postmortem_id)
    return DecisionPointList(
        items=[timeline_service.decision_point_read(p, alert_at) for p in points]
    )


@router.patch("/decision-points/{point_id}", response_model=DecisionPointRead)
def edit_decision_point(
    postmortem_id: UUID, point_id: UUID, data: DecisionPointUpdate, session: SessionDep, _: Writer
) -> DecisionPointRead:
    """Change a decision point."""
    postmortem = postmortems_service.get(session, postmortem_id)
    point = timeline_service.edit_decision_point(session, postmortem_id, point_id, data)
    return timeline_service.decision_point_read(
        point, timeline_service.first_alert_at(session, postmortem)
    )


@router.delete("/decision-points/{point_id}", status_code=204)
def delete_decision_point(
    postmortem_id: UUID, point_id: UUID, session: SessionDep, _: Writer
) -> Response:
    """Remove a decision point."""
    timeline_service.delete_decision_point(session, postmortem_id, point_id)
    return Response(status_code=204)


def _grace(settings: SettingsDep) -> timedelta:
    return timedelta(minutes=settings.checks.reconstructed_grace_minutes)
