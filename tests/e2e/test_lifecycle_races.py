"""The races that broke the one-ticket and one-state promises, made to happen on purpose with the
fake trackers' faults: a create answered after the client gave up, a create applied late and
looked up slowly, a verification label delivered before the close, and a close asked through
the API while the tracker owns the ticket's state."""

from __future__ import annotations

import json
import threading
from datetime import datetime
from typing import Any
from uuid import UUID

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from app.action_items.models import ActionItem
from app.action_items.state import Cause, Source
from app.db import session_scope, utcnow
from app.flows.tracker_events import apply_event
from app.integrations.models import Integration
from app.settings import Settings
from app.sync.reconcile import reconcile
from app.sync.worker import Worker
from connectors.base import EventKind, TicketState, TrackerEvent
from tests.e2e.sync_support import (
    FAST_OPTIONS,
    connect_tracker,
    drain,
    owner,
    publish_items,
    wait_until,
    worker_for,
)
from tests.e2e.webhook_support import SECRET, github_payload, send_github
from tests.factories import make_team
from tests.fake_trackers.github import TOKEN, FakeGitHub
from tests.fake_trackers.jira import API_TOKEN, FakeJira
from tests.fake_trackers.linear import API_KEY, TEAM_ID, FakeLinear
from tests.fake_trackers.server import Fault

# The client gives up after one second; a create may still land for `MARGIN` more.
CLIENT_TIMEOUT = {**FAST_OPTIONS, "timeout_seconds": 1}
MARGIN = 2.0

# What each fake needs: the owner's account, the credentials, the project.
ACCOUNTS: dict[str, tuple[str, dict[str, str], str]] = {
    "github": ("alice-gh", {"token": TOKEN}, "acme/api"),
    "jira": ("557058:alice", {"email": "bot@example.com", "api_token": API_TOKEN}, "OPS"),
    "linear": ("user-alice", {"api_key": API_KEY}, TEAM_ID),
}


def connect(client: TestClient, kind: str, base_url: str, **extra: Any) -> dict[str, Any]:
    """An owner with an account on the tracker and one integration routed to the team."""
    account, credentials, project = ACCOUNTS[kind]
    owner(client, **{kind: account})
    return connect_tracker(client, kind, base_url, credentials, project, **extra)


def item_of(client: TestClient, item_id: str) -> dict[str, Any]:
    return client.get(f"/v1/action-items/{item_id}").json()  # type: ignore[no-any-return]


def history(client: TestClient, item_id: str) -> list[dict[str, Any]]:
    return client.get(f"/v1/action-items/{item_id}/history").json()["events"]  # type: ignore[no-any-return]


def run_until_synced(
    client: TestClient, worker: Worker, item_id: str, *, timeout: float = 20
) -> dict[str, Any]:
    def synced() -> bool:
        worker.run_once(limit=10)
        return item_of(client, item_id)["sync_state"] in ("synced", "error")

    wait_until(synced, timeout=timeout, what="the item's ticket sync to settle")
    return item_of(client, item_id)


# -- exactly one ticket -------------------------------------------------------------------------


def test_create_answered_after_the_client_timeout_makes_one_github_issue(
    client: TestClient, engine: Engine, settings: Settings, fake_github: FakeGitHub
) -> None:
    connect(client, "github", fake_github.base_url, options=CLIENT_TIMEOUT)
    # The create sleeps past the client's timeout, then lands: the retry must not create again.
    fake_github.inject(Fault("slow", method="POST", path_part="/issues", delay=1.6))
    [item] = publish_items(client)
    worker = worker_for(engine, settings, resend_margin_seconds=MARGIN)

    synced = run_until_synced(client, worker, item["id"])

    issues = list(fake_github.issues.values())
    assert len(issues) == 1, [i["title"] for i in issues]
    assert synced["sync_state"] == "synced"
    assert synced["ticket_key"] == "acme/api#1"
    assert len(fake_github.requests_to("POST", "/repos/acme/api/issues")) == 1


def test_a_create_landing_after_the_wait_is_closed_as_a_duplicate_by_the_sweep(
    client: TestClient, engine: Engine, settings: Settings, fake_github: FakeGitHub
) -> None:
    connect(client, "github", fake_github.base_url, options=CLIENT_TIMEOUT)
    # Longer than the client timeout plus the margin: a second create goes out, then both land.
    fake_github.inject(Fault("slow", method="POST", path_part="/issues", delay=2.5))
    [item] = publish_items(client)
    worker = worker_for(engine, settings, resend_margin_seconds=0.5)
    run_until_synced(client, worker, item["id"])
    wait_until(lambda: len(fake_github.issues) == 2, timeout=10, what="the late create to land")

    report = reconcile(engine, worker.connectors)

    linked = item_of(client, item["id"])["ticket_key"]
    [duplicate] = [i for i in fake_github.issues.values() if f"acme/api#{i['number']}" != linked]
    assert report.duplicates_closed == 1
    assert (duplicate["state"], duplicate["state_reason"]) == ("closed", "duplicate")
    assert any(linked in c["body"] for c in fake_github.comments[("acme/api", duplicate["number"])])
    [entry] = [e for e in history(client, item["id"]) if e["kind"] == "duplicate_closed"]
    assert entry["source"] == "reconciliation"
    assert entry["changes"]["duplicate"] == f"acme/api#{duplicate['number']}"
    assert reconcile(engine, worker.connectors).duplicates_closed == 0, "closed once, not again"


def test_linear_create_applied_late_then_refused_as_existing_links_the_issue(
    client: TestClient, engine: Engine, settings: Settings, fake_linear: FakeLinear
) -> None:
    # No labels to resolve, so the first call is the create itself.
    connect(client, "linear", fake_linear.base_url, options=CLIENT_TIMEOUT, labels=[])
    # The create lands after the client gave up; the lookup that follows is read before it
    # lands and answered after, so the retry's create meets "Issue with this id already exists",
    # which with a client-chosen id means it exists.
    fake_linear.inject(Fault("slow", method="POST", path_part="/graphql", delay=1.4))
    fake_linear.inject(Fault("delay_reply", method="POST", path_part="/graphql", delay=0.6))
    [item] = publish_items(client)
    worker = worker_for(engine, settings, resend_margin_seconds=0.2)

    synced = run_until_synced(client, worker, item["id"])

    assert len(fake_linear.issues) == 1
    assert synced["sync_state"] == "synced", synced["sync_error"]
    [issue] = fake_linear.issues.values()
    assert synced["ticket_key"] == issue["identifier"]


# -- verification from the ticket's whole state --------------------------------------------------


@pytest.fixture
def github_item(
    client: TestClient, engine: Engine, settings: Settings, fake_github: FakeGitHub
) -> dict[str, Any]:
    integration = connect(client, "github", fake_github.base_url, webhook_secret=SECRET)
    [item] = publish_items(client)
    worker = worker_for(engine, settings)
    drain(worker)
    return {"integration": integration["id"], "item": item["id"], "worker": worker}


def _labeled_verified(at: str) -> dict[str, Any]:
    payload = github_payload("issues/labeled.payload.json", "acme/api", 1, updated_at=at)
    payload["label"]["name"] = "verified"
    return payload


def _closed(at: str) -> dict[str, Any]:
    # The vendor example's labels, without the verification label: only the delivery order and
    # the kept signal can verify.
    return github_payload("issues/closed.payload.json", "acme/api", 1, updated_at=at)


@pytest.mark.parametrize("order", ["label first", "close first"])
def test_verification_label_and_close_end_verified_in_either_delivery_order(
    client: TestClient, github_item: dict[str, Any], order: str
) -> None:
    label, close = _labeled_verified("2030-01-01T00:00:00Z"), _closed("2030-01-01T00:00:01Z")
    deliveries = [label, close] if order == "label first" else [close, label]
    for payload in deliveries:
        response = send_github(client, github_item["integration"], "issues", payload)
        assert response.status_code == 202, response.text
        drain(github_item["worker"])

    item = item_of(client, github_item["item"])
    assert item["status"] == "verified"
    assert "label 'verified'" in item["verification_evidence"]


def test_a_close_whose_payload_shows_the_verification_label_verifies(
    client: TestClient, github_item: dict[str, Any]
) -> None:
    close = _closed("2030-01-01T00:00:01Z")
    label = _labeled_verified("2030-01-01T00:00:00Z")["label"]
    close["issue"]["labels"] = [label]
    assert send_github(client, github_item["integration"], "issues", close).status_code == 202
    drain(github_item["worker"])

    assert item_of(client, github_item["item"])["status"] == "verified"


def test_tracker_moves_follow_the_machine_and_nonsense_is_recorded_not_forced(
    client: TestClient, github_item: dict[str, Any]
) -> None:
    # Closed as done, then re-resolved as not planned in GitHub: both are moves the machine
    # allows. Then a close of a verified item as not planned: recorded, explained, not applied.
    for at, reason in (("00:00:01", "completed"), ("00:00:02", "not_planned")):
        payload = github_payload(
            "issues/closed.payload.json",
            "acme/api",
            1,
            updated_at=f"2030-01-01T{at}Z",
            state_reason=reason,
        )
        assert send_github(client, github_item["integration"], "issues", payload).status_code == 202
        drain(github_item["worker"])
    moves = [
        (e["from_status"], e["to_status"])
        for e in history(client, github_item["item"])
        if e["kind"] == "status_changed"
    ]
    assert item_of(client, github_item["item"])["status"] == "wont_do"
    assert moves[-2:] == [("open", "closed"), ("closed", "wont_do")]


# -- the tracker owns ticket state ----------------------------------------------------------------


def test_api_close_of_a_linear_item_moves_the_ticket_and_reconciliation_keeps_it(
    client: TestClient, engine: Engine, settings: Settings, fake_linear: FakeLinear
) -> None:
    connect(client, "linear", fake_linear.base_url)
    [item] = publish_items(client)
    worker = worker_for(engine, settings)
    drain(worker)

    response = client.post(f"/v1/action-items/{item['id']}/close", json={"note": "shipped"})
    assert response.status_code == 202, response.text
    asked = response.json()
    assert (asked["status"], asked["requested_status"]) == ("open", "closed")
    assert reconcile(engine, worker.connectors).drift == 0, "nothing to undo while it goes out"
    drain(worker)

    [issue] = fake_linear.issues.values()
    assert fake_linear.states[issue["state"]["id"]]["type"] == "completed"
    closed = item_of(client, item["id"])
    assert (closed["status"], closed["requested_status"]) == ("closed", None)
    reconcile(engine, worker.connectors)
    assert item_of(client, item["id"])["status"] == "closed", "reconciliation must not reopen"
    moves = [e for e in history(client, item["id"]) if e["kind"] == "status_changed"]
    assert moves[-1]["to_status"] == "closed"
    assert moves[-1]["source"] == "sync"
    assert "through the API" in moves[-1]["note"]
    assert not any(e["to_status"] == "reopened" for e in moves)


def test_api_close_of_a_jira_item_transitions_the_ticket_before_it_can_be_verified(
    client: TestClient, engine: Engine, settings: Settings, fake_jira: FakeJira
) -> None:
    connect(client, "jira", fake_jira.base_url)
    [item] = publish_items(client)
    worker = worker_for(engine, settings)
    drain(worker)

    assert client.post(f"/v1/action-items/{item['id']}/close", json={}).status_code == 202
    early = client.post(f"/v1/action-items/{item['id']}/verify", json={"evidence": "drill passed"})
    assert early.status_code == 409, "not closed until Jira says so"
    drain(worker)

    key = item_of(client, item["id"])["ticket_key"]
    assert fake_jira.issue(key)["fields"]["status"]["statusCategory"]["key"] == "done"
    verified = client.post(
        f"/v1/action-items/{item['id']}/verify", json={"evidence": "drill passed"}
    )
    assert verified.status_code == 200, verified.text
    assert verified.json()["status"] == "verified"
    drain(worker)
    # Verification is the service's own, and the ticket's watchers are told how it was shown.
    said = json.dumps([c["body"] for c in fake_jira.issue(key)["comments"]])
    assert "Verified by" in said and "drill passed" in said
    assert item_of(client, item["id"])["sync_state"] == "synced"


def test_api_close_without_any_tracker_applies_at_once(client: TestClient) -> None:
    # No integration takes the item: the service is the only record, so it closes directly.
    make_team(client, "payments")
    owner(client)
    [item] = publish_items(client)
    response = client.post(f"/v1/action-items/{item['id']}/close", json={})
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "closed"


def test_a_refused_state_request_leaves_the_item_as_its_ticket_says(
    client: TestClient, engine: Engine, settings: Settings, fake_github: FakeGitHub
) -> None:
    connect(client, "github", fake_github.base_url)
    [item] = publish_items(client)
    worker = worker_for(engine, settings)
    drain(worker)
    fake_github.inject(
        Fault(
            "status",
            method="PATCH",
            path_part="/issues/1",
            status=403,
            body={"message": "Must have admin rights to Repository."},
            times=5,
        )
    )

    assert client.post(f"/v1/action-items/{item['id']}/close", json={}).status_code == 202
    drain(worker)

    after = item_of(client, item["id"])
    assert (after["status"], after["requested_status"]) == ("open", None)
    # The status and what it means, in our words; never what the tracker wrote back.
    assert after["sync_state"] == "error" and "403 Forbidden" in after["sync_error"]
    assert "admin rights" not in after["sync_error"]
    assert fake_github.issue("acme/api", 1)["state"] == "open"
    assert any(e["kind"] == "state_request_failed" for e in history(client, item["id"]))


def test_inbound_deliveries_are_applied_while_the_integration_is_paused(
    client: TestClient, engine: Engine, github_item: dict[str, Any], fake_github: FakeGitHub
) -> None:
    # A rate limit pauses the outbound lane for an hour; closures from the tracker still apply.
    fake_github.inject(
        Fault("status", method="PATCH", status=429, headers={"Retry-After": "3600"}, times=3)
    )
    edited = client.patch(
        f"/v1/action-items/{github_item['item']}", json={"title": "Gate deploys on the canary"}
    )
    assert edited.status_code == 200, edited.text
    drain(github_item["worker"])
    with Session(engine) as session:
        [integration] = session.exec(select(Integration)).all()
        assert integration.paused_until is not None and integration.paused_until > utcnow()

    send_github(client, github_item["integration"], "issues", _closed("2030-01-01T00:00:01Z"))
    drain(github_item["worker"])

    assert item_of(client, github_item["item"])["status"] == "closed"


# -- two workers applying one ticket's deliveries at once ------------------------------------------


def _event(key: str, at: str, state: TicketState) -> TrackerEvent:
    return TrackerEvent(
        external_key=key,
        delivery_id=f"{state}-{at}",
        occurred_at=datetime.fromisoformat(at),
        kind=EventKind.STATE_CHANGED,
        state=state,
        raw_status=state.value,
    )


def _wait_for_a_blocked_lock(engine: Engine) -> None:
    def blocked() -> bool:
        with engine.connect() as conn:
            return bool(
                conn.execute(text("SELECT count(*) FROM pg_locks WHERE NOT granted")).scalar()
            )

    wait_until(blocked, timeout=10, what="the other worker to wait for the item's lock")


@pytest.mark.backends("postgresql")
def test_an_older_delivery_applied_concurrently_by_another_worker_sees_the_newer_one(
    client: TestClient, engine: Engine, github_item: dict[str, Any]
) -> None:
    # A close (older) and a reopen (newer) of one ticket reach two workers at once. The worker
    # with the close is made to wait on the item while the reopen commits: it must then see the
    # reopen's watermark and refuse the older close, not decide from what it read before.
    key = item_of(client, github_item["item"])["ticket_key"]
    cause = Cause(Source.WEBHOOK, "delivery:race")
    with Session(engine) as newer:
        [integration] = newer.exec(select(Integration)).all()
        newer.get(ActionItem, UUID(github_item["item"]), with_for_update=True)

        def apply_older() -> None:
            with session_scope(engine) as older:
                found = older.get(Integration, integration.id)
                assert found is not None
                apply_event(
                    older, found, _event(key, "2030-01-01T00:00:00+00:00", TicketState.DONE), cause
                )

        worker = threading.Thread(target=apply_older)
        worker.start()
        _wait_for_a_blocked_lock(engine)
        apply_event(
            newer, integration, _event(key, "2030-01-01T00:00:05+00:00", TicketState.OPEN), cause
        )
        newer.commit()
    worker.join(timeout=10)

    assert not worker.is_alive()
    assert item_of(client, github_item["item"])["status"] == "open", "the older close must lose"
