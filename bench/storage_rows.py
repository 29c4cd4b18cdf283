"""What a day of webhook deliveries is made of, for bench/storage_day.py: three integrations
(GitHub, Jira, Linear) and their deliveries as each tracker sends them, the rows the receiver and
the worker leave for each, and a check of those rows against the real path."""

from __future__ import annotations

import json
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import insert, select, text
from sqlalchemy.engine import Engine

from app.action_items.models import ActionItem
from app.db import session_scope, utcnow
from app.sync.models import Job
from app.sync.worker import Worker
from app.tickets.models import TicketLink
from app.webhooks.models import WebhookDelivery
from connectors import registry
from connectors.base import TrackerKind
from tests.e2e.webhook_support import sign
from tests.fake_trackers.contracts import load_json

SECRET = "storage-day-secret"
# Stands for the ticket number or key in a body template.
PLACEHOLDER = 987654321
LINKED_PER_TRACKER = 100
KINDS = ("ours", "ignored", "foreign")


@dataclass
class Tracker:
    """One integration and how its deliveries look: body templates by kind of delivery."""

    kind: str
    integration_id: uuid.UUID
    templates: dict[str, str]
    key: Callable[[int], str]
    headers: Callable[[str], dict[str, str]]
    kept: tuple[str, ...] = ()
    # The event name the receiver reads (a header, or Jira's body field), by kind of delivery.
    events: dict[str, str] = field(default_factory=dict)

    def delivery(self, category: str, number: int) -> tuple[str, dict[str, str], str]:
        """(delivery id, headers as sent, body) of one delivery about ticket `number`."""
        delivery_id = str(uuid.uuid4())
        body = self.templates[category].replace(str(PLACEHOLDER), str(number))
        return delivery_id, self.headers(delivery_id), body


def _github(integration_id: uuid.UUID) -> Tracker:
    def body(name: str) -> str:
        payload = load_json(f"github/webhooks/issues/{name}")
        payload["repository"]["full_name"] = "acme/api"
        payload["issue"]["number"] = PLACEHOLDER
        payload["issue"]["updated_at"] = "2030-01-01T00:00:00Z"
        return json.dumps(payload)

    closed = body("closed.payload.json")
    return Tracker(
        kind="github",
        integration_id=integration_id,
        templates={"ours": closed, "foreign": closed, "ignored": body("opened.payload.json")},
        key=lambda n: f"acme/api#{n}",
        headers=lambda d: {
            "x-github-event": "issues",
            "x-github-delivery": d,
            "x-github-hook-id": "4120",
            "content-type": "application/json",
            "user-agent": "GitHub-Hookshot/7c1d2a0",
        },
    )


def _jira(integration_id: uuid.UUID) -> Tracker:
    def body(name: str) -> str:
        payload = load_json(f"jira/webhooks/{name}")
        payload["issue"]["key"] = f"OPS-{PLACEHOLDER}"
        payload["timestamp"] = 1893456000000
        return json.dumps(payload)

    done = body("jira_issue_updated.status_to_done.json")
    return Tracker(
        kind="jira",
        integration_id=integration_id,
        templates={"ours": done, "foreign": done, "ignored": body("jira_issue_created.json")},
        key=lambda n: f"OPS-{n}",
        headers=lambda d: {
            "x-atlassian-webhook-identifier": d,
            "x-atlassian-webhook-retry": "0",
            "content-type": "application/json",
            "user-agent": "Atlassian Webhook HTTP Client",
        },
    )


def _linear(integration_id: uuid.UUID) -> Tracker:
    def body(name: str, **data: Any) -> str:
        payload = load_json(f"linear/webhooks/{name}")
        payload["data"].update(data)
        payload["data"].pop("identifier", None)
        if "updatedFrom" in payload:
            # A state change: what Linear names in updatedFrom is what changed.
            payload["updatedFrom"] = {"stateId": "s-before", "updatedAt": "2029-12-31T00:00:00Z"}
        # Freshness is checked against the clock at receipt; the bulk rows keep this one.
        payload["webhookTimestamp"] = 1893456000000
        return json.dumps(payload)

    update = body(
        "issue_update.json",
        team={"id": "t-1", "key": "ENG", "name": "Eng"},
        number=PLACEHOLDER,
        updatedAt="2030-01-01T00:00:00.000Z",
        state={"id": "s-done", "name": "Done", "type": "completed"},
    )
    return Tracker(
        kind="linear",
        integration_id=integration_id,
        templates={"ours": update, "foreign": update, "ignored": body("issue_create.json")},
        key=lambda n: f"ENG-{n}",
        headers=lambda d: {
            "linear-delivery": d,
            "linear-event": "Issue",
            "content-type": "application/json; charset=utf-8",
            "user-agent": "Linear-Webhook",
        },
    )


# -- set-up ---------------------------------------------------------------------------------------


def connect(client: TestClient) -> list[Tracker]:
    """The three integrations, as an admin creates them (no call reaches a tracker)."""
    bodies = {
        "github": {"credentials": {"token": "x"}, "default_project": "acme/api"},
        "jira": {
            "base_url": "https://acme.atlassian.net",
            "credentials": {"email": "bot@example.com", "api_token": "x"},
            "default_project": "OPS",
        },
        "linear": {"credentials": {"api_key": "lin_api_x"}, "default_project": "t-1"},
    }
    trackers = []
    for kind, build in (("github", _github), ("jira", _jira), ("linear", _linear)):
        response = client.post(
            "/v1/integrations",
            json={"kind": kind, "name": f"{kind}-org", "webhook_secret": SECRET, **bodies[kind]},
        )
        assert response.status_code == 201, response.text
        tracker = build(uuid.UUID(response.json()["id"]))
        profile = registry.profile(TrackerKind(kind)).webhook
        tracker.kept = profile.kept_headers
        tracker.events = {
            category: profile.event_name(tracker.headers("d"), json.loads(body))
            for category, body in tracker.templates.items()
        }
        trackers.append(tracker)
    return trackers


def link_tickets(engine: Engine, trackers: list[Tracker]) -> None:
    """Tickets 1..LINKED_PER_TRACKER of every tracker belong to generated action items."""
    with session_scope(engine) as session:
        wanted = LINKED_PER_TRACKER * len(trackers)
        items = list(session.execute(select(ActionItem.id).limit(wanted)).scalars())
        assert len(items) == wanted, "too few generated items"
        rows = [
            {
                "id": uuid.uuid4(),
                "action_item_id": items[t * LINKED_PER_TRACKER + n - 1],
                "integration_id": tracker.integration_id,
                "project": "acme/api",
                "marker": uuid.uuid4().hex,
                "create_attempts": 1,
                "intent_at": utcnow(),
                "external_key": tracker.key(n),
                "linked_at": utcnow(),
                "adopted": False,
                "duplicate_keys": [],
            }
            for t, tracker in enumerate(trackers)
            for n in range(1, LINKED_PER_TRACKER + 1)
        ]
        session.execute(insert(TicketLink), rows)


# -- the rows ---------------------------------------------------------------------------------


def rows_for(
    tracker: Tracker,
    category: str,
    number: int,
    delivery: tuple[str, dict[str, str], str],
    at: datetime,
    *,
    with_retention: bool,
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The delivery row and its job as the receiver and the worker leave them."""
    delivery_id, headers, body = delivery
    key = tracker.key(number)
    row_id = uuid.uuid4()
    row: dict[str, Any] = {
        "id": row_id,
        "integration_id": tracker.integration_id,
        "delivery_id": delivery_id,
        "event": tracker.events[category][:100],
        "body": body,
        "headers": {k: v for k, v in headers.items() if k in tracker.kept},
        "received_at": at,
        "processed_at": at,
        "redeliveries": 0,
    }
    if category == "ignored":
        row.update(outcome="ignored", detail="event type not used")
        return row, None
    if category == "foreign":
        row.update(outcome="applied", detail=f"{key}: not a ticket of ours")
        if with_retention:
            row.update(outcome="foreign", body="", headers={})
    else:
        row.update(outcome="applied", detail=f"{key}: closed")
    job = {
        "id": uuid.uuid4(),
        "kind": "webhook.apply",
        "lane": "inbound",
        "payload": {},
        "delivery_id": row_id,
        "integration_id": tracker.integration_id,
        "status": "done",
        "attempts": 0,
        "available_at": at,
        "leased_until": None,
        "lease_owner": f"bench/{uuid.uuid4().hex[:8]}",
        "last_error": None,
        "created_at": at,
        "updated_at": at,
    }
    return row, job


def post(
    client: TestClient, tracker: Tracker, category: str, number: int
) -> tuple[str, dict[str, str], str]:
    """Send one delivery as its tracker signs it, through the receiver; returns what was sent."""
    delivery_id, headers, body = tracker.delivery(category, number)
    if tracker.kind == "linear":
        # Fresh for the receiver's 60-second check.
        body = body.replace("1893456000000", str(int(time.time() * 1000)))
    signature = sign(SECRET, body.encode())
    signed = {
        "github": {"x-hub-signature-256": f"sha256={signature}"},
        "jira": {"x-hub-signature": f"sha256={signature}"},
        "linear": {"linear-signature": signature},
    }[tracker.kind]
    response = client.post(
        f"/v1/webhooks/{tracker.integration_id}",
        content=body.encode(),
        headers={**headers, **signed},
    )
    assert response.status_code == 202, response.text
    return delivery_id, headers, body


COMPARED = ("integration_id", "delivery_id", "event", "body", "headers", "outcome", "detail")
COMPARED_JOB = ("kind", "lane", "status", "attempts", "integration_id", "payload")


def check_shapes(app: Any, client: TestClient, trackers: list[Tracker]) -> int:
    """Send deliveries of every tracker and kind through the real path; fail unless the stored
    rows equal what the bulk path writes for them. Returns how many were compared."""
    engine: Engine = app.state.engine
    worker = Worker(engine, app.state.settings)
    expected: dict[str, tuple[dict[str, Any], dict[str, Any] | None]] = {}
    numbers = {"ours": [1, 2, 3], "foreign": [5001, 5002, 5003], "ignored": [7001, 7002]}
    for tracker in trackers:
        for category in KINDS:
            for number in numbers[category]:
                delivery_id, headers, body = post(client, tracker, category, number)
                expected[delivery_id] = rows_for(
                    tracker,
                    category,
                    number,
                    (delivery_id, headers, body),
                    utcnow(),
                    with_retention=True,
                )
    while worker.run_once(limit=50):
        pass
    compared = 0
    with engine.connect() as conn:
        for delivery_id, (row, job) in expected.items():
            stored = (
                conn.execute(
                    select(WebhookDelivery).where(WebhookDelivery.delivery_id == delivery_id)  # type: ignore[arg-type]
                )
                .mappings()
                .one()
            )
            for name in COMPARED:
                if name == "detail" and row["detail"].endswith(": closed"):
                    continue
                got = stored[name]
                if name == "headers" and isinstance(got, str):
                    got = json.loads(got)
                if got != row[name]:
                    sys.exit(
                        f"shape check: {delivery_id} {name}: stored {got!r}, bulk {row[name]!r}"
                    )
            stored_job = (
                conn.execute(select(Job).where(Job.delivery_id == stored["id"]))  # type: ignore[arg-type]
                .mappings()
                .one_or_none()
            )
            if (stored_job is None) != (job is None):
                sys.exit(f"shape check: {delivery_id}: stored job {stored_job}, bulk job {job}")
            if job is not None and stored_job is not None:
                for name in COMPARED_JOB:
                    if stored_job[name] != job[name]:
                        sys.exit(
                            f"shape check: {delivery_id} job {name}: stored {stored_job[name]!r},"
                            f" bulk {job[name]!r}"
                        )
            compared += 1
        conn.execute(text("DELETE FROM job WHERE lane = 'inbound'"))
        conn.execute(text("DELETE FROM webhook_delivery"))
        conn.commit()
    return compared
