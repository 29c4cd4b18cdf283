"""Inbound webhooks: verify, store once, answer fast; apply later through the outbox."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from app.crypto import SecretBox
from app.db import session_scope, utcnow
from app.errors import AppError, NotFound, Unauthorized
from app.integrations.models import Integration
from app.sync.models import OutboxEntry
from app.tickets.events import Origin, apply_event
from app.webhooks.models import WebhookDelivery
from connectors import registry
from connectors.base import MalformedPayload, TrackerKind, WebhookParser

logger = logging.getLogger("followthrough.webhooks")

PROCESS = "webhook.process"
# Headers worth keeping with a delivery (never the signature: it proves nothing later).
KEPT_HEADERS = (
    "x-github-event",
    "x-github-delivery",
    "x-atlassian-webhook-identifier",
    "x-atlassian-webhook-retry",
    "linear-delivery",
    "linear-event",
    "content-type",
    "user-agent",
)


class MalformedBody(AppError):
    status_code = 400
    title = "Malformed body"


def _parser(integration: Integration) -> WebhookParser:
    return registry.webhook_parser(TrackerKind(integration.kind))


def receive(
    engine: Engine,
    box: SecretBox,
    integration_id: UUID,
    headers: Mapping[str, str],
    body: bytes,
    now: datetime,
) -> dict[str, Any]:
    """Verify and store a delivery; the answer goes out before any state changes."""
    with session_scope(engine, read_only=True) as session:
        integration = session.get(Integration, integration_id)
        if integration is None:
            raise NotFound(f"No integration with id {integration_id}")
        session.expunge(integration)
    secret = (
        box.open(integration.webhook_secret_sealed) if integration.webhook_secret_sealed else None
    )
    parser = _parser(integration)
    if not parser.verify_signature(headers, body, secret, now):
        raise Unauthorized(
            "The webhook signature is missing or does not match this integration's secret"
        )
    try:
        events = parser.parse_events(headers, body, integration.options)
    except MalformedPayload as exc:
        raise MalformedBody(f"The delivery body cannot be read: {exc}") from exc
    delivery_id = parser.delivery_id(headers, body)
    kept = {k: v for k, v in headers.items() if k in KEPT_HEADERS}
    event_name = kept.get("x-github-event") or kept.get("linear-event") or _body_event(body)
    try:
        with session_scope(engine) as session:
            row = WebhookDelivery(
                integration_id=integration.id,
                delivery_id=delivery_id,
                event=event_name[:100],
                body=body.decode("utf-8", errors="replace"),
                headers=kept,
                outcome="received" if events else "ignored",
                detail=None if events else "event type not used",
                processed_at=None if events else utcnow(),
            )
            session.add(row)
            session.flush()
            if events:
                session.add(
                    OutboxEntry(
                        operation=PROCESS, delivery_id=row.id, integration_id=integration.id
                    )
                )
            stored_id = row.id
    except IntegrityError:
        _count_redelivery(engine, integration.id, delivery_id)
        return {"status": "duplicate", "delivery_id": delivery_id}
    return {
        "status": "accepted" if events else "ignored",
        "delivery_id": delivery_id,
        "id": str(stored_id),
    }


def _body_event(body: bytes) -> str:
    try:
        data = json.loads(body)
    except ValueError:
        return ""
    if isinstance(data, dict):
        return str(data.get("webhookEvent") or data.get("type") or "")
    return ""


def _count_redelivery(engine: Engine, integration_id: UUID, delivery_id: str) -> None:
    with session_scope(engine) as session:
        row = session.exec(
            select(WebhookDelivery).where(
                WebhookDelivery.integration_id == integration_id,
                WebhookDelivery.delivery_id == delivery_id,
            )
        ).first()
        if row is not None:
            row.redeliveries += 1
            session.add(row)


def process(engine: Engine, delivery_row_id: UUID) -> None:
    """Apply a stored delivery's events, all in one transaction, and record the outcome."""
    with session_scope(engine) as session:
        row = session.get(WebhookDelivery, delivery_row_id, with_for_update=True)
        if row is None or row.outcome != "received":
            return
        integration = session.get(Integration, row.integration_id)
        if integration is None:
            return
        headers = dict(row.headers)
        events = _parser(integration).parse_events(headers, row.body.encode(), integration.options)
        origin = Origin(source="webhook", actor=f"delivery:{row.delivery_id}")
        outcomes = [apply_event(session, integration, event, origin) for event in events]
        row.outcome = "applied"
        row.detail = "; ".join(outcomes)[:4000]
        row.processed_at = utcnow()
        session.add(row)


def recent(session: Session, *, integration_id: UUID | None, limit: int) -> list[WebhookDelivery]:
    query = select(WebhookDelivery).order_by(col(WebhookDelivery.received_at).desc()).limit(limit)
    if integration_id is not None:
        query = query.where(WebhookDelivery.integration_id == integration_id)
    return list(session.exec(query))
