"""Reconciliation in batches: GitHub with conditional requests, Linear with one query per batch."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from app.settings import Settings
from app.sync.reconcile import reconcile
from tests.e2e.sync_support import connect_tracker, drain, owner, publish_items, worker_for
from tests.fake_trackers.github import TOKEN, FakeGitHub
from tests.fake_trackers.linear import API_KEY, TEAM_ID, FakeLinear


def test_github_lost_close_is_repaired_and_unchanged_issues_cost_a_304(
    client: TestClient, engine: Engine, settings: Settings, fake_github: FakeGitHub
) -> None:
    owner(client, github="alice-gh")
    connect_tracker(client, "github", fake_github.base_url, {"token": TOKEN}, "acme/api")
    items = publish_items(client, count=2)
    worker = worker_for(engine, settings)
    drain(worker)

    first = reconcile(engine, worker.connectors)
    assert (first.checked, first.drift) == (2, 0)
    second = reconcile(engine, worker.connectors)
    assert second.checked == 2
    reads = [r for r in fake_github.requests if r.method == "GET" and "/issues/" in r.path]
    assert all("if-none-match" in r.headers for r in reads[-2:]), "second run reads conditionally"

    # The `closed` webhook was lost: the next run sees the change.
    fake_github.close("acme/api", 1, "not_planned")
    third = reconcile(engine, worker.connectors)
    assert third.drift == 1
    by_key = {i["ticket_key"]: i for i in client.get("/v1/action-items").json()["items"]}
    assert by_key["acme/api#1"]["status"] == "wont_do"
    assert by_key["acme/api#2"]["status"] == "open"
    assert {i["id"] for i in items} == {i["id"] for i in by_key.values()}


def test_linear_reads_every_open_ticket_in_one_query(
    client: TestClient, engine: Engine, settings: Settings, fake_linear: FakeLinear
) -> None:
    owner(client, linear="user-alice")
    connect_tracker(client, "linear", fake_linear.base_url, {"api_key": API_KEY}, TEAM_ID)
    publish_items(client, count=3)
    worker = worker_for(engine, settings)
    drain(worker)
    issue_id = next(iter(fake_linear.issues))
    fake_linear.set_state(issue_id, "Done", "completed")
    before = len(fake_linear.requests)
    report = reconcile(engine, worker.connectors)
    assert (report.checked, report.drift) == (3, 1)
    assert len(fake_linear.requests) - before == 1, "one batched query for three tickets"
    statuses = sorted(i["status"] for i in client.get("/v1/action-items").json()["items"])
    assert statuses == ["closed", "open", "open"]
