"""Enqueue sync jobs inside the caller's transaction: the change and its job commit together."""

from __future__ import annotations

from uuid import UUID

from sqlmodel import Session, col, select

from app.action_items.models import ActionItem
from app.db import utcnow
from app.integrations import service as integrations_service
from app.sync.models import OutboxEntry
from app.tickets.models import TicketLink

CREATE = "ticket.create"
UPDATE = "ticket.update"


def enqueue(session: Session, operation: str, *, action_item_id: UUID) -> OutboxEntry:
    """Queue `operation` for the item unless the same one is already waiting (updates coalesce:
    the worker always sends the item's content as it is when the job runs)."""
    waiting = session.exec(
        select(OutboxEntry).where(
            OutboxEntry.action_item_id == action_item_id,
            OutboxEntry.operation == operation,
            col(OutboxEntry.status).in_(["pending", "leased"]),
        )
    ).first()
    if waiting is not None and waiting.status == "pending":
        return waiting
    item = session.get(ActionItem, action_item_id)
    entry = OutboxEntry(
        operation=operation,
        action_item_id=action_item_id,
        integration_id=_integration_of(session, item),
    )
    session.add(entry)
    if item is not None and item.sync_state != "pending":
        item.sync_state = "pending"
        item.sync_error = None
        session.add(item)
    session.flush()
    return entry


def _integration_of(session: Session, item: ActionItem | None) -> UUID | None:
    """The integration the job will talk to, so the worker can pace jobs per integration."""
    if item is None:
        return None
    link = session.exec(select(TicketLink).where(TicketLink.action_item_id == item.id)).first()
    if link is not None:
        return link.integration_id
    route = integrations_service.route_for_item(session, item)
    return route.integration.id if route else None


def retry_now(session: Session, action_item_id: UUID) -> int:
    """Make the item's parked or waiting jobs due now with a fresh attempt budget."""
    entries = session.exec(
        select(OutboxEntry).where(
            OutboxEntry.action_item_id == action_item_id,
            col(OutboxEntry.status).in_(["pending", "dead"]),
        )
    ).all()
    for entry in entries:
        entry.status = "pending"
        entry.attempts = 0
        entry.available_at = utcnow()
        entry.updated_at = utcnow()
        session.add(entry)
    session.flush()
    return len(entries)
