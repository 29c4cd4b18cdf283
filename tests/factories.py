"""Plain builders for request bodies and records made through the API."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import col

from app.action_items.models import ActionItem

_counter = itertools.count(1)

INCIDENT_START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def make_team(
    client: TestClient, slug: str = "payments", name: str | None = None
) -> dict[str, Any]:
    response = client.post("/v1/teams", json={"slug": slug, "name": name or slug.title()})
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def make_person(client: TestClient, handle: str = "alice", **overrides: Any) -> dict[str, Any]:
    body = {
        "handle": handle,
        "display_name": overrides.pop("display_name", handle.title() + " Example"),
        **overrides,
    }
    response = client.post("/v1/people", json=body)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def action_item_body(owner: str | None = "alice", **overrides: Any) -> dict[str, Any]:
    """A committed action item that passes every check."""
    body: dict[str, Any] = {
        "title": "Gate deploys on the canary's 5xx rate",
        "definition_of_done": ["Deploys halt when canary 5xx rate exceeds 1% for 5 minutes"],
        "verification": "Game day: push a failing build to staging and watch the gate stop it",
        "owner": owner,
        "due_date": (date.today() + timedelta(days=7)).isoformat(),
        "chain_level": "L4",
        "purpose": "prevent",
    }
    body.update(overrides)
    return body


def postmortem_body(**overrides: Any) -> dict[str, Any]:
    """A SEV2 postmortem that passes every error-level check (owner 'alice' must exist)."""
    n = next(_counter)
    started = INCIDENT_START
    body: dict[str, Any] = {
        "title": f"Checkout returned 502s for 40 minutes ({n})",
        "incident_ref": f"INC-{n:05d}",
        "severity": "SEV2",
        "started_at": iso(started),
        "detected_at": iso(started + timedelta(minutes=4)),
        "mitigated_at": iso(started + timedelta(minutes=30)),
        "resolved_at": iso(started + timedelta(minutes=40)),
        "summary": "A config push shortened the upstream pool; checkout failed until rollback.",
        "user_impact": "12% of checkouts failed for 40 minutes.",
        "services": ["checkout"],
        "tags": ["config-push"],
        "conditions": [
            {
                "category": "technical",
                "description": "Pool size had no lower bound",
                "failure_modes": ["config-push"],
            },
            {
                "category": "process",
                "description": "Config pushes skip the canary stage",
                "failure_modes": ["canary"],
            },
        ],
        "decision_points": [
            {
                "at": iso(started + timedelta(minutes=15)),
                "responder": "Bob Oncall",
                "decision_kind": "rollback",
                "knew": "A config push had gone out",
                "unsure_of": "Whether it was the cause",
                "would_have_helped": "A diff of the pushed config",
            },
        ],
        "timeline": [
            {
                "at": iso(started + timedelta(minutes=4)),
                "author": "alertmanager",
                "kind": "alert",
                "text": "5xx > 5%",
            },
        ],
        "action_items": [action_item_body()],
    }
    body.update(overrides)
    return body


def make_postmortem(client: TestClient, **overrides: Any) -> dict[str, Any]:
    response = client.post("/v1/postmortems", json=postmortem_body(**overrides))
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def make_late(engine: Engine, item_id: str, *, days: int) -> None:
    """Time passes: the item's due date moves `days` into the past, as the calendar would move
    it, without a publish that would refuse a date already past."""
    with engine.begin() as conn:
        conn.execute(
            update(ActionItem)
            .where(col(ActionItem.id) == UUID(item_id))
            .values(due_date=date.today() - timedelta(days=days))
        )
