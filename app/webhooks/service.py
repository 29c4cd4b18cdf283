"""Inbound webhooks once stored: applying them in the inbound job lane, listing and retrying.
Receiving (verify, store once, answer) is app/webhooks/ingest.py."""

from __future__ import annotations

import logging
from uuid import UUID

from sqlmodel import Session, col, select

from app.db import utcnow
from app.errors import Conflict, NotFound
from app.integrations.models import Integration
from app.sync import jobs
from app.webhooks.models import WebhookDelivery
from connectors import registry
from connectors.base import (
    TrackerEvent,
    TrackerKind,
    WebhookParser,
)

logger = logging.getLogger("followthrough.webhooks")


def _parser(integration: Integration) -> WebhookParser:
    return registry.webhook_parser(TrackerKind(integration.kind))


def claim_for_apply(
    session: Session, delivery_row_id: object
) -> tuple[WebhookDelivery | None, Integration | None, list[TrackerEvent]]:
    """The stored delivery (locked) and its events, when it is still waiting to be applied."""
    row = session.get(WebhookDelivery, delivery_row_id, with_for_update=True)
    if row is None or row.outcome not in ("received", "failed"):
        return None, None, []
    integration = session.get(Integration, row.integration_id)
    if integration is None:
        return None, None, []
    events = _parser(integration).parse_events(
        dict(row.headers), row.body.encode(), integration.options
    )
    return row, integration, events


def mark_applied(session: Session, row: WebhookDelivery, detail: str) -> None:
    row.outcome = "applied"
    row.detail = detail[:4000]
    row.processed_at = utcnow()
    session.add(row)


def mark_foreign(session: Session, row: WebhookDelivery, detail: str) -> None:
    """None of its events concerned a ticket of ours. Its body goes at once (nothing reads a
    processed delivery's body again, and most of a busy tracker's deliveries are these); the
    row stays, so a redelivery is a duplicate, until retention deletes it (app/retention.py)."""
    row.outcome = "foreign"
    row.detail = detail[:4000]
    row.processed_at = utcnow()
    row.body = ""
    row.headers = {}
    session.add(row)


def mark_failed(session: Session, delivery_row_id: object, reason: str) -> None:
    """Its job was parked: say so on the delivery, with why."""
    row = session.get(WebhookDelivery, delivery_row_id, with_for_update=True)
    if row is not None and row.outcome in ("received", "failed"):
        row.outcome = "failed"
        row.detail = reason[:4000]
        row.processed_at = utcnow()
        session.add(row)


def retry(session: Session, delivery_row_id: UUID) -> WebhookDelivery:
    """Apply a failed delivery again: its parked job is due now with a fresh attempt budget."""
    row = session.get(WebhookDelivery, delivery_row_id, with_for_update=True)
    if row is None:
        raise NotFound(f"No webhook delivery with id {delivery_row_id}")
    if row.outcome != "failed":
        raise Conflict(f"This delivery is {row.outcome}; only a failed delivery can be retried")
    job = jobs.waiting_for_delivery(session, row.id)
    if job is None:
        jobs.enqueue_delivery(session, row.id, row.integration_id)
    elif job.status == "dead":
        jobs.retry(session, job.id)
    row.outcome = "received"
    row.processed_at = None
    session.add(row)
    session.flush()
    return row


def recent(session: Session, *, integration_id: UUID | None, limit: int) -> list[WebhookDelivery]:
    query = select(WebhookDelivery).order_by(col(WebhookDelivery.received_at).desc()).limit(limit)
    if integration_id is not None:
        query = query.where(WebhookDelivery.integration_id == integration_id)
    return list(session.exec(query))
