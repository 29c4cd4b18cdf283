"""Inbound webhooks: verify, store once, answer fast; applied later in the inbound job lane."""

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
from app.errors import AppError, Conflict, NotFound, Unauthorized, field_error
from app.integrations.models import Integration
from app.sync import jobs
from app.webhooks.models import WebhookDelivery
from connectors import registry
from connectors.base import (
    MalformedPayload,
    TrackerEvent,
    TrackerKind,
    WebhookParser,
    WebhookRejected,
)
from connectors.webhook_support import PayloadShapeError

logger = logging.getLogger("followthrough.webhooks")


# The inbox's delivery_id column holds this many characters.
MAX_DELIVERY_ID = 200


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
    if secret is None and not integration.options.get("allow_unsigned", False):
        # Jira sends admin webhooks unsigned when no secret is set, and its parser accepts
        # them; unauthenticated closure and verification is refused unless the admin opted in.
        raise Unauthorized(
            f"The delivery is refused: integration {integration.id} has no webhook secret, so"
            " nothing proves the delivery came from the tracker. Set one with"
            f" POST /v1/integrations/{integration.id}/webhook (generates it) or PATCH"
            f" /v1/integrations/{integration.id} with webhook_secret, and configure the same"
            " secret in the tracker; or, unsafely, accept unsigned deliveries with"
            " options.allow_unsigned: true"
        )
    parser = _parser(integration)
    # The signature first: unsigned junk is refused before anything reads its shape.
    try:
        signed = parser.verify_signature(headers, body, secret, now)
    except WebhookRejected as exc:
        raise Unauthorized(f"The delivery is refused: {exc}") from exc
    except MalformedPayload as exc:
        # Signed, then found unreadable while looking for its send time (Linear).
        raise _malformed(exc) from None
    if not signed:
        raise Unauthorized(
            "The webhook signature is missing or does not match this integration's secret"
        )
    try:
        events = parser.parse_events(headers, body, integration.options)
    except MalformedPayload as exc:
        raise _malformed(exc) from None
    delivery_id = parser.delivery_id(headers, body)
    if len(delivery_id) > MAX_DELIVERY_ID:
        raise MalformedBody(
            f"The delivery id header is {len(delivery_id)} characters long; at most"
            f" {MAX_DELIVERY_ID} are accepted",
            errors=[field_error("header", f"delivery id longer than {MAX_DELIVERY_ID}")],
        )
    webhook = registry.profile(TrackerKind(integration.kind)).webhook
    # Never the signature: it proves nothing later.
    kept = {k: v for k, v in headers.items() if k in webhook.kept_headers}
    event_name = webhook.event_name(headers, _json_object(body))
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
                jobs.enqueue_delivery(session, row.id, integration.id)
            stored_id = row.id
    except IntegrityError:
        _count_redelivery(engine, integration.id, delivery_id)
        return {"status": "duplicate", "delivery_id": delivery_id}
    return {
        "status": "accepted" if events else "ignored",
        "delivery_id": delivery_id,
        "id": str(stored_id),
    }


def _malformed(exc: MalformedPayload) -> MalformedBody:
    """A 400 naming where the body is wrong; nothing of it is stored."""
    errors = exc.errors if isinstance(exc, PayloadShapeError) else [field_error("body", str(exc))]
    return MalformedBody(f"The delivery body cannot be read: {exc}"[:1000], errors=errors)


def _json_object(body: bytes) -> dict[str, Any] | None:
    try:
        data = json.loads(body)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


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
