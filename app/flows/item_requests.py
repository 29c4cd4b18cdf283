"""Close, mark won't do and reopen through the API: the tracker owns a ticket's state.

An item with a ticket (or on its way to one) does not change status when the API asks: the
request goes to the ticket through the job queue (GitHub state and state_reason, a Jira
transition into or out of the done category with its resolution, Linear's completed, canceled
or unstarted state), and the item follows when the tracker confirms. Until then the item shows
`requested_status`, and reconciliation, which only applies differences the tracker shows, has
nothing to undo. An item that will never have a ticket changes at once. Verifying stays the
service's own (`action_items.service.verify`).
"""

from __future__ import annotations

from uuid import UUID

from sqlmodel import Session

from app.action_items import service as action_items_service
from app.action_items.history import record
from app.action_items.models import ActionItem
from app.action_items.schemas import CloseRequest, ReopenRequest
from app.action_items.state import ensure_transition, transition
from app.auth.service import Caller
from app.db import utcnow
from app.enums import ActionItemStatus as S
from app.integrations import service as integrations_service
from app.sync import jobs
from app.tickets import links
from connectors.base import TicketState

TICKET_STATE = {
    S.CLOSED: TicketState.DONE,
    S.WONT_DO: TicketState.WONT_DO,
    S.REOPENED: TicketState.OPEN,
}


def close(
    session: Session, item_id: UUID, data: CloseRequest, caller: Caller
) -> tuple[ActionItem, bool]:
    target = S.CLOSED if data.resolution == "done" else S.WONT_DO
    return request(session, item_id, target, caller, note=data.note)


def reopen(
    session: Session, item_id: UUID, data: ReopenRequest, caller: Caller
) -> tuple[ActionItem, bool]:
    return request(session, item_id, S.REOPENED, caller, note=data.reason)


def request(
    session: Session, item_id: UUID, target: S, caller: Caller, *, note: str | None
) -> tuple[ActionItem, bool]:
    """Move the item, or ask its ticket to move; True when the change went to the tracker."""
    item = action_items_service.get(session, item_id, for_update=True)
    action_items_service.require_committed(item)
    ensure_transition(S(item.status), target)
    cause = action_items_service.api_cause(caller)
    if not _has_or_gets_ticket(session, item):
        transition(session, item, target, cause, note=note)
        return item, False
    item.requested_status = target.value
    item.version += 1
    item.updated_at = utcnow()
    session.add(item)
    record(
        session,
        item,
        source=cause.source,
        actor=cause.actor,
        kind="status_requested",
        from_status=item.status,
        to_status=target.value,
        note=(f"{note}; " if note else "")
        + "sent to the ticket, the item follows when the tracker confirms",
    )
    jobs.enqueue(
        session,
        jobs.SET_STATE,
        action_item_id=item.id,
        payload={"state": TICKET_STATE[target].value, "asked_by": caller.actor, "comment": note},
    )
    session.flush()
    return item, True


def _has_or_gets_ticket(session: Session, item: ActionItem) -> bool:
    link = links.link_of(session, item.id)
    if link is not None:
        return link.last_state != TicketState.DELETED.value
    return item.status != S.DRAFT and integrations_service.route_for_item(session, item) is not None
