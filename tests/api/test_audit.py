"""The audit log: every change a token makes and every admin action, in the change's own
transaction, readable by admin tokens only, and never holding a secret."""

from __future__ import annotations

import getpass
import hashlib
import itertools
import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from ipaddress import ip_network
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import col, select
from typer.testing import CliRunner

from app.audit import service as audit_service
from app.audit.models import AuditEvent
from app.audit.recorder import MUTATING, takes_token
from app.cli import app as cli
from app.db import session_scope
from app.enums import Scope
from app.sync.models import Job
from app.webhooks.models import WebhookDelivery
from tests.factories import (
    INCIDENT_START,
    action_item_body,
    iso,
    make_person,
    make_postmortem,
    make_team,
    postmortem_body,
)
from tests.fake_trackers.github import TOKEN as GITHUB_FAKE_TOKEN
from tests.fake_trackers.github import FakeGitHub
from tests.problems import problem

ADMIN = "token:admin-tests"  # the `client` fixture's token
UUID_SEGMENT = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
CREDENTIAL = "ghp_audit_credential_never_logged"
WEBHOOK_SECRET = "audit-webhook-secret-never-logged"


# --- reading the log -------------------------------------------------------------------------


def rows(engine: Engine) -> list[dict[str, Any]]:
    """Every audit row as the API shows it, straight from the database, newest first."""
    with session_scope(engine, read_only=True) as session:
        events = session.exec(
            select(AuditEvent).order_by(col(AuditEvent.at).desc(), col(AuditEvent.id).desc())
        ).all()
        return [e.model_dump(mode="json") for e in audit_service.to_read(session, events)]


def raw_rows(engine: Engine) -> str:
    """Every column of every audit row and target, as text."""
    with engine.connect() as conn:
        events = conn.execute(text("SELECT * FROM audit_event")).all()
        targets = conn.execute(text("SELECT * FROM audit_target")).all()
    return "\n".join(" | ".join(str(value) for value in row) for row in [*events, *targets])


def new_rows(engine: Engine, before: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen = {row["id"] for row in before}
    return [row for row in rows(engine) if row["id"] not in seen]


def target_ids(row: dict[str, Any]) -> list[str]:
    return [t["id"] for t in row["targets"]]


# --- the routes ------------------------------------------------------------------------------


def mutating_routes(app: FastAPI) -> list[tuple[str, str, APIRoute]]:
    """(method, path template, route) of every POST/PUT/PATCH/DELETE the app serves."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # FastAPI before included routers were kept whole: routes are flat
        contexts: list[Any] = list(app.routes)
    else:
        contexts = list(iter_route_contexts(app.routes))
    found = []
    for context in contexts:
        route = getattr(context, "original_route", context)
        if not isinstance(route, APIRoute):
            continue
        for method in sorted(set(context.methods) & MUTATING):
            found.append((method, context.path, route))
    return found


# Mutating routes that write no audit row, and why. A new route that takes no bearer token
# must be added here on purpose; one that takes a token needs a recipe below.
NOT_AUDITED = {
    ("POST", "/v1/webhooks/{integration_id}"): "a tracker's delivery, signed by the vendor and "
    "carrying no token; kept in webhook_delivery, not done by anyone the log could name",
    ("POST", "/dashboard/sign-in"): "the wall page checks a token and keeps it in a cookie; "
    "no record changes",
    ("POST", "/dashboard/sign-out"): "the wall page forgets its cookie; no record changes",
}


@dataclass
class Call:
    """One successful request to a route, made after its set-up."""

    method: str
    url: str
    json: Any = None
    content: str | None = None
    params: dict[str, str] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    # When the action is not the route's name in ACTIONS (integration updates are named by
    # what they changed).
    action: str | None = None


class World:
    """Set-up through the API, with fresh names each time."""

    def __init__(self, client: TestClient, engine: Engine) -> None:
        self.client = client
        self.engine = engine
        self._n = itertools.count(1)
        make_person(client, "alice")
        make_team(client, "payments")

    def name(self, prefix: str) -> str:
        return f"{prefix}-{next(self._n)}"

    def ok(self, response: Any, status: int = 200) -> dict[str, Any]:
        assert response.status_code == status, response.text
        return response.json()  # type: ignore[no-any-return]

    def team(self) -> dict[str, Any]:
        return make_team(self.client, self.name("team"))

    def person(self) -> dict[str, Any]:
        return make_person(self.client, self.name("person"))

    def postmortem(self, **overrides: Any) -> dict[str, Any]:
        return make_postmortem(self.client, **overrides)

    def published(self) -> dict[str, Any]:
        pm = self.postmortem()
        self.ok(self.client.post(f"/v1/postmortems/{pm['id']}/publish"))
        return pm

    def open_item(self) -> str:
        return self.published()["action_items"][0]["id"]  # type: ignore[no-any-return]

    def closed_item(self) -> str:
        item = self.open_item()
        self.ok(self.client.post(f"/v1/action-items/{item}/close", json={"resolution": "done"}))
        return item

    def draft_item(self) -> tuple[str, str]:
        pm = self.postmortem()
        return pm["id"], pm["action_items"][0]["id"]

    def timeline_entry(self, pm_id: str) -> str:
        body = {
            "at": iso(INCIDENT_START + timedelta(minutes=7)),
            "author": "Bob",
            "kind": "observation",
            "text": "5xx rising",
        }
        url = f"/v1/postmortems/{pm_id}/timeline"
        return self.ok(self.client.post(url, json=body), 201)["id"]  # type: ignore[no-any-return]

    def integration(self, **overrides: Any) -> dict[str, Any]:
        body = {
            "kind": "github",
            "name": self.name("github"),
            "base_url": "https://github.example.com/api/v3",
            "credentials": {"token": CREDENTIAL},
            "webhook_secret": WEBHOOK_SECRET,
            "default_project": "acme/api",
            **overrides,
        }
        return self.ok(self.client.post("/v1/integrations", json=body), 201)

    def waiver(self) -> tuple[str, str]:
        pm = self.postmortem(action_items=[action_item_body(owner="payments")])
        body = {"rule": "owner-is-person", "path": "action_items[0].owner", "reason": "A rota"}
        url = f"/v1/postmortems/{pm['id']}/checks/waivers"
        return pm["id"], self.ok(self.client.post(url, json=body), 201)["id"]

    def parked_job(self) -> str:
        job = Job(kind="ticket.create", status="dead", attempts=8, last_error="404")
        with session_scope(self.engine) as session:
            session.add(job)
        return str(job.id)

    def failed_delivery(self) -> str:
        integration = self.integration()
        delivery = WebhookDelivery(
            integration_id=uuid.UUID(integration["id"]),
            delivery_id=self.name("delivery"),
            event="issues",
            body="{}",
            outcome="failed",
            detail="cannot be read",
        )
        with session_scope(self.engine) as session:
            session.add(delivery)
        return str(delivery.id)


def _timeline_body() -> dict[str, Any]:
    return {
        "at": iso(INCIDENT_START + timedelta(minutes=9)),
        "author": "Bob",
        "kind": "hypothesis",
        "text": "DNS?",
    }


def _point_body() -> dict[str, Any]:
    return {
        "at": iso(INCIDENT_START + timedelta(minutes=12)),
        "responder": "Bob",
        "decision_kind": "escalation",
    }


def _condition_body() -> dict[str, Any]:
    return {"category": "process", "description": "No canary stage", "failure_modes": ["canary"]}


def _decision_point(w: World, pm_id: str) -> str:
    url = f"/v1/postmortems/{pm_id}/decision-points"
    return w.ok(w.client.post(url, json=_point_body()), 201)["id"]  # type: ignore[no-any-return]


def _condition(w: World, pm_id: str) -> str:
    url = f"/v1/postmortems/{pm_id}/conditions"
    return w.ok(w.client.post(url, json=_condition_body()), 201)["id"]  # type: ignore[no-any-return]


PM = "/v1/postmortems/{postmortem_id}"

# One recipe per audited route: the set-up it needs, then the call to record.
RECIPES: dict[tuple[str, str], Callable[[World], Call]] = {
    ("POST", "/v1/teams"): lambda w: Call(
        "POST", "/v1/teams", json={"slug": w.name("team"), "name": "A team"}
    ),
    ("PATCH", "/v1/teams/{team_id}"): lambda w: Call(
        "PATCH", f"/v1/teams/{w.team()['id']}", json={"name": "Renamed"}
    ),
    ("DELETE", "/v1/teams/{team_id}"): lambda w: Call("DELETE", f"/v1/teams/{w.team()['id']}"),
    ("POST", "/v1/people"): lambda w: Call(
        "POST", "/v1/people", json={"handle": w.name("person"), "display_name": "Pat Example"}
    ),
    ("PATCH", "/v1/people/{person_id}"): lambda w: Call(
        "PATCH", f"/v1/people/{w.person()['id']}", json={"display_name": "Pat Renamed"}
    ),
    ("DELETE", "/v1/people/{person_id}"): lambda w: Call(
        "DELETE", f"/v1/people/{w.person()['id']}"
    ),
    ("POST", "/v1/postmortems"): lambda w: Call("POST", "/v1/postmortems", json=postmortem_body()),
    ("PATCH", PM): lambda w: Call(
        "PATCH", f"/v1/postmortems/{w.postmortem()['id']}", json={"summary": "Rewritten"}
    ),
    ("DELETE", PM): lambda w: Call("DELETE", f"/v1/postmortems/{w.postmortem()['id']}"),
    ("POST", PM + "/publish"): lambda w: Call(
        "POST", f"/v1/postmortems/{w.postmortem()['id']}/publish"
    ),
    ("POST", PM + "/reads"): lambda w: Call("POST", f"/v1/postmortems/{w.published()['id']}/reads"),
    ("POST", PM + "/action-items"): lambda w: Call(
        "POST",
        f"/v1/postmortems/{w.postmortem()['id']}/action-items",
        json=action_item_body(title="Alert on pool exhaustion within one minute"),
    ),
    ("POST", PM + "/checks/waivers"): lambda w: Call(
        "POST",
        f"/v1/postmortems/{w.postmortem(action_items=[action_item_body(owner='payments')])['id']}"
        "/checks/waivers",
        json={"rule": "owner-is-person", "path": "action_items[0].owner", "reason": "A rota"},
    ),
    ("DELETE", PM + "/checks/waivers/{waiver_id}"): lambda w: Call(
        "DELETE", "/v1/postmortems/{}/checks/waivers/{}".format(*w.waiver())
    ),
    ("POST", PM + "/timeline"): lambda w: Call(
        "POST", f"/v1/postmortems/{w.postmortem()['id']}/timeline", json=_timeline_body()
    ),
    ("POST", PM + "/timeline/import"): lambda w: Call(
        "POST",
        f"/v1/postmortems/{w.postmortem()['id']}/timeline/import",
        content="09:20 bob: rolled back the config push\n",
        params={"format": "lines", "date": "2026-11-02"},
        headers={"content-type": "text/plain"},
    ),
    ("PATCH", PM + "/timeline/{entry_id}"): lambda w: (
        lambda pm: Call(
            "PATCH",
            f"/v1/postmortems/{pm}/timeline/{w.timeline_entry(pm)}",
            json={"text": "not DNS after all"},
        )
    )(w.postmortem()["id"]),
    ("POST", PM + "/decision-points"): lambda w: Call(
        "POST", f"/v1/postmortems/{w.postmortem()['id']}/decision-points", json=_point_body()
    ),
    ("PATCH", PM + "/decision-points/{point_id}"): lambda w: (
        lambda pm: Call(
            "PATCH",
            f"/v1/postmortems/{pm}/decision-points/{_decision_point(w, pm)}",
            json={"knew": "The push had gone out"},
        )
    )(w.postmortem()["id"]),
    ("DELETE", PM + "/decision-points/{point_id}"): lambda w: (
        lambda pm: Call("DELETE", f"/v1/postmortems/{pm}/decision-points/{_decision_point(w, pm)}")
    )(w.postmortem()["id"]),
    ("POST", PM + "/conditions"): lambda w: Call(
        "POST", f"/v1/postmortems/{w.postmortem()['id']}/conditions", json=_condition_body()
    ),
    ("PATCH", PM + "/conditions/{condition_id}"): lambda w: (
        lambda pm: Call(
            "PATCH",
            f"/v1/postmortems/{pm}/conditions/{_condition(w, pm)}",
            json={"description": "Config pushes skip the canary stage"},
        )
    )(w.postmortem()["id"]),
    ("DELETE", PM + "/conditions/{condition_id}"): lambda w: (
        lambda pm: Call("DELETE", f"/v1/postmortems/{pm}/conditions/{_condition(w, pm)}")
    )(w.postmortem()["id"]),
    ("PATCH", "/v1/action-items/{item_id}"): lambda w: Call(
        "PATCH",
        f"/v1/action-items/{w.draft_item()[1]}",
        json={"title": "Gate deploys on the canary's p99 latency"},
    ),
    ("DELETE", "/v1/action-items/{item_id}"): lambda w: Call(
        "DELETE", f"/v1/action-items/{w.draft_item()[1]}"
    ),
    ("POST", "/v1/action-items/{item_id}/close"): lambda w: Call(
        "POST", f"/v1/action-items/{w.open_item()}/close", json={"resolution": "done"}
    ),
    ("POST", "/v1/action-items/{item_id}/reopen"): lambda w: Call(
        "POST", f"/v1/action-items/{w.closed_item()}/reopen", json={"reason": "It came back"}
    ),
    ("POST", "/v1/action-items/{item_id}/verify"): lambda w: Call(
        "POST", f"/v1/action-items/{w.closed_item()}/verify", json={"evidence": "Game day"}
    ),
    ("POST", "/v1/action-items/{item_id}/sync"): lambda w: Call(
        "POST", f"/v1/action-items/{w.open_item()}/sync"
    ),
    ("POST", "/v1/integrations"): lambda w: Call(
        "POST",
        "/v1/integrations",
        json={
            "kind": "github",
            "name": w.name("github"),
            "credentials": {"token": CREDENTIAL},
            "webhook_secret": WEBHOOK_SECRET,
            "default_project": "acme/api",
        },
    ),
    ("PATCH", "/v1/integrations/{integration_id}"): lambda w: Call(
        "PATCH",
        f"/v1/integrations/{w.integration()['id']}",
        json={"credentials": {"token": CREDENTIAL + "-2"}, "labels": ["pm"]},
        action="integration.credentials_changed",
    ),
    ("DELETE", "/v1/integrations/{integration_id}"): lambda w: Call(
        "DELETE", f"/v1/integrations/{w.integration()['id']}"
    ),
    ("POST", "/v1/webhook-deliveries/{delivery_id}/retry"): lambda w: Call(
        "POST", f"/v1/webhook-deliveries/{w.failed_delivery()}/retry"
    ),
    ("POST", "/v1/sync-jobs/{job_id}/retry"): lambda w: Call(
        "POST", f"/v1/sync-jobs/{w.parked_job()}/retry"
    ),
}


class TrackerWorld(World):
    """A world whose integration is the fake GitHub on a loopback port."""

    def __init__(self, client: TestClient, engine: Engine, fake: FakeGitHub) -> None:
        super().__init__(client, engine)
        self.fake = fake
        self.client.patch(
            f"/v1/people/{self._alice()}", json={"tracker_accounts": {"github": "alice-gh"}}
        )
        self.github = self.integration(
            name="github-fake",
            base_url=fake.base_url,
            credentials={"token": GITHUB_FAKE_TOKEN},
            webhook_secret=None,
            options={"seconds_between_writes": 0, "seconds_between_requests": 0},
            routes=[{"team": "payments"}],
            is_default=True,
        )

    def _alice(self) -> str:
        people = self.client.get("/v1/people").json()["items"]
        return next(p["id"] for p in people if p["handle"] == "alice")  # type: ignore[no-any-return]

    def linkable(self) -> tuple[str, str]:
        issue = self.fake.add_issue("acme/api", "Filed by hand", "", creator="alice-gh")
        return self.open_item(), f"acme/api#{issue['number']}"


# Routes that reach a tracker: exercised against the fake GitHub.
TRACKER_RECIPES: dict[tuple[str, str], Callable[[TrackerWorld], Call]] = {
    ("POST", "/v1/integrations/{integration_id}/test"): lambda w: Call(
        "POST", f"/v1/integrations/{w.github['id']}/test"
    ),
    ("POST", "/v1/integrations/{integration_id}/webhook"): lambda w: Call(
        "POST", f"/v1/integrations/{w.github['id']}/webhook"
    ),
    ("POST", "/v1/action-items/{item_id}/link"): lambda w: (
        lambda item, ticket: Call("POST", f"/v1/action-items/{item}/link", json={"ticket": ticket})
    )(*w.linkable()),
}


def _exercise(
    world: World,
    engine: Engine,
    routes: dict[tuple[str, str], APIRoute],
    recipes: dict[tuple[str, str], Callable[[Any], Call]],
) -> list[str]:
    """Run each recipe; say what is wrong with the audit row each call left."""
    token_id = next(r["token_id"] for r in rows(engine) if r["actor"] == ADMIN)
    failures = []
    for (method, path), recipe in recipes.items():
        label = f"{method} {path}"
        call = recipe(world)
        before = rows(engine)
        response = world.client.request(
            call.method,
            call.url,
            json=call.json,
            content=call.content,
            params=call.params,
            headers={"X-Request-ID": f"req-{label}", **call.headers},
        )
        if not 200 <= response.status_code < 300:
            failures.append(f"{label}: the recipe failed, {response.status_code} {response.text}")
            continue
        added = new_rows(engine, before)
        if len(added) != 1:
            failures.append(f"{label}: {len(added)} audit rows, expected exactly one: {added}")
            continue
        [row] = added
        expected_action = call.action or audit_service.ACTIONS.get((method, path))
        body = response.json() if "json" in response.headers.get("content-type", "") else None
        wanted_targets = [s for s in call.url.split("?")[0].split("/") if UUID_SEGMENT.match(s)]
        if response.status_code == 201 and isinstance(body, dict) and "id" in body:
            wanted_targets.append(body["id"])
        wanted_fields = sorted(call.json) if isinstance(call.json, dict) else []
        checks = {
            "actor": (row["actor"], ADMIN),
            "token_id": (row["token_id"], token_id),
            "token_name": (row["token_name"], "admin-tests"),
            "scope": (row["scope"], "admin"),
            "action": (row["action"], expected_action),
            "method": (row["method"], method),
            "route": (row["route"], path),
            "status": (row["status"], response.status_code),
            "fields": (row["fields"], wanted_fields),
            "request_id": (row["request_id"], f"req-{label}"),
            "client_address": (row["client_address"], "testclient"),
        }
        for what, (got, wanted) in checks.items():
            if got != wanted:
                failures.append(f"{label}: {what} is {got!r}, expected {wanted!r}")
        missing = [t for t in wanted_targets if t not in target_ids(row)]
        if missing:
            failures.append(f"{label}: targets {target_ids(row)} lack {missing}")
        assert routes[(method, path)] is not None
    return failures


def test_every_mutating_route_is_audited_or_listed_as_not(app: FastAPI) -> None:
    routes = {(method, path): route for method, path, route in mutating_routes(app)}
    assert len(routes) > 30
    recipes = {**RECIPES, **TRACKER_RECIPES}
    for key, route in routes.items():
        label = " ".join(key)
        if key in NOT_AUDITED:
            assert not takes_token(route), f"{label} takes a token: give it a recipe instead"
            continue
        assert takes_token(route), (
            f"{label} changes something without a bearer token, so the audit log cannot say "
            "who did it; authenticate it, or list it in NOT_AUDITED with the reason"
        )
        assert key in recipes, (
            f"{label} has no recipe in tests/api/test_audit.py: add one (the set-up and one "
            "successful call) so the test proves the call is audited"
        )
        assert key in audit_service.ACTIONS, (
            f"{label} has no name in app.audit.service.ACTIONS: name what it does"
        )
    stale = (set(recipes) | set(NOT_AUDITED) | set(audit_service.ACTIONS)) - set(routes)
    assert not stale, f"entries for routes the app no longer has: {sorted(stale)}"


def test_each_change_through_the_api_leaves_exactly_one_audit_row(
    app: FastAPI, client: TestClient, engine: Engine
) -> None:
    routes = {(method, path): route for method, path, route in mutating_routes(app)}
    failures = _exercise(World(client, engine), engine, routes, RECIPES)
    assert not failures, "\n".join(failures)


def test_each_change_that_reaches_a_tracker_leaves_exactly_one_audit_row(
    app: FastAPI, client: TestClient, engine: Engine, fake_github: FakeGitHub
) -> None:
    routes = {(method, path): route for method, path, route in mutating_routes(app)}
    world = TrackerWorld(client, engine, fake_github)
    failures = _exercise(world, engine, routes, TRACKER_RECIPES)
    assert not failures, "\n".join(failures)


def test_unauthenticated_routes_leave_no_row(anon_client: TestClient, engine: Engine) -> None:
    assert anon_client.post("/dashboard/sign-out", follow_redirects=False).status_code == 303
    assert anon_client.post("/dashboard/sign-in", data={"token": "ft_nope"}).status_code == 401
    assert rows(engine) == []


# --- what a row holds ------------------------------------------------------------------------


def test_a_created_postmortem_names_it_and_what_came_with_it(
    client: TestClient, engine: Engine
) -> None:
    make_person(client, "alice")
    pm = make_postmortem(client)
    [row] = [r for r in rows(engine) if r["action"] == "postmortem.create"]
    kinds = {t["id"]: t["kind"] for t in row["targets"]}
    assert row["targets"][0] == {"kind": "postmortem", "id": pm["id"]}
    assert kinds[pm["action_items"][0]["id"]] == "action_item"
    assert "action_item_event" not in kinds.values() and "job" not in kinds.values()
    assert row["fields"] == sorted(postmortem_body())


def test_a_large_import_keeps_its_postmortem_first_and_its_targets_bounded(
    client: TestClient, engine: Engine
) -> None:
    make_person(client, "alice")
    pm = make_postmortem(client, timeline=[])
    lines = "".join(f"09:{10 + n // 60:02d}:{n % 60:02d} bob: step {n}\n" for n in range(150))
    imported = client.post(
        f"/v1/postmortems/{pm['id']}/timeline/import",
        params={"format": "lines", "date": "2026-11-02"},
        content=lines,
        headers={"content-type": "text/plain"},
    )
    assert imported.status_code == 200, imported.text
    assert imported.json()["imported"] == 150
    [row] = [r for r in rows(engine) if r["action"] == "timeline.import"]
    assert row["targets"][0] == {"kind": "postmortem", "id": pm["id"]}
    assert len(row["targets"]) == audit_service.MAX_TARGETS
    assert {t["kind"] for t in row["targets"][1:]} == {"timeline_entry"}


def test_path_targets_are_named_by_their_table(client: TestClient, engine: Engine) -> None:
    make_person(client, "alice")
    pm = make_postmortem(client)
    item = pm["action_items"][0]["id"]
    assert (
        client.patch(f"/v1/action-items/{item}", json={"title": "Gate on p99"}).status_code == 200
    )
    [row] = [r for r in rows(engine) if r["action"] == "action_item.update"]
    assert row["targets"] == [{"kind": "action_item", "id": item}]
    assert row["fields"] == ["title"]


def test_integration_updates_are_named_by_what_they_change(
    client: TestClient, engine: Engine
) -> None:
    make_team(client, "payments")
    world = World.__new__(World)
    world.client, world.engine, world._n = client, engine, itertools.count(1)
    integration = world.integration()
    url = f"/v1/integrations/{integration['id']}"
    assert client.patch(url, json={"labels": ["pm"]}).status_code == 200
    assert client.patch(url, json={"routes": [{"team": "payments"}]}).status_code == 200
    assert client.patch(url, json={"webhook_secret": WEBHOOK_SECRET + "-2"}).status_code == 200
    # A new host clears the stored credentials: that is a credentials change too.
    moved = client.patch(url, json={"base_url": "https://github.other.example/api/v3"})
    assert moved.status_code == 200
    assert moved.json()["credentials_configured"] is False
    updates = [r for r in rows(engine) if r["route"] == "/v1/integrations/{integration_id}"]
    assert [(r["action"], r["fields"]) for r in reversed(updates)] == [
        ("integration.update", ["labels"]),
        ("integration.routing_changed", ["routes"]),
        ("integration.credentials_changed", ["webhook_secret"]),
        ("integration.credentials_changed", ["base_url"]),
    ]


def test_no_secret_reaches_an_audit_row(
    client: TestClient, engine: Engine, make_token: Callable[..., str]
) -> None:
    make_team(client, "payments")
    admin_plain = client.headers["Authorization"].removeprefix("Bearer ")
    created = client.post(
        "/v1/integrations",
        json={
            "kind": "jira",
            "name": "acme-jira",
            "base_url": "https://jira.example.com",
            "credentials": {"email": "bot@acme.test", "api_token": CREDENTIAL},
            "webhook_secret": WEBHOOK_SECRET,
            "default_project": "OPS",
            "routes": [{"team": "payments"}],
        },
    )
    assert created.status_code == 201, created.text
    url = f"/v1/integrations/{created.json()['id']}"
    updated = client.patch(
        url,
        json={
            "credentials": {"email": "bot@acme.test", "api_token": CREDENTIAL + "-new"},
            "webhook_secret": WEBHOOK_SECRET + "-new",
        },
    )
    assert updated.status_code == 200, updated.text
    # Jira with an API token gets manual steps: a new secret is generated and shown once.
    assert client.patch(url, json={"webhook_secret": None}).status_code == 200
    setup = client.post(f"{url}/webhook")
    assert setup.status_code == 200, setup.text
    generated = setup.json()["secret"]
    assert generated
    refused = make_token(Scope.WRITE, "writer")
    denied = client.post(
        "/v1/integrations",
        headers={"Authorization": f"Bearer {refused}"},
        json={"kind": "github", "name": "x", "credentials": {"token": CREDENTIAL}},
    )
    assert denied.status_code == 403

    listed = client.get("/v1/audit", params={"limit": 200})
    assert listed.status_code == 200
    actions = [r["action"] for r in listed.json()["items"]]
    assert actions.count("integration.credentials_changed") == 2
    assert "integration.webhook_setup" in actions and "integration.create" in actions
    secrets = [CREDENTIAL, WEBHOOK_SECRET, generated, admin_plain, refused]
    hashes = [hashlib.sha256(s.encode()).hexdigest() for s in (admin_plain, refused)]
    for where, dump in (("API", listed.text), ("database", raw_rows(engine))):
        for secret in [*secrets, *hashes]:
            assert secret not in dump, f"a secret is in the audit log ({where})"
    fields = {f for r in listed.json()["items"] for f in r["fields"]}
    assert {"credentials", "webhook_secret"} <= fields, "their names are recorded"


# --- failures --------------------------------------------------------------------------------


def test_a_failed_request_leaves_no_change_row(
    client: TestClient, engine: Engine, make_token: Callable[..., str]
) -> None:
    make_person(client, "alice")
    pm = make_postmortem(client)
    before = rows(engine)
    missing = uuid.uuid4()
    problem(client.post("/v1/postmortems", json={"title": ""}), 422)
    problem(client.patch(f"/v1/postmortems/{missing}", json={"summary": "x"}), 404)
    assert client.post("/v1/teams", json={"slug": "payments", "name": "P"}).status_code == 201
    problem(client.post("/v1/teams", json={"slug": "payments", "name": "P"}), 409)
    problem(client.post(f"/v1/action-items/{missing}/close", json={}), 404)
    problem(
        client.delete(f"/v1/postmortems/{pm['id']}", headers={"Authorization": "Bearer x"}), 401
    )
    reader = make_token(Scope.READ, "reader")
    problem(
        client.patch(
            f"/v1/postmortems/{pm['id']}",
            json={"summary": "x"},
            headers={"Authorization": f"Bearer {reader}"},
        ),
        403,
    )
    added = new_rows(engine, before)
    assert [(r["action"], r["status"]) for r in added] == [
        ("postmortem.update", 403),
        ("team.create", 201),
    ]
    assert client.get(f"/v1/postmortems/{pm['id']}").json()["summary"] == pm["summary"]


def test_a_change_that_fails_after_flushing_leaves_neither_change_nor_row(
    app: FastAPI, client: TestClient, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.postmortems import service as postmortems_service

    make_person(client, "alice")
    pm = make_postmortem(client)
    before = rows(engine)

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(postmortems_service, "refresh_completion", broken)
    with TestClient(app, raise_server_exceptions=False, headers=client.headers) as failing:
        response = failing.post(
            f"/v1/postmortems/{pm['id']}/action-items",
            json=action_item_body(title="Alert on pool exhaustion within one minute"),
        )
    assert response.status_code == 500
    assert new_rows(engine, before) == []
    assert len(client.get(f"/v1/postmortems/{pm['id']}/action-items").json()["items"]) == 1


def test_a_change_whose_audit_row_cannot_be_written_is_not_kept(
    app: FastAPI, client: TestClient, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("audit log unavailable")

    monkeypatch.setattr(audit_service, "record", broken)
    with TestClient(app, raise_server_exceptions=False, headers=client.headers) as failing:
        response = failing.post("/v1/teams", json={"slug": "payments", "name": "Payments"})
    assert response.status_code == 500
    monkeypatch.undo()
    assert client.get("/v1/teams").json()["items"] == []
    assert rows(engine) == []


# --- who may read it -------------------------------------------------------------------------


@pytest.mark.parametrize("scope", [Scope.READ, Scope.WRITE])
def test_only_admin_tokens_read_the_log(
    client: TestClient, engine: Engine, make_token: Callable[..., str], scope: Scope
) -> None:
    token = make_token(scope, f"{scope}-token")
    response = client.get("/v1/audit", headers={"Authorization": f"Bearer {token}"})
    problem(response, 403)
    # The refusal itself is on the record.
    [row] = rows(engine)
    assert (row["actor"], row["scope"], row["action"], row["status"], row["method"]) == (
        f"token:{scope}-token",
        str(scope),
        "audit.list",
        403,
        "GET",
    )
    problem(client.get("/v1/audit", headers={"Authorization": "Bearer nope"}), 401)
    assert len(rows(engine)) == 1, "an unknown token is not recorded"
    assert client.get("/v1/audit").status_code == 200


# --- reading it ------------------------------------------------------------------------------


def test_the_log_is_newest_first_filtered_and_paged(
    client: TestClient, engine: Engine, make_token: Callable[..., str]
) -> None:
    writer = make_token(Scope.WRITE, "ci-bot")
    as_writer = {"Authorization": f"Bearer {writer}"}
    teams = [make_team(client, f"team-{n}") for n in range(3)]
    renamed = client.patch(
        f"/v1/teams/{teams[0]['id']}", json={"name": "Renamed"}, headers=as_writer
    )
    assert renamed.status_code == 200
    everything = client.get("/v1/audit").json()
    assert [r["action"] for r in everything["items"]] == [
        "team.update",
        "team.create",
        "team.create",
        "team.create",
    ]
    assert everything["next_cursor"] is None

    def listed(**params: str) -> list[dict[str, Any]]:
        response = client.get("/v1/audit", params=params)
        assert response.status_code == 200, response.text
        return response.json()["items"]  # type: ignore[no-any-return]

    writer_id = everything["items"][0]["token_id"]
    for actor in ("token:ci-bot", "ci-bot", writer_id):
        assert [r["action"] for r in listed(actor=actor)] == ["team.update"]
    assert [r["actor"] for r in listed(action="team.create")] == [ADMIN] * 3
    assert [r["action"] for r in listed(target=teams[0]["id"])] == ["team.update", "team.create"]
    assert listed(target=teams[0]["id"].upper())[0]["action"] == "team.update"
    assert listed(target=str(uuid.uuid4())) == []

    newest = datetime.fromisoformat(everything["items"][0]["at"])
    oldest = datetime.fromisoformat(everything["items"][-1]["at"])
    assert len(listed(since=newest.isoformat())) == 1
    assert len(listed(until=newest.isoformat())) == 3
    assert (
        len(listed(since=oldest.isoformat(), until=(newest + timedelta(seconds=1)).isoformat()))
        == 4
    )
    problem(client.get("/v1/audit", params={"since": "2026-11-02T09:00:00"}), 422)

    pages: list[str] = []
    cursor: str | None = None
    while True:
        params = {"limit": "3", **({"cursor": cursor} if cursor else {})}
        page = client.get("/v1/audit", params=params).json()
        pages += [r["id"] for r in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == [r["id"] for r in everything["items"]]
    problem(client.get("/v1/audit", params={"cursor": "garbage"}), 422)


def test_client_address_believes_forwarded_for_only_from_trusted_proxies(
    app: FastAPI, engine: Engine, make_token: Callable[..., str]
) -> None:
    headers = {
        "Authorization": f"Bearer {make_token(Scope.ADMIN, 'proxied')}",
        "X-Forwarded-For": "198.51.100.9, 203.0.113.7",
    }

    def create_team(slug: str) -> str:
        with TestClient(app, headers=headers, client=("10.0.0.2", 4000)) as proxied:
            created = proxied.post("/v1/teams", json={"slug": slug, "name": slug})
        assert created.status_code == 201, created.text
        [row] = [r for r in rows(engine) if created.json()["id"] in target_ids(r)]
        return row["client_address"]  # type: ignore[no-any-return]

    assert create_team("untrusted") == "10.0.0.2"
    trusting = app.state.settings.model_copy(update={"trusted_proxies": [ip_network("10.0.0.0/8")]})
    original, app.state.settings = app.state.settings, trusting
    try:
        assert create_team("trusted") == "203.0.113.7"
    finally:
        app.state.settings = original


def test_forwarded_for_is_read_from_the_right() -> None:
    trusted = [ip_network("10.0.0.0/8"), ip_network("2001:db8::/32")]
    address = audit_service.client_address
    assert address("192.0.2.1", ["203.0.113.7"], trusted) == "192.0.2.1"
    assert address("10.0.0.2", [], trusted) == "10.0.0.2"
    assert address("10.0.0.2", ["198.51.100.9, 203.0.113.7"], trusted) == "203.0.113.7"
    assert address("10.0.0.2", ["203.0.113.7, 10.1.1.1", "10.2.2.2"], trusted) == "203.0.113.7"
    assert address("10.0.0.2", ["10.1.1.1"], trusted) == "10.1.1.1"
    assert address("10.0.0.2", ["forged, 10.1.1.1"], trusted) == "10.1.1.1"
    assert address("2001:db8::1", ["2001:db8::2, 2001:db9::5"], trusted) == "2001:db9::5"
    assert address("10.0.0.2", ["203.0.113.7"], []) == "10.0.0.2"


# --- the command line ------------------------------------------------------------------------


def test_cli_token_create_and_revoke_are_recorded(on_test_database: Engine) -> None:
    runner = CliRunner()
    created = runner.invoke(cli, ["tokens", "create", "--scope", "admin", "--name", "deploy"])
    assert created.exit_code == 0, created.output
    plain = created.stdout.strip().splitlines()[0]
    assert runner.invoke(cli, ["tokens", "revoke", "deploy"]).exit_code == 0
    # Failed commands record nothing.
    assert runner.invoke(cli, ["tokens", "create", "--name", "deploy"]).exit_code == 1
    assert runner.invoke(cli, ["tokens", "revoke", "deploy"]).exit_code == 1

    revoke, create = rows(on_test_database)
    actor = f"cli:{getpass.getuser()}"
    with session_scope(on_test_database, read_only=True) as session:
        token_id = session.exec(text("SELECT id FROM api_token")).scalar_one()
    token_id = str(uuid.UUID(str(token_id)))
    assert (create["actor"], create["action"], target_ids(create)) == (
        actor,
        "token.create",
        [token_id],
    )
    assert create["targets"][0]["kind"] == "api_token"
    assert create["fields"] == ["name", "scope"]
    assert (create["token_id"], create["method"], create["route"], create["status"]) == (
        None,
        None,
        None,
        None,
    )
    assert (revoke["actor"], revoke["action"], target_ids(revoke)) == (
        actor,
        "token.revoke",
        [token_id],
    )
    dump = json.dumps([create, revoke]) + raw_rows(on_test_database)
    assert plain not in dump and hashlib.sha256(plain.encode()).hexdigest() not in dump


def test_when_is_recorded_in_utc(client: TestClient, engine: Engine) -> None:
    started = datetime.now(UTC)
    make_team(client, "payments")
    [row] = rows(engine)
    at = datetime.fromisoformat(row["at"])
    assert at.utcoffset() == timedelta(0)
    assert started - timedelta(seconds=1) <= at <= datetime.now(UTC) + timedelta(seconds=1)
