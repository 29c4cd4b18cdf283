"""Postmortems: the record of an incident, its lifecycle, and the reads that assemble it."""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID

from sqlalchemy import delete, exists, or_
from sqlalchemy import update as sql_update
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from app.action_items import service as action_items_service
from app.action_items.models import ActionItem
from app.auth import boundary
from app.auth.service import Caller
from app.checks import service as checks_service
from app.checks import waivers as check_waivers
from app.concurrency import check_if_match
from app.conditions import service as conditions_service
from app.conditions.schemas import ConditionRead
from app.db import utcnow
from app.enums import PostmortemStatus
from app.errors import Conflict, InvalidInput, NotFound, field_error
from app.pagination import paginate
from app.people.models import Team
from app.people.service import flush_unique, resolve_team, team_slugs
from app.postmortems import outcome, reads
from app.postmortems.completion import refresh_completion, touch
from app.postmortems.models import (
    Postmortem,
    PostmortemRecurrence,
    PostmortemService,
    PostmortemTag,
)
from app.postmortems.schemas import (
    INCIDENT_TIMES,
    CheckReport,
    PostmortemCreate,
    PostmortemDetail,
    PostmortemRead,
    PostmortemUpdate,
    check_chronology,
)
from app.settings import CheckPolicy
from app.timeline import service as timeline_service
from app.timeline.models import TimelineEntry

SCALAR_FIELDS = (
    "title",
    "incident_ref",
    "incident_url",
    "severity",
    *INCIDENT_TIMES,
    "review_held_at",
    "summary",
    "user_impact",
    "restricted",
)


def get(session: Session, postmortem_id: UUID, *, for_update: bool = False) -> Postmortem:
    postmortem = session.get(Postmortem, postmortem_id, with_for_update=for_update)
    if postmortem is None:
        raise NotFound(f"No postmortem with id {postmortem_id}")
    return postmortem


def _ensure_incident_free(
    session: Session, incident_ref: str, path: str, own_id: UUID | None = None
) -> None:
    query = select(Postmortem.id).where(Postmortem.incident_ref == incident_ref)
    existing = session.exec(query).first()
    if existing is not None and existing != own_id:
        raise Conflict(
            f"Incident {incident_ref!r} already has a postmortem ({existing}); one postmortem per incident",
            errors=[field_error(path, "already used by another postmortem")],
            extra={"existing_id": str(existing)},
        )


def create(
    session: Session,
    data: PostmortemCreate,
    caller: Caller,
    *,
    max_timeline_entries: int | None = None,
) -> Postmortem:
    """Create the postmortem and everything sent with it, all or nothing; a timeline longer
    than `max_timeline_entries` is refused (409)."""
    _ensure_incident_free(session, data.incident_ref, "body.incident_ref")
    team = resolve_team(session, data.team, "body.team")
    boundary.require_team(caller, team, "body.team")
    postmortem = Postmortem(
        **data.model_dump(include=set(SCALAR_FIELDS)),
        team_id=team.id if team else None,
        links=[link.model_dump(mode="json") for link in data.links],
        chain_walk=data.chain_walk.model_dump(mode="json"),
        review=data.review.model_dump(mode="json"),
        created_by=caller.actor,
    )
    session.add(postmortem)
    # Two creates for one incident can both pass the check above; the unique index decides.
    flush_unique(
        session,
        f"Incident {data.incident_ref!r} already has a postmortem; one postmortem per incident",
    )
    _set_names(session, postmortem.id, PostmortemService, data.services)
    _set_names(session, postmortem.id, PostmortemTag, data.tags)
    _set_recurrences(session, postmortem, data.recurrence_of, caller)
    if max_timeline_entries is not None:
        timeline_service.ensure_room(session, postmortem, len(data.timeline), max_timeline_entries)
    for entry in data.timeline:
        timeline_service.add_entry(session, postmortem, entry)
    for point in data.decision_points:
        timeline_service.add_decision_point(session, postmortem, point)
    for condition in data.conditions:
        conditions_service.add(session, postmortem, condition)
    for index, item in enumerate(data.action_items):
        action_items_service.create(
            session, postmortem, item, caller, path=f"body.action_items[{index}]"
        )
    session.flush()
    return postmortem


def _set_names(
    session: Session,
    postmortem_id: UUID,
    table: type[PostmortemService] | type[PostmortemTag],
    names: list[str],
) -> None:
    session.execute(delete(table).where(table.postmortem_id == postmortem_id))  # type: ignore[arg-type]
    for name in dict.fromkeys(names):
        session.add(table(postmortem_id=postmortem_id, name=name))
    session.flush()


def _set_recurrences(
    session: Session, postmortem: Postmortem, earlier_ids: list[UUID], caller: Caller
) -> None:
    """Link to the earlier incidents this one repeats; each must exist, be visible to the
    caller and have started first."""
    session.execute(
        delete(PostmortemRecurrence).where(col(PostmortemRecurrence.postmortem_id) == postmortem.id)
    )
    for index, earlier_id in enumerate(dict.fromkeys(earlier_ids)):
        earlier = session.get(Postmortem, earlier_id)
        path = f"body.recurrence_of[{index}]"
        if earlier is None or earlier.id == postmortem.id or not boundary.can_see(caller, earlier):
            raise InvalidInput(
                f"recurrence_of[{index}] must name another existing postmortem",
                errors=[field_error(path, f"no other postmortem with id {earlier_id}")],
            )
        if earlier.started_at > postmortem.started_at:
            raise InvalidInput(
                f"recurrence_of[{index}] started after this incident; a recurrence repeats an earlier one",
                errors=[field_error(path, "not an earlier incident")],
            )
        session.add(PostmortemRecurrence(postmortem_id=postmortem.id, earlier_id=earlier.id))
    session.flush()


def update(
    session: Session,
    postmortem_id: UUID,
    data: PostmortemUpdate,
    caller: Caller,
    *,
    if_match: str | None,
) -> Postmortem:
    postmortem = get(session, postmortem_id, for_update=True)
    check_if_match(if_match, postmortem.version, "postmortem")
    fields = data.model_fields_set
    for name in (
        "title",
        "incident_ref",
        "severity",
        "started_at",
        "services",
        "tags",
        "links",
        "chain_walk",
        "review",
        "summary",
        "user_impact",
        "restricted",
    ):
        if name in fields and getattr(data, name) is None:
            raise InvalidInput(
                f"{name} cannot be null", errors=[field_error(f"body.{name}", "may not be null")]
            )
    merged = {name: getattr(postmortem, name) for name in (*INCIDENT_TIMES, "review_held_at")}
    merged.update({name: getattr(data, name) for name in fields if name in merged})
    problems = check_chronology(merged)
    if problems:
        raise InvalidInput(
            "Incident times are out of order: " + "; ".join(m for _, m in problems),
            errors=[field_error(f"body.{name}", message) for name, message in problems],
        )
    if "incident_ref" in fields and data.incident_ref != postmortem.incident_ref:
        _ensure_incident_free(session, data.incident_ref or "", "body.incident_ref", postmortem.id)
    # Items and timeline entries carry copies of the incident times for the dashboard.
    if "started_at" in fields and data.started_at != postmortem.started_at:
        for copied in (ActionItem, TimelineEntry):
            session.execute(
                sql_update(copied)
                .where(col(copied.postmortem_id) == postmortem.id)
                .values(incident_started_at=data.started_at)
            )
    if "resolved_at" in fields and data.resolved_at != postmortem.resolved_at:
        session.execute(
            sql_update(TimelineEntry)
            .where(col(TimelineEntry.postmortem_id) == postmortem.id)
            .values(incident_resolved_at=data.resolved_at)
        )
    for name in SCALAR_FIELDS:
        if name in fields:
            setattr(postmortem, name, getattr(data, name))
    if "team" in fields:
        team = resolve_team(session, data.team, "body.team")
        boundary.require_team(caller, team, "body.team")
        postmortem.team_id = team.id if team else None
    if "links" in fields:
        postmortem.links = [link.model_dump(mode="json") for link in data.links or []]
    if "chain_walk" in fields and data.chain_walk is not None:
        postmortem.chain_walk = data.chain_walk.model_dump(mode="json")
    if "review" in fields and data.review is not None:
        postmortem.review = data.review.model_dump(mode="json")
    if "services" in fields:
        _set_names(session, postmortem.id, PostmortemService, data.services or [])
    if "tags" in fields:
        _set_names(session, postmortem.id, PostmortemTag, data.tags or [])
    if "recurrence_of" in fields:
        _set_recurrences(session, postmortem, data.recurrence_of or [], caller)
    if "status" in fields and data.status is not None and data.status != postmortem.status:
        if postmortem.status not in (PostmortemStatus.DRAFT, PostmortemStatus.IN_REVIEW):
            raise Conflict(f"A {postmortem.status} postmortem cannot go back to {data.status}")
        postmortem.status = data.status
    postmortem.version += 1
    postmortem.updated_at = utcnow()
    session.add(postmortem)
    flush_unique(session, f"Incident {postmortem.incident_ref!r} already has a postmortem")
    return postmortem


def delete_postmortem(session: Session, postmortem_id: UUID) -> None:
    postmortem = get(session, postmortem_id, for_update=True)
    if postmortem.status not in (PostmortemStatus.DRAFT, PostmortemStatus.IN_REVIEW):
        raise Conflict(
            f"This postmortem is {postmortem.status}: its action items have left for the trackers, "
            "so it stays on the record"
        )
    session.delete(postmortem)
    session.flush()


def publish(
    session: Session, postmortem_id: UUID, caller: Caller, policy: CheckPolicy
) -> Postmortem:
    postmortem = get(session, postmortem_id, for_update=True)
    if postmortem.status not in (PostmortemStatus.DRAFT, PostmortemStatus.IN_REVIEW):
        raise Conflict(f"This postmortem is already {postmortem.status}")
    report = checks_service.run(session, postmortem, policy)
    errors = [f for f in report.findings if f.severity == "error" and not f.waived]
    if errors:
        raise Conflict(
            f"Cannot publish: {len(errors)} check(s) fail with severity error; fix them and publish again",
            errors=[{"path": f.path, "message": f"[{f.rule}] {f.message}"} for f in errors],
            extra={"findings": [f.model_dump() for f in errors]},
        )
    postmortem.status = PostmortemStatus.PUBLISHED.value
    postmortem.published_at = utcnow()
    check_waivers.mark_applied_at_publish(session, report.findings)
    action_items_service.open_for_publish(session, postmortem.id, caller)
    touch(session, postmortem)
    refresh_completion(session, postmortem.id)
    return postmortem


def list_postmortems(
    session: Session,
    *,
    team: str | None,
    service: str | None,
    severity: str | None,
    status: str | None,
    tag: str | None,
    since: datetime | None,
    until: datetime | None,
    q: str | None,
    cursor: str | None,
    limit: int,
    chain_level: str | None = None,
    caller: Caller | None = None,
) -> tuple[list[Postmortem], str | None]:
    query: SelectOfScalar[Postmortem] = select(Postmortem).where(boundary.postmortems_where(caller))
    if team is not None:
        query = query.join(Team, col(Team.id) == Postmortem.team_id).where(Team.slug == team)
    if service is not None:
        query = query.where(
            exists().where(
                col(PostmortemService.postmortem_id) == Postmortem.id,
                col(PostmortemService.name) == service,
            )
        )
    if tag is not None:
        query = query.where(
            exists().where(
                col(PostmortemTag.postmortem_id) == Postmortem.id,
                col(PostmortemTag.name) == tag.lower(),
            )
        )
    if severity is not None:
        query = query.where(Postmortem.severity == severity)
    if status is not None:
        query = query.where(Postmortem.status == status)
    if chain_level is not None:
        # JSON path reads that SQLAlchemy renders for each database: json_extract on SQLite,
        # #>> on PostgreSQL.
        contributed = col(Postmortem.chain_walk)[(chain_level, "contributed")].as_string()
        query = query.where(contributed == "yes")
    if since is not None:
        query = query.where(col(Postmortem.started_at) >= since)
    if until is not None:
        query = query.where(col(Postmortem.started_at) < until)
    if q:
        pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(
            or_(
                Postmortem.title.ilike(pattern, escape="\\"),  # type: ignore[attr-defined]
                Postmortem.summary.ilike(pattern, escape="\\"),  # type: ignore[attr-defined]
                Postmortem.user_impact.ilike(pattern, escape="\\"),  # type: ignore[attr-defined]
                Postmortem.incident_ref.ilike(pattern, escape="\\"),  # type: ignore[attr-defined]
            )
        )
    return paginate(
        session,
        query,
        at_column=Postmortem.created_at,
        id_column=Postmortem.id,
        cursor=cursor,
        limit=limit,
    )


def _names(
    session: Session, table: type[PostmortemService] | type[PostmortemTag], ids: list[UUID]
) -> dict[UUID, list[str]]:
    result: dict[UUID, list[str]] = {i: [] for i in ids}
    if ids:
        rows = session.exec(
            select(table.postmortem_id, table.name)
            .where(col(table.postmortem_id).in_(ids))
            .order_by(col(table.name))
        )
        for postmortem_id, name in rows:
            result[postmortem_id].append(name)
    return result


def to_read(session: Session, postmortems: list[Postmortem]) -> list[PostmortemRead]:
    ids = [p.id for p in postmortems]
    services = _names(session, PostmortemService, ids)
    tags = _names(session, PostmortemTag, ids)
    recurrences: dict[UUID, list[UUID]] = {i: [] for i in ids}
    if ids:
        for pm_id, earlier_id in session.exec(
            select(PostmortemRecurrence.postmortem_id, PostmortemRecurrence.earlier_id).where(
                col(PostmortemRecurrence.postmortem_id).in_(ids)
            )
        ):
            recurrences[pm_id].append(earlier_id)
    slugs = team_slugs(session, {p.team_id for p in postmortems if p.team_id})
    read_by = reads.of_postmortems(session, ids)
    return [
        PostmortemRead.model_validate(
            {
                **p.model_dump(),
                "team": slugs.get(p.team_id) if p.team_id else None,
                "services": services[p.id],
                "tags": tags[p.id],
                "review_lag_hours": review_lag_hours(p),
                "recurrence_of": sorted(recurrences[p.id], key=str),
                "reads": read_by[p.id][0],
                "read_outside_team": read_by[p.id][1],
            }
        )
        for p in postmortems
    ]


def review_lag_hours(postmortem: Postmortem) -> float | None:
    if postmortem.review_held_at is None or postmortem.resolved_at is None:
        return None
    return round((postmortem.review_held_at - postmortem.resolved_at).total_seconds() / 3600, 2)


def detail(
    session: Session, postmortem: Postmortem, policy: CheckPolicy, *, whole_timeline: bool = False
) -> PostmortemDetail:
    """The postmortem with its parts. The timeline is embedded up to its first
    `timeline_service.EMBEDDED_ENTRIES` entries, with the total and the cursor for the rest
    (GET /v1/postmortems/{id}/timeline); `whole_timeline` embeds all of it (the Markdown export;
    the cap bounds it)."""
    grace = timedelta(minutes=policy.reconstructed_grace_minutes)
    alert_at = timeline_service.first_alert_at(session, postmortem)
    if whole_timeline:
        timeline, timeline_next = timeline_service.entries(session, postmortem.id), None
    else:
        timeline, timeline_next = timeline_service.page(
            session, postmortem.id, cursor=None, limit=timeline_service.EMBEDDED_ENTRIES
        )
    return PostmortemDetail(
        **to_read(session, [postmortem])[0].model_dump(),
        timeline=[timeline_service.entry_read(e, postmortem, grace) for e in timeline],
        timeline_total=(
            len(timeline)
            if timeline_next is None
            else timeline_service.count_entries(session, postmortem.id)
        ),
        timeline_next_cursor=timeline_next,
        decision_points=[
            timeline_service.decision_point_read(p, alert_at)
            for p in timeline_service.decision_points(session, postmortem.id)
        ],
        conditions=[
            ConditionRead.model_validate(c, from_attributes=True)
            for c in conditions_service.of_postmortem(session, postmortem.id)
        ],
        action_items=action_items_service.to_read(
            session, action_items_service.items_of(session, postmortem.id)
        ),
        outcome=outcome.of_postmortem(session, postmortem.id),
    )


def checks(session: Session, postmortem_id: UUID, policy: CheckPolicy) -> CheckReport:
    return checks_service.run(session, get(session, postmortem_id), policy)
