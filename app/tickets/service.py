"""Ticket links: adopt an existing ticket, and show each item's ticket and sync state."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID, uuid4

from sqlmodel import Session, col, select

from app.action_items import service as action_items_service
from app.action_items.history import record
from app.action_items.models import ActionItem
from app.auth.service import Caller
from app.crypto import SecretBox
from app.db import utcnow
from app.errors import Conflict, InvalidInput, field_error
from app.integrations import service as integrations_service
from app.integrations.models import Integration
from app.settings import EgressSettings
from app.sync import jobs
from app.tickets import links
from app.tickets.models import TicketLink
from connectors.base import ConnectorError


@dataclass(frozen=True)
class TicketInfo:
    key: str | None
    url: str | None
    integration_id: UUID | None


def info_for(session: Session, item_ids: list[UUID]) -> dict[UUID, TicketInfo]:
    if not item_ids:
        return {}
    links = session.exec(
        select(TicketLink).where(col(TicketLink.action_item_id).in_(item_ids))
    ).all()
    return {
        link.action_item_id: TicketInfo(
            key=link.external_key, url=link.url, integration_id=link.integration_id
        )
        for link in links
    }


def link_existing(
    session: Session,
    item_id: UUID,
    *,
    ticket: str,
    integration_id: UUID | None,
    caller: Caller,
    box: SecretBox,
    egress: EgressSettings,
) -> ActionItem:
    """Adopt an existing ticket (URL or key) as this item's one ticket, instead of creating one.
    A reference that is not the tracker's own form is a 422 before anything is called."""
    item = action_items_service.get(session, item_id, for_update=True)
    if not item.committed:
        raise Conflict("Things to remain aware of are never ticketed")
    existing = links.link_of(session, item.id)
    if existing is not None and (existing.external_key or existing.create_attempts):
        raise Conflict(
            f"This item already has a ticket ({existing.external_key or 'being created'}); one ticket per item"
        )
    integration = _integration(session, item, integration_id)
    try:
        ref = integrations_service.connector_for(integration, box, egress).resolve_ref(ticket)
    except ConnectorError as exc:
        raise InvalidInput(
            f"{integration.name} could not find {ticket!r}: {exc.message}",
            errors=[field_error("body.ticket", exc.message)],
        ) from exc
    taken = session.exec(
        select(TicketLink.action_item_id).where(
            TicketLink.integration_id == integration.id, TicketLink.external_key == ref.external_key
        )
    ).first()
    if taken is not None:
        raise Conflict(f"{ref.external_key} is already the ticket of action item {taken}")
    if existing is not None:
        session.delete(existing)
        session.flush()
    session.add(
        TicketLink(
            action_item_id=item.id,
            integration_id=integration.id,
            project=integration.default_project,
            marker=str(uuid4()),
            external_key=ref.external_key,
            external_id=ref.external_id,
            url=ref.url,
            linked_at=utcnow(),
            adopted=True,
        )
    )
    # Nothing left to create: any waiting create is moot.
    jobs.supersede_waiting(session, item.id, "an existing ticket was linked")
    links.mark_synced(session, item)
    record(
        session,
        item,
        source="api",
        actor=caller.actor,
        kind="ticket_linked",
        changes={"ticket": ref.external_key, "url": ref.url},
    )
    session.add(item)
    session.flush()
    return item


def _integration(session: Session, item: ActionItem, integration_id: UUID | None) -> Integration:
    if integration_id is not None:
        return integrations_service.get(session, integration_id)
    route = integrations_service.route_for_item(session, item)
    if route is None:
        raise InvalidInput(
            "No integration takes this item; name one with integration_id",
            errors=[field_error("body.integration_id", "required when no route applies")],
        )
    return route.integration


def request_sync(session: Session, item_id: UUID) -> tuple[ActionItem, int]:
    """Retry now: parked or waiting jobs become due at once; with none, queue what the item needs."""
    item = action_items_service.get(session, item_id, for_update=True)
    if not item.committed or item.status == "draft":
        raise Conflict("Only committed items of a published postmortem have tickets to sync")
    due = jobs.retry_now(session, item.id)
    if due == 0:
        kind = jobs.UPDATE if links.has_ticket(links.link_of(session, item.id)) else jobs.CREATE
        jobs.enqueue(session, kind, action_item_id=item.id)
        due = 1
    links.mark_pending(session, item)
    session.flush()
    return item, due
