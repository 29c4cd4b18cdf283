"""Apply what happened in a tracker to the action item: the tracker owns the ticket's state.

Events come from webhooks and from reconciliation alike. A state event older than what is
already recorded for the ticket (its watermark) is kept in the log but changes nothing, so
out-of-order and repeated deliveries are safe. Nothing here queues an outbound update: a change
that came from the tracker is never echoed back to it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, select

from app.action_items.models import ActionItem
from app.action_items.service import record
from app.db import utcnow
from app.enums import ActionItemStatus as S
from app.integrations.models import Integration
from app.integrations.schemas import IntegrationOptions
from app.people.models import Person
from app.people.service import account_on
from app.tickets.models import TicketLink
from connectors.base import EventKind, TicketState, TrackerEvent

logger = logging.getLogger("followthrough.tickets")

# Kinds whose order matters: they carry the ticket's whole current value.
ORDERED = {
    EventKind.STATE_CHANGED,
    EventKind.ASSIGNEE_CHANGED,
    EventKind.DUE_DATE_CHANGED,
    EventKind.DELETED,
}


@dataclass(frozen=True)
class Origin:
    """Who or what caused a change: ("webhook", "delivery:<id>") or ("reconciliation", "run:<id>")."""

    source: str
    actor: str


def find_link(session: Session, integration_id: Any, external_key: str) -> TicketLink | None:
    return session.exec(
        select(TicketLink).where(
            TicketLink.integration_id == integration_id, TicketLink.external_key == external_key
        )
    ).first()


def apply_event(
    session: Session, integration: Integration, event: TrackerEvent, origin: Origin
) -> str:
    """Apply one event; returns a short outcome for the delivery log."""
    link = find_link(session, integration.id, event.external_key)
    if link is None:
        return f"{event.external_key}: not a ticket of ours"
    item = session.get(ActionItem, link.action_item_id, with_for_update=True)
    if item is None:
        return f"{event.external_key}: its action item is gone"
    options = IntegrationOptions.model_validate(integration.options)
    if event.kind in ORDERED:
        # Strictly older only: one delivery or snapshot can carry several events of one instant.
        if link.watermark is not None and event.occurred_at < link.watermark:
            return f"{event.external_key}: {event.kind} older than what is recorded; not applied"
        link.watermark = max(link.watermark or event.occurred_at, event.occurred_at)
        session.add(link)
    handler = _HANDLERS.get(event.kind)
    outcome = (
        handler(session, integration, options, link, item, event, origin)
        if handler
        else "nothing to do"
    )
    session.flush()
    from app.postmortems import service as postmortems_service  # completion follows item states

    postmortems_service.refresh_completion(session, item.postmortem_id)
    return f"{event.external_key}: {outcome}"


def _move(
    session: Session, item: ActionItem, target: S, origin: Origin, note: str, **changes: Any
) -> None:
    current = item.status
    item.status = target.value
    item.version += 1
    item.updated_at = utcnow()
    if target in (S.CLOSED, S.WONT_DO):
        item.closed_at = utcnow()
    if target in (S.REOPENED, S.WONT_DO, S.OPEN) and item.verified_at is not None:
        changes["verification_cleared"] = {
            "verified_at": item.verified_at.isoformat(),
            "verified_by": item.verified_by,
            "evidence": item.verification_evidence,
        }
        item.verified_at = item.verified_by = item.verification_evidence = None
    if target == S.REOPENED:
        item.closed_at = None
    session.add(item)
    record(
        session,
        item,
        source=origin.source,
        actor=origin.actor,
        kind="status_changed",
        from_status=current,
        to_status=target.value,
        changes=changes,
        note=note,
    )


def _verify(session: Session, item: ActionItem, origin: Origin, who: str, evidence: str) -> str:
    if item.status != S.CLOSED:
        return f"verification signal ignored: the item is {item.status}, not closed as done"
    _move(session, item, S.VERIFIED, origin, evidence, verified_by=who)
    item.verified_at = utcnow()
    item.verified_by = who
    item.verification_evidence = evidence
    session.add(item)
    return "verified"


def _state(
    session: Session,
    integration: Integration,
    options: IntegrationOptions,
    link: TicketLink,
    item: ActionItem,
    event: TrackerEvent,
    origin: Origin,
) -> str:
    link.last_state = event.state.value if event.state else None
    link.last_raw_status = event.raw_status
    session.add(link)
    who = event.actor or integration.kind
    status = S(item.status)
    if event.state == TicketState.DONE:
        outcome = "already closed"
        if status in (S.OPEN, S.REOPENED, S.WONT_DO, S.DRAFT):
            _move(
                session,
                item,
                S.CLOSED,
                origin,
                f"closed as done in {integration.kind} by {who}",
                tracker_status=event.raw_status,
            )
            outcome = "closed"
        if (
            options.verification_status
            and event.raw_status.strip().lower() == options.verification_status.lower()
        ):
            outcome = _verify(
                session, item, origin, who, f"status '{event.raw_status}' in {integration.kind}"
            )
        return outcome
    if event.state == TicketState.WONT_DO:
        if status == S.WONT_DO:
            return "already won't do"
        _move(
            session,
            item,
            S.WONT_DO,
            origin,
            f"closed as won't do in {integration.kind} by {who}",
            tracker_status=event.raw_status,
            resolution=event.resolution,
        )
        return "won't do"
    if event.state in (TicketState.OPEN, TicketState.IN_PROGRESS):
        if status in (S.CLOSED, S.WONT_DO, S.VERIFIED):
            _move(
                session,
                item,
                S.REOPENED,
                origin,
                f"reopened in {integration.kind} by {who}",
                tracker_status=event.raw_status,
            )
            return "reopened"
        return "still open"
    return "unknown state; nothing changed"


def _deleted(
    session: Session,
    integration: Integration,
    options: IntegrationOptions,
    link: TicketLink,
    item: ActionItem,
    event: TrackerEvent,
    origin: Origin,
) -> str:
    link.last_state = TicketState.DELETED.value
    session.add(link)
    item.sync_state = "error"
    item.sync_error = f"the ticket {link.external_key} was deleted or moved in {integration.kind}"
    session.add(item)
    record(
        session,
        item,
        source=origin.source,
        actor=origin.actor,
        kind="ticket_deleted",
        changes={"ticket": link.external_key},
    )
    return "ticket deleted; item flagged"


def _assignee(
    session: Session,
    integration: Integration,
    options: IntegrationOptions,
    link: TicketLink,
    item: ActionItem,
    event: TrackerEvent,
    origin: Origin,
) -> str:
    if event.assignee is None:
        record(
            session,
            item,
            source=origin.source,
            actor=origin.actor,
            kind="assignee_mirrored",
            changes={"assignee": None},
            note="unassigned in the tracker; the owner stays",
        )
        return "unassigned; owner kept"
    people = session.exec(select(Person)).all()
    person = next(
        (p for p in people if account_on(p, integration.kind, integration.name) == event.assignee),
        None,
    )
    if person is None:
        record(
            session,
            item,
            source=origin.source,
            actor=origin.actor,
            kind="assignee_mirrored",
            changes={"assignee": event.assignee},
            note="no person has this tracker account; owner kept",
        )
        return "assignee has no person here; owner kept"
    if person.id != item.owner_person_id:
        old = session.get(Person, item.owner_person_id) if item.owner_person_id else None
        item.owner_person_id, item.owner_team_id = person.id, None
        item.version += 1
        session.add(item)
        record(
            session,
            item,
            source=origin.source,
            actor=origin.actor,
            kind="owner_mirrored",
            changes={"owner": [old.handle if old else None, person.handle]},
        )
        return f"owner is now {person.handle}"
    return "owner unchanged"


def _due_date(
    session: Session,
    integration: Integration,
    options: IntegrationOptions,
    link: TicketLink,
    item: ActionItem,
    event: TrackerEvent,
    origin: Origin,
) -> str:
    if event.due_date == item.due_date:
        return "due date unchanged"
    old = item.due_date
    item.due_date = event.due_date
    item.version += 1
    session.add(item)
    record(
        session,
        item,
        source=origin.source,
        actor=origin.actor,
        kind="due_date_mirrored",
        changes={
            "due_date": [
                old.isoformat() if old else None,
                event.due_date.isoformat() if event.due_date else None,
            ]
        },
    )
    return "due date mirrored"


def _label_added(
    session: Session,
    integration: Integration,
    options: IntegrationOptions,
    link: TicketLink,
    item: ActionItem,
    event: TrackerEvent,
    origin: Origin,
) -> str:
    label = (event.label or "").strip().lower()
    if options.verification_label and label == options.verification_label.lower():
        return _verify(
            session,
            item,
            origin,
            event.actor or integration.kind,
            f"label '{event.label}' added in {integration.kind}",
        )
    return "label noted"


def _comment(
    session: Session,
    integration: Integration,
    options: IntegrationOptions,
    link: TicketLink,
    item: ActionItem,
    event: TrackerEvent,
    origin: Origin,
) -> str:
    text = (event.comment or "").strip()
    if not options.verify_command or not text.lower().startswith("/verified"):
        return "comment noted"
    if options.verify_commenters and event.actor not in options.verify_commenters:
        record(
            session,
            item,
            source=origin.source,
            actor=origin.actor,
            kind="verification_refused",
            note=f"{event.actor} may not verify with /verified",
        )
        return f"/verified from {event.actor} refused: not an allowed verifier"
    evidence = text[len("/verified") :].strip() or f"/verified in {integration.kind}"
    return _verify(session, item, origin, event.actor or integration.kind, evidence)


_HANDLERS = {
    EventKind.STATE_CHANGED: _state,
    EventKind.DELETED: _deleted,
    EventKind.ASSIGNEE_CHANGED: _assignee,
    EventKind.DUE_DATE_CHANGED: _due_date,
    EventKind.LABEL_ADDED: _label_added,
    EventKind.COMMENT_ADDED: _comment,
}
