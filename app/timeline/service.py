"""The incident timeline (rough, versioned, bounded) and the responder timeline (decision points).

A postmortem's timeline holds at most `Settings.max_timeline_entries` entries (2000 unless set
with FOLLOWTHROUGH_MAX_TIMELINE_ENTRIES); adding or importing past it is refused with a 409 that
says the cap and how to raise it. It is read a page at a time, in incident order.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID

from sqlalchemy import and_, or_
from sqlmodel import Session, col, func, select

from app.auth.service import Caller
from app.db import utcnow
from app.enums import TimelineKind
from app.errors import Conflict, NotFound
from app.pagination import decode_key, encode_cursor
from app.postmortems.models import Postmortem
from app.timeline.models import DecisionPoint, TimelineEntry, TimelineEntryRevision
from app.timeline.schemas import (
    DecisionPointCreate,
    DecisionPointRead,
    DecisionPointUpdate,
    TimelineEntryCreate,
    TimelineEntryRead,
    TimelineEntryRevisionRead,
    TimelineEntryUpdate,
    TimelineSource,
)


def add_entry(
    session: Session,
    postmortem: Postmortem,
    data: TimelineEntryCreate,
    *,
    source: TimelineSource = TimelineSource.API,
    cap: int | None = None,
) -> TimelineEntry:
    """Add one entry; `written_at` was checked against the clock when the body was read, so it
    is never later than the `recorded_at` stamped here. With `cap`, refused (409) when the
    timeline is full (see `ensure_room`)."""
    if cap is not None:
        ensure_room(session, postmortem, 1, cap)
    entry = new_entry(postmortem, data, source=source)
    session.add(entry)
    session.flush()
    return entry


def new_entry(
    postmortem: Postmortem, data: TimelineEntryCreate, *, source: TimelineSource
) -> TimelineEntry:
    """An entry for the postmortem, not yet added to a session."""
    return TimelineEntry(
        postmortem_id=postmortem.id,
        incident_started_at=postmortem.started_at,
        incident_resolved_at=postmortem.resolved_at,
        source=source.value,
        **data.model_dump(),
    )


CAP_SETTING = "FOLLOWTHROUGH_MAX_TIMELINE_ENTRIES"
# Entries a postmortem read embeds: the first page of GET .../timeline at its default limit.
EMBEDDED_ENTRIES = 50

# Incident order; entries written for the same moment keep the order they reached us in.
_ORDER = (col(TimelineEntry.at), col(TimelineEntry.recorded_at), col(TimelineEntry.id))


def count_entries(session: Session, postmortem_id: UUID) -> int:
    return session.exec(
        select(func.count()).where(col(TimelineEntry.postmortem_id) == postmortem_id)
    ).one()


def ensure_room(session: Session, postmortem: Postmortem, adding: int, cap: int) -> None:
    """Refuse (409) adding `adding` entries when the timeline would then hold more than `cap`.
    Callers hold the postmortem's row lock, so two adds cannot both take the last place."""
    held = count_entries(session, postmortem.id) if adding else 0
    if adding and held + adding > cap:
        room = max(cap - held, 0)
        raise Conflict(
            f"A timeline holds at most {cap} entries; this one has {held}, so {adding} more "
            f"would go past the cap (room for {room}). Nothing was added. The cap is a "
            f"setting of the service: raise it with {CAP_SETTING}",
            extra={
                "max_timeline_entries": cap,
                "entries": held,
                "adding": adding,
                "setting": CAP_SETTING,
            },
        )


def entries(session: Session, postmortem_id: UUID) -> list[TimelineEntry]:
    """The whole timeline in incident order (at most the cap): for the Markdown export."""
    return list(
        session.exec(
            select(TimelineEntry)
            .where(TimelineEntry.postmortem_id == postmortem_id)
            .order_by(*_ORDER)
        )
    )


def page(
    session: Session, postmortem_id: UUID, *, cursor: str | None, limit: int
) -> tuple[list[TimelineEntry], str | None]:
    """Up to `limit` entries in incident order, resuming after `cursor`; the cursor for the
    next page, or None after the last entry."""
    query = select(TimelineEntry).where(TimelineEntry.postmortem_id == postmortem_id)
    if cursor:
        (at, recorded_at), entry_id = decode_key(cursor, times=2)
        on_at = col(TimelineEntry.at) == at
        query = query.where(
            or_(
                col(TimelineEntry.at) > at,
                and_(on_at, col(TimelineEntry.recorded_at) > recorded_at),
                and_(
                    on_at,
                    col(TimelineEntry.recorded_at) == recorded_at,
                    col(TimelineEntry.id) > entry_id,
                ),
            )
        )
    rows = list(session.exec(query.order_by(*_ORDER).limit(limit + 1)))
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    last = rows[-1]
    return rows, encode_cursor(last.at, last.recorded_at, last.id)


def get_entry(
    session: Session, postmortem_id: UUID, entry_id: UUID, *, for_update: bool = False
) -> TimelineEntry:
    entry = session.get(TimelineEntry, entry_id, with_for_update=for_update)
    if entry is None or entry.postmortem_id != postmortem_id:
        raise NotFound(f"No timeline entry {entry_id} in postmortem {postmortem_id}")
    return entry


def edit_entry(
    session: Session, postmortem_id: UUID, entry_id: UUID, data: TimelineEntryUpdate, caller: Caller
) -> TimelineEntry:
    """Change an entry and keep the version it replaces: wrong guesses stay on the record."""
    entry = get_entry(session, postmortem_id, entry_id, for_update=True)
    changes = {k: v for k, v in data.model_dump(exclude_unset=True).items() if v is not None}
    if all(getattr(entry, k) == v for k, v in changes.items()):
        return entry
    session.add(
        TimelineEntryRevision(
            entry_id=entry.id,
            version=entry.version,
            at=entry.at,
            author=entry.author,
            kind=entry.kind,
            text=entry.text,
            written_at=version_written_at(entry),
            replaced_by=caller.actor,
        )
    )
    for key, value in changes.items():
        setattr(entry, key, value)
    entry.version += 1
    entry.updated_at = utcnow()
    session.add(entry)
    session.flush()
    return entry


def entry_history(
    session: Session, postmortem_id: UUID, entry_id: UUID
) -> list[TimelineEntryRevisionRead]:
    """Every version of an entry, oldest first; the last one is the current text."""
    entry = get_entry(session, postmortem_id, entry_id)
    revisions = session.exec(
        select(TimelineEntryRevision)
        .where(TimelineEntryRevision.entry_id == entry_id)
        .order_by(TimelineEntryRevision.version)  # type: ignore[arg-type]
    )
    versions = [
        TimelineEntryRevisionRead.model_validate(r, from_attributes=True) for r in revisions
    ]
    versions.append(
        TimelineEntryRevisionRead(
            version=entry.version,
            at=entry.at,
            author=entry.author,
            kind=TimelineKind(entry.kind),
            text=entry.text,
            written_at=version_written_at(entry),
            replaced_at=None,
            replaced_by=None,
        )
    )
    return versions


def version_written_at(entry: TimelineEntry) -> datetime:
    """When the entry's current version was written: the first one when the note was written
    (its `written_at`, else when it reached us), later ones when they were saved."""
    if entry.version == 1 and entry.written_at is not None:
        return entry.written_at
    return entry.updated_at


def written_during_incident(
    entry: TimelineEntry, postmortem: Postmortem, grace: timedelta
) -> bool | None:
    if postmortem.resolved_at is None:
        return None
    written = entry.written_at or entry.recorded_at
    return written <= postmortem.resolved_at + grace


def entry_read(entry: TimelineEntry, postmortem: Postmortem, grace: timedelta) -> TimelineEntryRead:
    return TimelineEntryRead.model_validate(
        {
            **entry.model_dump(),
            "written_during_incident": written_during_incident(entry, postmortem, grace),
        }
    )


def add_decision_point(
    session: Session, postmortem: Postmortem, data: DecisionPointCreate
) -> DecisionPoint:
    point = DecisionPoint(postmortem_id=postmortem.id, **data.model_dump())
    session.add(point)
    session.flush()
    return point


def decision_points(session: Session, postmortem_id: UUID) -> list[DecisionPoint]:
    return list(
        session.exec(
            select(DecisionPoint)
            .where(DecisionPoint.postmortem_id == postmortem_id)
            .order_by(DecisionPoint.at, DecisionPoint.id)  # type: ignore[arg-type]
        )
    )


def get_decision_point(session: Session, postmortem_id: UUID, point_id: UUID) -> DecisionPoint:
    point = session.get(DecisionPoint, point_id)
    if point is None or point.postmortem_id != postmortem_id:
        raise NotFound(f"No decision point {point_id} in postmortem {postmortem_id}")
    return point


def edit_decision_point(
    session: Session, postmortem_id: UUID, point_id: UUID, data: DecisionPointUpdate
) -> DecisionPoint:
    point = get_decision_point(session, postmortem_id, point_id)
    for key, value in data.model_dump(exclude_unset=True).items():
        if value is not None:
            setattr(point, key, value)
    session.add(point)
    session.flush()
    return point


def delete_decision_point(session: Session, postmortem_id: UUID, point_id: UUID) -> None:
    session.delete(get_decision_point(session, postmortem_id, point_id))
    session.flush()


def first_alert_at(session: Session, postmortem: Postmortem) -> datetime | None:
    """When the clock for "time to the right action" starts: the first alert, else detection."""
    first = session.exec(
        select(TimelineEntry.at)
        .where(
            TimelineEntry.postmortem_id == postmortem.id,
            TimelineEntry.kind == TimelineKind.ALERT.value,
        )
        .order_by(TimelineEntry.at)  # type: ignore[arg-type]
        .limit(1)
    ).first()
    return first or postmortem.detected_at


def decision_point_read(point: DecisionPoint, alert_at: datetime | None) -> DecisionPointRead:
    minutes = None if alert_at is None else round((point.at - alert_at).total_seconds() / 60, 1)
    return DecisionPointRead.model_validate({**point.model_dump(), "minutes_since_alert": minutes})
