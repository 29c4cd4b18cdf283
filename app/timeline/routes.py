from datetime import timedelta
from uuid import UUID

from fastapi import APIRouter, Response

from app.auth.deps import Reader, Writer
from app.db import SessionDep
from app.postmortems import service as postmortems_service
from app.settings import SettingsDep
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
    TimelineList,
)

router = APIRouter(prefix="/v1/postmortems/{postmortem_id}", tags=["timeline"])


@router.post("/timeline", status_code=201, response_model=TimelineEntryRead)
def add_timeline_entry(
    postmortem_id: UUID,
    data: TimelineEntryCreate,
    session: SessionDep,
    _: Writer,
    settings: SettingsDep,
) -> TimelineEntryRead:
    """Add a timeline entry. `recorded_at` is set by the server: it tells a timeline written
    during the incident from one reconstructed afterwards."""
    postmortem = postmortems_service.get(session, postmortem_id)
    entry = timeline_service.add_entry(session, postmortem, data)
    return timeline_service.entry_read(entry, postmortem, _grace(settings))


@router.get("/timeline", response_model=TimelineList)
def list_timeline(
    postmortem_id: UUID, session: SessionDep, _: Reader, settings: SettingsDep
) -> TimelineList:
    """The timeline in incident order."""
    postmortem = postmortems_service.get(session, postmortem_id)
    grace = _grace(settings)
    return TimelineList(
        items=[
            timeline_service.entry_read(e, postmortem, grace)
            for e in timeline_service.entries(session, postmortem_id)
        ]
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
