"""Apply what happened in a tracker to the action item: the tracker owns the ticket's state.

Events come from webhook deliveries, reconciliation and the confirmations of our own state
requests alike, and every status change goes through `app.action_items.state.transition`. A
state event older than what is already recorded for the ticket (its watermark) is kept in the
log but changes nothing, so out-of-order and repeated deliveries are safe. Verification is
judged from the ticket's whole state as the event shows it (labels, status), and a signal seen
while the item is still open is kept on the link and applied when the ticket closes as done, so
any delivery order ends in the same state. Nothing here queues an outbound update: a change
that came from the tracker is never echoed back to it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from app.action_items.history import record
from app.action_items.models import ActionItem
from app.action_items.state import CLOSED_STATES, Cause, Source, transition
from app.db import session_scope, utcnow
from app.enums import ActionItemStatus as S
from app.integrations.models import Integration
from app.integrations.schemas import IntegrationOptions
from app.metrics import WEBHOOK_DELIVERIES_PROCESSED
from app.people.models import Person
from app.people.service import account_on
from app.tickets import links
from app.tickets.models import TicketLink
from app.webhooks import service as webhooks_service
from connectors.base import EventKind, TicketSnapshot, TicketState, TrackerEvent

logger = logging.getLogger("followthrough.tickets")

# Kinds whose order matters: they carry the ticket's whole current value.
ORDERED = {
    EventKind.STATE_CHANGED,
    EventKind.ASSIGNEE_CHANGED,
    EventKind.DUE_DATE_CHANGED,
    EventKind.DELETED,
}


@dataclass
class Context:
    session: Session
    integration: Integration
    options: IntegrationOptions
    link: TicketLink
    item: ActionItem
    event: TrackerEvent
    cause: Cause
    # Who asked for this change through the API, when it confirms one of our own requests.
    asked_by: str | None = None

    @property
    def who(self) -> str:
        if self.asked_by:
            return f"{self.asked_by} through the API"
        return self.event.actor or f"someone in {self.integration.kind}"

    def history(self, kind: str, *, note: str | None = None, **changes: object) -> None:
        record(
            self.session,
            self.item,
            source=self.cause.source,
            actor=self.cause.actor,
            kind=kind,
            changes=dict(changes),
            note=note,
        )


def find_link(session: Session, integration_id: object, external_key: str) -> TicketLink | None:
    return session.exec(
        select(TicketLink).where(
            TicketLink.integration_id == integration_id, TicketLink.external_key == external_key
        )
    ).first()


def apply_event(
    session: Session,
    integration: Integration,
    event: TrackerEvent,
    cause: Cause,
    *,
    asked_by: str | None = None,
) -> str:
    """Apply one event; returns a short outcome for the delivery log."""
    link = find_link(session, integration.id, event.external_key)
    if link is None:
        return f"{event.external_key}: not a ticket of ours"
    # Every applier of one ticket's events queues on its item's row lock; the link (watermark,
    # kept verification signal) is read again under it, so a delivery applied by another
    # worker a moment earlier is seen, never a copy from before it committed.
    item = session.get(ActionItem, link.action_item_id, with_for_update=True)
    if item is None:
        return f"{event.external_key}: its action item is gone"
    session.refresh(link, with_for_update=True)
    if event.kind in ORDERED:
        # Strictly older only: one delivery or snapshot can carry several events of one instant.
        if link.watermark is not None and event.occurred_at < link.watermark:
            return f"{event.external_key}: {event.kind} older than what is recorded; not applied"
        link.watermark = max(link.watermark or event.occurred_at, event.occurred_at)
        session.add(link)
    ctx = Context(
        session=session,
        integration=integration,
        options=IntegrationOptions.model_validate(integration.options),
        link=link,
        item=item,
        event=event,
        cause=cause,
        asked_by=asked_by,
    )
    handler = _HANDLERS.get(event.kind)
    outcome = handler(ctx) if handler else "nothing to do"
    session.flush()
    return f"{event.external_key}: {outcome}"


def snapshot_event(snapshot: TicketSnapshot, delivery_id: str) -> TrackerEvent:
    """The state a read of the ticket shows, as the event that leads to it."""
    return TrackerEvent(
        external_key=snapshot.ref.external_key,
        delivery_id=delivery_id,
        occurred_at=snapshot.updated_at,
        kind=EventKind.STATE_CHANGED,
        state=snapshot.state,
        raw_status=snapshot.raw_status,
        resolution=snapshot.resolution,
        labels=tuple(snapshot.labels),
    )


def apply_delivery(engine: Engine, delivery_row_id: object) -> None:
    """Apply a stored delivery's events, all in one transaction, and record the outcome:
    applied when an event concerned one of our tickets, foreign when none did."""
    with session_scope(engine) as session:
        row, integration, events = webhooks_service.claim_for_apply(session, delivery_row_id)
        if row is None or integration is None:
            return
        if not _concerns_us(session, integration.id, events):
            # A site-wide or organisation webhook sends every ticket's events; most are these.
            outcome = "foreign"
            detail = "; ".join(f"{e.external_key}: not a ticket of ours" for e in events)
            webhooks_service.mark_foreign(session, row, detail or "no event in it")
        else:
            outcome = "applied"
            cause = Cause(Source.WEBHOOK, f"delivery:{row.delivery_id}")
            outcomes = [apply_event(session, integration, event, cause) for event in events]
            webhooks_service.mark_applied(session, row, "; ".join(outcomes))
    WEBHOOK_DELIVERIES_PROCESSED.labels(outcome).inc()


def _concerns_us(session: Session, integration_id: object, events: list[TrackerEvent]) -> bool:
    """One of the events is about a ticket linked to an action item (one query for them all)."""
    keys = {event.external_key for event in events}
    if not keys:
        return False
    linked = session.exec(
        select(TicketLink.id)
        .where(TicketLink.integration_id == integration_id, col(TicketLink.external_key).in_(keys))
        .limit(1)
    ).first()
    return linked is not None


# -- verification signals -----------------------------------------------------------------------


def _signal_in_state(ctx: Context) -> str | None:
    """Verification evidence the ticket's whole state shows: its status or its labels."""
    event, options = ctx.event, ctx.options
    if (
        event.state == TicketState.DONE
        and options.verification_status
        and event.raw_status.strip().lower() == options.verification_status.lower()
    ):
        return f"status '{event.raw_status}' in {ctx.integration.kind}"
    label = (options.verification_label or "").lower()
    if label and label in {x.strip().lower() for x in event.labels}:
        return f"label '{options.verification_label}' on the ticket in {ctx.integration.kind}"
    return None


def _take_signal(ctx: Context, evidence: str) -> str:
    """Verify now when the item is closed as done; keep the signal for the close otherwise."""
    status = S(ctx.item.status)
    if status == S.CLOSED:
        return _verify(ctx, evidence, ctx.event.actor or ctx.integration.kind)
    if status in (S.OPEN, S.REOPENED):
        if ctx.link.verification_signal == evidence:
            return "verification signal already kept"
        ctx.link.verification_signal = evidence
        ctx.link.verification_signal_by = ctx.event.actor or ctx.integration.kind
        ctx.session.add(ctx.link)
        ctx.history(
            "verification_signal_kept",
            note=f"{evidence}; applied when the ticket closes as done",
        )
        return "verification signal kept until the ticket closes as done"
    return f"verification signal ignored: the item is {status}, not closed as done"


def _verify(ctx: Context, evidence: str, who: str) -> str:
    result = transition(
        ctx.session,
        ctx.item,
        S.VERIFIED,
        ctx.cause,
        note=evidence,
        verified_by=who,
        evidence=evidence,
    )
    ctx.link.verification_signal = ctx.link.verification_signal_by = None
    ctx.session.add(ctx.link)
    return "verified" if result.applied else f"not verified: {result.explanation}"


# -- handlers -------------------------------------------------------------------------------------


def _state(ctx: Context) -> str:
    event, item, link, kind = ctx.event, ctx.item, ctx.link, ctx.integration.kind
    link.last_state = event.state.value if event.state else None
    link.last_raw_status = event.raw_status
    ctx.session.add(link)
    status = S(item.status)
    signal = _signal_in_state(ctx)
    if event.state == TicketState.DONE:
        outcome = "already closed"
        if status not in (S.CLOSED, S.VERIFIED):
            moved = transition(
                ctx.session,
                item,
                S.CLOSED,
                ctx.cause,
                note=f"closed as done in {kind} by {ctx.who}",
                changes={"tracker_status": event.raw_status},
            )
            outcome = "closed" if moved.applied else f"not applied: {moved.explanation}"
        evidence = signal or link.verification_signal
        if evidence and S(item.status) == S.CLOSED:
            by = ctx.who if signal else (link.verification_signal_by or ctx.who)
            outcome += "; " + _verify(ctx, evidence, by)
        return outcome
    if event.state == TicketState.WONT_DO:
        if status == S.WONT_DO:
            return "already won't do"
        moved = transition(
            ctx.session,
            item,
            S.WONT_DO,
            ctx.cause,
            note=f"closed as won't do in {kind} by {ctx.who}",
            changes={"tracker_status": event.raw_status, "resolution": event.resolution},
        )
        return "won't do" if moved.applied else f"not applied: {moved.explanation}"
    if event.state in (TicketState.OPEN, TicketState.IN_PROGRESS):
        if status not in CLOSED_STATES:
            if signal:
                return _take_signal(ctx, signal)
            return "still open"
        link.verification_signal = link.verification_signal_by = None
        moved = transition(
            ctx.session,
            item,
            S.REOPENED,
            ctx.cause,
            note=f"reopened in {kind} by {ctx.who}",
            changes={"tracker_status": event.raw_status},
        )
        return "reopened" if moved.applied else f"not applied: {moved.explanation}"
    return "unknown state; nothing changed"


def _deleted(ctx: Context) -> str:
    ctx.link.last_state = TicketState.DELETED.value
    ctx.session.add(ctx.link)
    links.mark_error(
        ctx.session,
        ctx.item,
        f"the ticket {ctx.link.external_key} was deleted or moved in {ctx.integration.kind}",
    )
    ctx.history("ticket_deleted", ticket=ctx.link.external_key)
    return "ticket deleted; item flagged"


def _assignee(ctx: Context) -> str:
    event, item, integration = ctx.event, ctx.item, ctx.integration
    if event.assignee is None:
        ctx.history(
            "assignee_mirrored", note="unassigned in the tracker; the owner stays", assignee=None
        )
        return "unassigned; owner kept"
    people = ctx.session.exec(select(Person)).all()
    person = next(
        (p for p in people if account_on(p, integration.kind, integration.name) == event.assignee),
        None,
    )
    if person is None:
        ctx.history(
            "assignee_mirrored",
            note="no person has this tracker account; owner kept",
            assignee=event.assignee,
        )
        return "assignee has no person here; owner kept"
    if person.id == item.owner_person_id:
        return "owner unchanged"
    old = ctx.session.get(Person, item.owner_person_id) if item.owner_person_id else None
    item.owner_person_id, item.owner_team_id = person.id, None
    _bump(ctx)
    ctx.history("owner_mirrored", owner=[old.handle if old else None, person.handle])
    return f"owner is now {person.handle}"


def _due_date(ctx: Context) -> str:
    event, item = ctx.event, ctx.item
    if event.due_date == item.due_date:
        return "due date unchanged"
    old = item.due_date
    item.due_date = event.due_date
    _bump(ctx)
    ctx.history(
        "due_date_mirrored",
        due_date=[
            old.isoformat() if old else None,
            event.due_date.isoformat() if event.due_date else None,
        ],
    )
    return "due date mirrored"


def _bump(ctx: Context) -> None:
    ctx.item.version += 1
    ctx.item.updated_at = utcnow()
    ctx.session.add(ctx.item)


def _label_added(ctx: Context) -> str:
    label = (ctx.event.label or "").strip().lower()
    wanted = (ctx.options.verification_label or "").lower()
    if wanted and label == wanted:
        return _take_signal(ctx, f"label '{ctx.event.label}' added in {ctx.integration.kind}")
    return "label noted"


def _label_removed(ctx: Context) -> str:
    label = (ctx.event.label or "").strip().lower()
    wanted = (ctx.options.verification_label or "").lower()
    if wanted and label == wanted and (ctx.link.verification_signal or "").startswith("label "):
        ctx.link.verification_signal = ctx.link.verification_signal_by = None
        ctx.session.add(ctx.link)
        ctx.history("verification_signal_withdrawn", note=f"label '{ctx.event.label}' removed")
        return "kept verification signal withdrawn"
    return "label removal noted"


def _comment(ctx: Context) -> str:
    event, options = ctx.event, ctx.options
    text = (event.comment or "").strip()
    if not options.verify_command or not text.lower().startswith("/verified"):
        return "comment noted"
    refusal = _comment_refusal(ctx)
    if refusal is not None:
        who = event.actor or f"an unnamed {ctx.integration.kind} account"
        ctx.history(
            "verification_refused", note=f"/verified from {who} ignored: {refusal}", actor=who
        )
        return f"/verified from {who} refused: {refusal}"
    evidence = text[len("/verified") :].strip() or f"/verified in {ctx.integration.kind}"
    return _take_signal(ctx, evidence)


def _comment_refusal(ctx: Context) -> str | None:
    """Why the comment's author may not verify, or None when they may: the item's owner (their
    account on this integration) and the accounts in `verify_commenters`. Anyone who can comment
    on a ticket is not thereby someone who can vouch for the fix."""
    actor, integration = ctx.event.actor, ctx.integration
    if not actor:
        return "the comment names no author"
    if actor in ctx.options.verify_commenters:
        return None
    owner = ctx.session.get(Person, ctx.item.owner_person_id) if ctx.item.owner_person_id else None
    if owner is not None and account_on(owner, integration.kind, integration.name) == actor:
        return None
    whose = (
        f"the owner {owner.handle}'s {integration.kind} account"
        if owner is not None
        else "the owner's account (the item is owned by a team)"
    )
    return f"{actor} is neither {whose} nor listed in the integration's verify_commenters"


_HANDLERS: dict[EventKind, Callable[[Context], str]] = {
    EventKind.STATE_CHANGED: _state,
    EventKind.DELETED: _deleted,
    EventKind.ASSIGNEE_CHANGED: _assignee,
    EventKind.DUE_DATE_CHANGED: _due_date,
    EventKind.LABEL_ADDED: _label_added,
    EventKind.LABEL_REMOVED: _label_removed,
    EventKind.COMMENT_ADDED: _comment,
}
