"""Action items: create, edit, move through their states, and keep the story of every change."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from app.action_items import history as history_log
from app.action_items.history import record
from app.action_items.models import ActionItem
from app.action_items.schemas import (
    ActionItemCreate,
    ActionItemEventRead,
    ActionItemRead,
    ActionItemUpdate,
    VerifyRequest,
)
from app.action_items.state import UNFINISHED, Cause, Source, transition
from app.auth import boundary
from app.auth.service import Caller
from app.concurrency import check_if_match
from app.db import utcnow
from app.enums import ActionItemStatus
from app.errors import Conflict, InvalidInput, NotFound, field_error
from app.pagination import paginate
from app.people.models import Person, Team
from app.people.service import person_by_handle, team_by_slug
from app.postmortems.completion import refresh_completion
from app.postmortems.models import Postmortem
from app.sync import jobs
from app.tickets import links
from app.tickets.models import TicketLink
from connectors.base import TicketState

CONTENT_FIELDS = (
    "title",
    "description",
    "definition_of_done",
    "verification",
    "due_date",
    "chain_level",
    "purpose",
    "priority",
    "committed",
    "tracker",
    "tracker_project",
)


# Columns that are NOT NULL: a PATCH may change them but never null them.
NOT_NULL_FIELDS = frozenset(
    {"title", "description", "definition_of_done", "verification", "priority", "committed"}
)

# What a ticket shows: a change to any of these is pushed to the tracker.
TICKET_FIELDS = frozenset(
    {"title", "description", "definition_of_done", "verification", "due_date", "owner", "priority"}
)


def today() -> date:
    return datetime.now(UTC).date()


def get(session: Session, item_id: UUID, *, for_update: bool = False) -> ActionItem:
    item = session.get(ActionItem, item_id, with_for_update=for_update)
    if item is None:
        raise NotFound(f"No action item with id {item_id}")
    return item


def _resolve_owner(
    session: Session, owner: str | None, path: str
) -> tuple[UUID | None, UUID | None]:
    """(person id, team id) for an owner handle; a team is kept so the checks can flag it."""
    if owner is None:
        return None, None
    person = person_by_handle(session, owner)
    if person is not None:
        return person.id, None
    team = team_by_slug(session, owner)
    if team is not None:
        return None, team.id
    raise InvalidInput(
        f"Unknown owner {owner!r}: add the person first (POST /v1/people)",
        errors=[field_error(path, f"no person with handle {owner!r}")],
    )


def _json_value(value: Any) -> Any:
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, list):
        return list(value)
    return str(value) if hasattr(value, "value") else value


def create(
    session: Session,
    postmortem: Postmortem,
    data: ActionItemCreate,
    caller: Caller,
    *,
    path: str = "body",
) -> ActionItem:
    person_id, team_id = _resolve_owner(session, data.owner, f"{path}.owner")
    values = data.model_dump(include=set(CONTENT_FIELDS))
    item = ActionItem(
        postmortem_id=postmortem.id,
        incident_started_at=postmortem.started_at,
        owner_person_id=person_id,
        owner_team_id=team_id,
        status=ActionItemStatus.DRAFT.value,
        **values,
    )
    session.add(item)
    session.flush()
    record(session, item, source="api", actor=caller.actor, kind="created", to_status=item.status)
    # Always a draft: on a published postmortem it opens only once the checks pass
    # (app.flows.items_after_publish).
    return item


CLOSED_TICKET_STATES = frozenset(
    {TicketState.DONE.value, TicketState.WONT_DO.value, TicketState.DELETED.value}
)


def update(
    session: Session, item_id: UUID, data: ActionItemUpdate, caller: Caller, *, if_match: str | None
) -> ActionItem:
    item = get(session, item_id, for_update=True)
    check_if_match(if_match, item.version, "action item")
    if (
        "committed" in data.model_fields_set
        and data.committed is False
        and item.committed
        and item.status != ActionItemStatus.DRAFT
    ):
        # An un-committed item drops out of completion; with its ticket still open or the work
        # unfinished that would complete the postmortem unverified and leave the ticket live.
        link = links.link_of(session, item.id)
        ticket_open = (
            link is not None
            and links.has_ticket(link)
            and link.last_state not in CLOSED_TICKET_STATES
        )
        if ticket_open or item.status in UNFINISHED:
            why = f" and its ticket {link.external_key} is open" if ticket_open and link else ""
            raise Conflict(
                f"This action item is {item.status}{why}; only a draft can be un-committed. "
                f"Close it as won't do instead: POST /v1/action-items/{item.id}/close "
                'with {"resolution": "wont_do"}'
            )
    changes: dict[str, list[Any]] = {}
    for name in data.model_fields_set:
        if name == "owner":
            person_id, team_id = _resolve_owner(session, data.owner, "body.owner")
            before = owner_handle(session, item)
            if (person_id, team_id) != (item.owner_person_id, item.owner_team_id):
                item.owner_person_id, item.owner_team_id = person_id, team_id
                changes["owner"] = [before, data.owner]
            continue
        new = getattr(data, name)
        if new is None and name in NOT_NULL_FIELDS:
            raise InvalidInput(
                f"{name} cannot be null", errors=[field_error(f"body.{name}", "may not be null")]
            )
        old = getattr(item, name)
        if old != new:
            setattr(item, name, new)
            changes[name] = [_json_value(old), _json_value(new)]
    if not changes:
        return item
    # A draft committed on a published postmortem stays a draft here: it opens only once the
    # checks pass (app.flows.items_after_publish).
    item.version += 1
    item.updated_at = utcnow()
    session.add(item)
    record(session, item, source="api", actor=caller.actor, kind="edited", changes=changes)
    session.flush()
    if item.committed and item.status != ActionItemStatus.DRAFT:
        # A newly committed item needs its ticket; an existing ticket follows the content.
        synced = set(changes) & TICKET_FIELDS
        if "committed" in changes:
            jobs.enqueue(session, jobs.CREATE, action_item_id=item.id)
        elif synced:
            jobs.enqueue(session, jobs.UPDATE, action_item_id=item.id)
    refresh_completion(session, item.postmortem_id)
    return item


def delete(session: Session, item_id: UUID) -> None:
    item = get(session, item_id, for_update=True)
    if item.status != ActionItemStatus.DRAFT:
        raise Conflict(
            f"This action item is {item.status}; only a draft can be deleted. "
            "Close it as won't do instead, so the record keeps it"
        )
    postmortem_id = item.postmortem_id
    session.delete(item)
    session.flush()
    refresh_completion(session, postmortem_id)


def api_cause(caller: Caller) -> Cause:
    return Cause(Source.API, caller.actor)


def open_for_publish(session: Session, postmortem_id: UUID, caller: Caller) -> None:
    """Publishing opens every committed draft item; the next step is its tracker ticket."""
    items = session.exec(
        select(ActionItem).where(
            ActionItem.postmortem_id == postmortem_id,
            ActionItem.committed == True,  # noqa: E712 - SQL comparison
            ActionItem.status == ActionItemStatus.DRAFT.value,
        )
    )
    for item in items:
        transition(
            session, item, ActionItemStatus.OPEN, api_cause(caller), note="postmortem published"
        )
        # Same transaction as the state change: publishing and its tickets commit together.
        jobs.enqueue(session, jobs.CREATE, action_item_id=item.id)
    session.flush()


def verify(session: Session, item_id: UUID, data: VerifyRequest, caller: Caller) -> ActionItem:
    """Verification is the service's own, with or without a ticket: closed is not verified."""
    item = get(session, item_id, for_update=True)
    require_committed(item)
    evidence = data.evidence if not data.evidence_url else f"{data.evidence}\n{data.evidence_url}"
    who = data.verified_by or caller.name
    transition(
        session,
        item,
        ActionItemStatus.VERIFIED,
        api_cause(caller),
        note=evidence,
        verified_by=who,
        evidence=evidence,
    )
    if links.has_ticket(links.link_of(session, item.id)):
        # People watching the ticket see that the fix was shown to work, and how.
        jobs.enqueue(
            session,
            jobs.COMMENT,
            action_item_id=item.id,
            payload={"text": f"Verified by {who}: {evidence}"},
        )
    return item


def require_committed(item: ActionItem) -> None:
    if not item.committed:
        raise Conflict(
            "This is a thing to remain aware of, not a committed action item; it has no states"
        )


def history(session: Session, item_id: UUID) -> list[ActionItemEventRead]:
    get(session, item_id)
    return history_log.entries(session, item_id)


def is_overdue(item: ActionItem, on: date | None = None) -> bool:
    return bool(
        item.committed
        and item.due_date is not None
        and item.due_date < (on or today())
        and item.status in UNFINISHED
    )


def list_items(
    session: Session,
    *,
    status: ActionItemStatus | None,
    owner: str | None,
    team: str | None,
    overdue: bool | None,
    postmortem_id: UUID | None,
    committed: bool | None,
    cursor: str | None,
    limit: int,
    caller: Caller | None = None,
) -> tuple[list[ActionItem], str | None]:
    query: SelectOfScalar[ActionItem] = select(ActionItem).where(
        boundary.postmortem_ids_where(caller, ActionItem.postmortem_id)
    )
    if status is not None:
        query = query.where(ActionItem.status == status.value)
    if owner is not None:
        query = query.join(Person, col(Person.id) == ActionItem.owner_person_id).where(
            Person.handle == owner
        )
    if team is not None:
        query = (
            query.join(Postmortem, col(Postmortem.id) == ActionItem.postmortem_id)
            .join(Team, col(Team.id) == Postmortem.team_id)
            .where(Team.slug == team)
        )
    if postmortem_id is not None:
        query = query.where(ActionItem.postmortem_id == postmortem_id)
    if committed is not None:
        query = query.where(ActionItem.committed == committed)
    if overdue is not None:
        late = (
            (ActionItem.committed == True)  # noqa: E712
            & ActionItem.due_date.is_not(None)  # type: ignore[union-attr]
            & (ActionItem.due_date < today())  # type: ignore[operator]
            & ActionItem.status.in_([s.value for s in UNFINISHED])  # type: ignore[attr-defined]
        )
        query = query.where(late if overdue else ~late)
    return paginate(
        session,
        query,
        at_column=ActionItem.created_at,
        id_column=ActionItem.id,
        cursor=cursor,
        limit=limit,
    )


def items_of(session: Session, postmortem_id: UUID) -> list[ActionItem]:
    return list(
        session.exec(
            select(ActionItem)
            .where(ActionItem.postmortem_id == postmortem_id)
            .order_by(ActionItem.created_at, ActionItem.id)  # type: ignore[arg-type]
        )
    )


def owner_handle(session: Session, item: ActionItem) -> str | None:
    return to_read(session, [item])[0].owner


def to_read(session: Session, items: list[ActionItem]) -> list[ActionItemRead]:
    person_ids = {i.owner_person_id for i in items if i.owner_person_id}
    team_ids = {i.owner_team_id for i in items if i.owner_team_id}
    handles: dict[UUID, str] = {}
    slugs: dict[UUID, str] = {}
    if person_ids:
        handles = dict(
            session.exec(
                select(Person.id, Person.handle).where(col(Person.id).in_(person_ids))
            ).all()
        )
    if team_ids:
        slugs = dict(
            session.exec(select(Team.id, Team.slug).where(col(Team.id).in_(team_ids))).all()
        )
    links = {}
    if items:
        links = {
            link.action_item_id: link
            for link in session.exec(
                select(TicketLink).where(col(TicketLink.action_item_id).in_([i.id for i in items]))
            )
        }
    on = today()
    reads = []
    for item in items:
        if item.owner_person_id:
            owner, kind = handles.get(item.owner_person_id), "person"
        elif item.owner_team_id:
            owner, kind = slugs.get(item.owner_team_id), "team"
        else:
            owner, kind = None, None
        reads.append(
            ActionItemRead.model_validate(
                {
                    **item.model_dump(),
                    "owner": owner,
                    "owner_kind": kind,
                    "overdue": is_overdue(item, on),
                    "ticket_key": links[item.id].external_key if item.id in links else None,
                    "ticket_url": links[item.id].url if item.id in links else None,
                }
            )
        )
    return reads
