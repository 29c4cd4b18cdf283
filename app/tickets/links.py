"""An action item's one ticket and its sync state: the only code that reads the link by item or
writes `ActionItem.sync_state`."""

from __future__ import annotations

from uuid import UUID

from sqlmodel import Session, select

from app.action_items.models import ActionItem
from app.db import utcnow
from app.enums import SyncState
from app.tickets.models import TicketLink
from connectors.base import TicketRef


def link_of(session: Session, item_id: UUID, *, for_update: bool = False) -> TicketLink | None:
    query = select(TicketLink).where(TicketLink.action_item_id == item_id)
    if for_update:
        query = query.with_for_update()
    return session.exec(query).first()


def has_ticket(link: TicketLink | None) -> bool:
    return link is not None and bool(link.external_key)


def ticket_ref(link: TicketLink) -> TicketRef:
    return TicketRef(
        external_key=link.external_key or "", external_id=link.external_id or "", url=link.url or ""
    )


def mark_pending(session: Session, item: ActionItem) -> None:
    if item.sync_state != SyncState.PENDING:
        item.sync_state = SyncState.PENDING.value
        item.sync_error = None
        session.add(item)


def mark_synced(session: Session, item: ActionItem) -> None:
    item.sync_state = SyncState.SYNCED.value
    item.sync_error = None
    item.last_synced_at = utcnow()
    session.add(item)


def mark_error(session: Session, item: ActionItem, message: str) -> None:
    item.sync_state = SyncState.ERROR.value
    item.sync_error = message
    session.add(item)


def note_retrying(session: Session, item: ActionItem, message: str) -> None:
    """A failure that will be retried: the state stays pending, the reason is shown."""
    item.sync_error = message
    session.add(item)


def note_waiting(session: Session, item: ActionItem, message: str) -> None:
    """Held back on purpose (a tracker's write budget is spent): the state stays pending and
    says until when."""
    if item.sync_state != SyncState.PENDING:
        item.sync_state = SyncState.PENDING.value
    item.sync_error = message
    session.add(item)
