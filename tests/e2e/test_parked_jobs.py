"""Parked work is visible and can be retried: outbound jobs through /v1/sync-jobs, inbound
deliveries through /v1/webhook-deliveries/{id}/retry, each saying why it was parked."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import Engine

from app.settings import Settings
from tests.e2e.sync_support import connect_tracker, drain, owner, publish_items, worker_for
from tests.e2e.webhook_support import SECRET, github_payload, send_github
from tests.fake_trackers.github import TOKEN, FakeGitHub


def test_a_parked_create_is_listed_with_its_error_and_retried(
    client: TestClient, engine: Engine, settings: Settings, fake_github: FakeGitHub
) -> None:
    owner(client, github="alice-gh")
    # The repository does not exist yet: GitHub answers 404, which no retry changes.
    connect_tracker(client, "github", fake_github.base_url, {"token": TOKEN}, "acme/new-service")
    [item] = publish_items(client)
    worker = worker_for(engine, settings)
    drain(worker)

    dead = client.get("/v1/sync-jobs", params={"status": "dead"}).json()["items"]
    assert [(j["kind"], j["lane"], j["action_item_id"]) for j in dead] == [
        ("ticket.create", "outbound", item["id"])
    ]
    assert "404" in dead[0]["last_error"] or "Not Found" in dead[0]["last_error"]
    assert client.get(f"/v1/action-items/{item['id']}").json()["sync_state"] == "error"

    fake_github.repos.add("acme/new-service")
    retried = client.post(f"/v1/sync-jobs/{dead[0]['id']}/retry")
    assert retried.status_code == 200, retried.text
    assert (retried.json()["status"], retried.json()["attempts"]) == ("pending", 0)
    drain(worker)

    synced = client.get(f"/v1/action-items/{item['id']}").json()
    assert (synced["sync_state"], synced["ticket_key"]) == ("synced", "acme/new-service#1")
    assert client.get("/v1/sync-jobs", params={"status": "dead"}).json()["items"] == []
    again = client.post(f"/v1/sync-jobs/{dead[0]['id']}/retry")
    assert again.status_code == 409, "only a parked job is retried"


def test_a_parked_delivery_is_marked_failed_with_why_and_retried(
    client: TestClient, engine: Engine, settings: Settings, fake_github: FakeGitHub
) -> None:
    owner(client, github="alice-gh")
    integration = connect_tracker(
        client, "github", fake_github.base_url, {"token": TOKEN}, "acme/api", webhook_secret=SECRET
    )
    [item] = publish_items(client)
    worker = worker_for(engine, settings)
    drain(worker)
    payload = github_payload(
        "issues/closed.payload.json", "acme/api", 1, updated_at="2030-01-01T00:00:00Z"
    )
    accepted = send_github(client, integration["id"], "issues", payload)
    assert accepted.status_code == 202, accepted.text
    # The stored body is damaged before the worker reads it (a disk or an older version wrote it).
    with engine.begin() as conn:
        stored = conn.execute(text("SELECT body FROM webhook_delivery")).scalar_one()
        conn.execute(text("UPDATE webhook_delivery SET body = :b"), {"b": '{"action": 5}'})
    drain(worker)

    [failed] = client.get("/v1/webhook-deliveries").json()["items"]
    assert failed["outcome"] == "failed"
    assert "cannot be read" in failed["detail"]
    [parked] = client.get("/v1/sync-jobs", params={"status": "dead", "lane": "inbound"}).json()[
        "items"
    ]
    assert parked["delivery_id"] == failed["id"]
    assert client.get(f"/v1/action-items/{item['id']}").json()["status"] == "open"

    with engine.begin() as conn:
        conn.execute(text("UPDATE webhook_delivery SET body = :b"), {"b": stored})
    retried = client.post(f"/v1/webhook-deliveries/{failed['id']}/retry")
    assert retried.status_code == 200, retried.text
    assert retried.json()["outcome"] == "received"
    drain(worker)

    [applied] = client.get("/v1/webhook-deliveries").json()["items"]
    assert applied["outcome"] == "applied"
    assert client.get(f"/v1/action-items/{item['id']}").json()["status"] == "closed"
    refused = client.post(f"/v1/webhook-deliveries/{failed['id']}/retry")
    assert refused.status_code == 409


def test_sync_jobs_are_for_admins_only(client: TestClient, make_token: Callable[..., str]) -> None:
    writer = make_token(scope="write", name="writer")
    response = client.get("/v1/sync-jobs", headers={"Authorization": f"Bearer {writer}"})
    assert response.status_code == 403
