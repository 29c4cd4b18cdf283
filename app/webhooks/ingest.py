"""Receiving a delivery: verify and parse it in the request, store it through the inbox writer
(group commit), answer once it is committed.

Verification and parsing are CPU work and run on the event loop (a thread hop would cost more
than they do); only a cache miss reads the database, in the thread pool. The request then awaits
its batch's commit without holding a thread.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from fastapi.concurrency import run_in_threadpool

from app.errors import AppError, NotFound, Unauthorized, field_error
from app.webhooks.inbox_writer import Arrival, InboxWriter
from app.webhooks.integration_cache import IntegrationCache, ReceivingIntegration
from connectors import registry
from connectors.base import MalformedPayload, WebhookRejected
from connectors.webhook_support import PayloadShapeError

# The inbox's delivery_id column holds this many characters.
MAX_DELIVERY_ID = 200


class MalformedBody(AppError):
    status_code = 400
    title = "Malformed body"


@dataclass(frozen=True)
class Inbox:
    """What receiving needs of the app: the integration cache and the inbox writer."""

    integrations: IntegrationCache
    writer: InboxWriter


async def receive(
    inbox: Inbox,
    integration_id: UUID,
    headers: Mapping[str, str],
    body: bytes,
    now: datetime,
) -> dict[str, Any]:
    """Verify and store a delivery; the answer goes out once it is stored, before any state
    changes (the worker applies its events)."""
    integration = inbox.integrations.get(integration_id)
    if integration is None:
        integration = await run_in_threadpool(inbox.integrations.load, integration_id)
    try:
        arrival = verified(integration, headers, body, now)
    except Unauthorized:
        if not integration.cached:
            raise
        # Another process may have changed the secret since it was cached: read it again once.
        fresh = await run_in_threadpool(inbox.integrations.load, integration_id)
        if fresh == integration:
            raise
        arrival = verified(fresh, headers, body, now)
    try:
        stored = await inbox.writer.store(arrival)
    except NotFound:
        # Deleted since it was cached.
        inbox.integrations.forget(integration_id)
        raise
    if stored.row_id is None:
        return {"status": stored.status, "delivery_id": arrival.delivery_id}
    return {"status": stored.status, "delivery_id": arrival.delivery_id, "id": str(stored.row_id)}


def verified(
    integration: ReceivingIntegration, headers: Mapping[str, str], body: bytes, now: datetime
) -> Arrival:
    """The delivery as its inbox row, once its signature and shape are checked: 401 for a
    delivery nothing proves came from the tracker, 400 naming where a signed body is wrong."""
    if integration.secret is None and not integration.options.get("allow_unsigned", False):
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
    parser = registry.webhook_parser(integration.kind)
    # The signature first: unsigned junk is refused before anything reads its shape.
    try:
        signed = parser.verify_signature(headers, body, integration.secret, now)
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
    webhook = registry.profile(integration.kind).webhook
    # The body is decoded again only when no header names the event.
    event_name = webhook.event_name(headers, None) or webhook.event_name(
        headers, _json_object(body)
    )
    return Arrival(
        integration_id=integration.id,
        delivery_id=delivery_id,
        event=event_name[:100],
        body=body.decode("utf-8", errors="replace"),
        # Never the signature: it proves nothing later.
        headers={k: v for k, v in headers.items() if k in webhook.kept_headers},
        applies=bool(events),
        received_at=now,
    )


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
