"""Retention: deliveries about tickets that are not ours go after a short window, applied ones
lose their body after days and keep their row, finished jobs go, and whatever people must see or
retry (failed deliveries, parked jobs, deliveries not applied yet) stays. Ages are counted from a
`now` handed to the purge, so nothing waits for the clock."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import event, text
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from app import retention
from app.cli import app as cli
from app.db import utcnow
from app.settings import RetentionPolicy, Settings, get_settings
from app.sync.worker import Worker
from tests.e2e.sync_support import (
    FAST_SYNC,
    connect_tracker,
    drain,
    owner,
    publish_items,
    wait_until,
    worker_for,
)
from tests.e2e.webhook_support import SECRET, github_payload, send_github
from tests.fake_trackers.github import TOKEN, FakeGitHub

POLICY = RetentionPolicy()
CLOSED = "issues/closed.payload.json"
LATER = {"updated_at": "2030-01-01T00:00:00Z"}


@pytest.fixture
def github(
    client: TestClient, engine: Engine, settings: Settings, fake_github: FakeGitHub
) -> dict[str, Any]:
    """One published item whose ticket is acme/api#1 on the fake GitHub."""
    owner(client, github="alice-gh")
    integration = connect_tracker(
        client, "github", fake_github.base_url, {"token": TOKEN}, "acme/api", webhook_secret=SECRET
    )
    [item] = publish_items(client)
    worker = worker_for(engine, settings)
    drain(worker)
    assert client.get(f"/v1/action-items/{item['id']}").json()["ticket_key"] == ("acme/api#1")
    return {"integration": integration["id"], "item": item["id"], "worker": worker}


def send(
    client: TestClient,
    github: dict[str, Any],
    number: int,
    delivery: str,
    name: str = CLOSED,
    event: str = "issues",
) -> str:
    """Deliver an event about acme/api#<number>; returns what the receiver answered."""
    payload = github_payload(name, "acme/api", number, **LATER)
    response = send_github(client, github["integration"], event, payload, delivery)
    assert response.status_code == 202, response.text
    return str(response.json()["status"])


def deliveries(engine: Engine) -> dict[str, dict[str, Any]]:
    """Every stored delivery by its vendor id, with what retention looks at."""
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT delivery_id, outcome, body, headers, detail FROM webhook_delivery")
        ).all()
    return {
        r[0]: {
            "outcome": r[1],
            "body": r[2],
            "headers": r[3] if isinstance(r[3], dict) else json.loads(r[3]),
            "detail": r[4],
        }
        for r in rows
    }


def jobs(engine: Engine) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        return sorted(
            (str(r[0]), str(r[1])) for r in conn.execute(text("SELECT kind, status FROM job")).all()
        )


def purge_at(engine: Engine, later: timedelta, policy: RetentionPolicy = POLICY) -> Any:
    return retention.purge(engine, policy, now=utcnow() + later, pause=False)


def test_purge_removes_what_nobody_needs_and_keeps_what_people_read_or_retry(
    client: TestClient, engine: Engine, github: dict[str, Any]
) -> None:
    worker: Worker = github["worker"]
    assert send(client, github, 1, "ours") == "accepted"
    assert send(client, github, 77, "foreign-77") == "accepted"
    assert send(client, github, 78, "foreign-78") == "accepted"
    # 'opened' is an action the service does not use: stored as ignored, with no job.
    assert send(client, github, 79, "opened-79", "issues/opened.payload.json") == "ignored"
    drain(worker)
    # One of ours whose stored body was damaged: its job parks and the delivery fails.
    assert send(client, github, 1, "damaged") == "accepted"
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE webhook_delivery SET body = :b WHERE delivery_id = 'damaged'"),
            {"b": '{"action": 5}'},
        )
    drain(worker)
    # And one that no worker has applied yet.
    assert send(client, github, 1, "waiting") == "accepted"

    stored = deliveries(engine)
    assert {k: v["outcome"] for k, v in stored.items()} == {
        "ours": "applied",
        "foreign-77": "foreign",
        "foreign-78": "foreign",
        "opened-79": "ignored",
        "damaged": "failed",
        "waiting": "received",
    }
    assert stored["foreign-77"]["detail"] == "acme/api#77: not a ticket of ours"
    # Nothing reads a foreign delivery's body again: it goes when the delivery is judged.
    assert (stored["foreign-77"]["body"], stored["foreign-77"]["headers"]) == ("", {})
    assert stored["ours"]["body"] and stored["ours"]["headers"]
    assert client.get(f"/v1/action-items/{github['item']}").json()["status"] == "closed"
    listed = client.get("/v1/webhook-deliveries").json()["items"]
    assert sorted(d["delivery_id"] for d in listed if d["outcome"] == "foreign") == [
        "foreign-77",
        "foreign-78",
    ]

    # Within the window nothing goes.
    within = purge_at(engine, timedelta(hours=1, minutes=59))
    assert (within.deliveries_deleted, within.bodies_emptied, within.jobs_deleted) == (0, 0, 0)
    assert set(deliveries(engine)) == set(stored)

    # Past it, the foreign and the ignored deliveries go, and the foreign ones' jobs with them.
    before = jobs(engine)
    past = purge_at(engine, timedelta(hours=2, minutes=1))
    assert (past.deliveries_deleted, past.bodies_emptied, past.jobs_deleted) == (3, 0, 0)
    assert set(deliveries(engine)) == {"ours", "damaged", "waiting"}
    assert len(jobs(engine)) == len(before) - 2

    # A week on, finished jobs go; the parked one and the one still waiting stay.
    week = purge_at(engine, timedelta(days=7, hours=1))
    assert week.jobs_deleted == len([j for j in before if j[1] == "done"]) - 2
    assert jobs(engine) == [("webhook.apply", "dead"), ("webhook.apply", "pending")]

    # Two weeks on, the applied delivery keeps its row, outcome and detail but not its body.
    fortnight = purge_at(engine, timedelta(days=14, hours=1))
    assert (fortnight.deliveries_deleted, fortnight.bodies_emptied) == (0, 1)
    kept = deliveries(engine)
    assert (kept["ours"]["body"], kept["ours"]["headers"]) == ("", {})
    assert kept["ours"]["detail"] == stored["ours"]["detail"] == "acme/api#1: closed"
    for untouched in ("damaged", "waiting"):
        assert kept[untouched] == stored[untouched]
    assert purge_at(engine, timedelta(days=15)).bodies_emptied == 0

    # The item's history still names the delivery, and the API still shows what it did.
    history = client.get(f"/v1/action-items/{github['item']}/history").json()["events"]
    closing = next(e for e in history if e["to_status"] == "closed")
    assert closing["actor"] == "delivery:ours"
    listed = {d["delivery_id"]: d for d in client.get("/v1/webhook-deliveries").json()["items"]}
    assert set(listed) == {"ours", "damaged", "waiting"}
    assert listed["ours"]["detail"] == "acme/api#1: closed"
    assert "cannot be read" in listed["damaged"]["detail"]
    [parked] = client.get("/v1/sync-jobs", params={"status": "dead"}).json()["items"]
    assert parked["delivery_id"] == listed["damaged"]["id"]
    # People can still retry the failed delivery.
    retried = client.post(f"/v1/webhook-deliveries/{listed['damaged']['id']}/retry")
    assert retried.status_code == 200, retried.text


def test_a_redelivery_is_a_duplicate_while_the_delivery_is_kept(
    client: TestClient, engine: Engine, github: dict[str, Any]
) -> None:
    assert send(client, github, 77, "d-77") == "accepted"
    assert send(client, github, 1, "d-1") == "accepted"
    drain(github["worker"])
    assert send(client, github, 77, "d-77") == "duplicate"
    assert purge_at(engine, timedelta(hours=1, minutes=59)).deliveries_deleted == 0
    assert send(client, github, 77, "d-77") == "duplicate"
    assert deliveries(engine)["d-77"]["outcome"] == "foreign"

    # Past the window the delivery is forgotten: a late redelivery is judged afresh.
    assert purge_at(engine, timedelta(hours=2, minutes=1)).deliveries_deleted == 1
    assert send(client, github, 77, "d-77") == "accepted"
    drain(github["worker"])
    assert deliveries(engine)["d-77"]["outcome"] == "foreign"
    # A delivery about one of our tickets is never forgotten, however late it comes again.
    purge_at(engine, timedelta(days=400))
    assert send(client, github, 1, "d-1") == "duplicate"


@contextmanager
def writes(engine: Engine) -> Iterator[tuple[list[tuple[str, Any, int]], list[int]]]:
    """The DELETE and UPDATE statements run meanwhile, as the database ran them (statement,
    parameters, rows touched), and the commits."""
    seen: list[tuple[str, Any, int]] = []
    commits: list[int] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        if statement.lstrip().upper().startswith(("DELETE", "UPDATE")):
            seen.append((statement, parameters, cursor.rowcount))

    def committed(conn: Any) -> None:
        commits.append(1)

    event.listen(engine, "after_cursor_execute", record)
    event.listen(engine, "commit", committed)
    try:
        yield seen, commits
    finally:
        event.remove(engine, "after_cursor_execute", record)
        event.remove(engine, "commit", committed)


def test_each_transaction_purges_at_most_one_batch(
    client: TestClient, engine: Engine, github: dict[str, Any]
) -> None:
    for n in range(7):
        send(client, github, 100 + n, f"foreign-{n}")
    drain(github["worker"])
    with writes(engine) as (seen, commits):
        purged = purge_at(engine, timedelta(hours=3), RetentionPolicy(batch_rows=3))
    assert purged.deliveries_deleted == 7
    assert [rows for sql, _, rows in seen if sql.startswith("DELETE FROM webhook_delivery")] == [
        3,
        3,
        1,
    ]
    # One transaction per batch: three for the deliveries, one for bodies, one per job lane.
    assert purged.transactions == len(commits) == 6
    assert purged.longest_transaction_seconds > 0


def test_the_purge_finds_its_batches_through_indexes(
    client: TestClient, engine: Engine, github: dict[str, Any]
) -> None:
    send(client, github, 77, "foreign")
    drain(github["worker"])
    with writes(engine) as (seen, _):
        purge_at(engine, timedelta(days=30))
    plans = []
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            # A handful of rows: the planner would read the table; ask what it does at scale.
            conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
            explain = "EXPLAIN "
        else:
            explain = "EXPLAIN QUERY PLAN "
        for statement, parameters, _ in seen:
            rows = conn.exec_driver_sql(explain + statement, parameters).all()
            plans.append(" ".join(str(cell) for row in rows for cell in row))
        conn.rollback()
    used = ["ix_webhook_delivery_unused", "ix_webhook_delivery_body_kept", "ix_job_due"]
    assert len(plans) == 4  # unused deliveries, bodies, done jobs of each lane
    for plan, index in zip(plans, [used[0], used[1], used[2], used[2]], strict=True):
        assert index in plan, plan


def test_foreign_deliveries_are_counted_in_metrics(
    client: TestClient, github: dict[str, Any]
) -> None:
    def scrape() -> dict[tuple[str, str], float]:
        families = text_string_to_metric_families(client.get("/metrics").text)
        return {(s.name, s.labels.get("outcome", "")): s.value for f in families for s in f.samples}

    first = scrape()
    send(client, github, 77, "foreign-77")
    send(client, github, 78, "foreign-78")
    send(client, github, 1, "ours")
    drain(github["worker"])
    now = scrape()
    assert now[("followthrough_webhook_deliveries", "foreign")] == 2
    assert now[("followthrough_webhook_deliveries", "applied")] == 1
    processed = "followthrough_webhook_deliveries_processed_total"
    assert now[(processed, "foreign")] - first.get((processed, "foreign"), 0) == 2
    assert now[(processed, "applied")] - first.get((processed, "applied"), 0) == 1


def test_db_purge_prints_what_it_removed(
    client: TestClient, on_test_database: Engine, github: dict[str, Any]
) -> None:
    send(client, github, 77, "foreign-77")
    drain(github["worker"])
    # Now, nothing is old enough; a short window on the command line removes it.
    first = CliRunner().invoke(cli, ["db", "purge"])
    assert first.exit_code == 0, first.output
    assert "deliveries deleted (about no ticket of ours, or ignored): 0" in first.output
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FOLLOWTHROUGH_RETENTION__UNUSED_DELIVERY_HOURS", "0.000001")
        get_settings.cache_clear()
        second = CliRunner().invoke(cli, ["db", "purge"])
    get_settings.cache_clear()
    assert second.exit_code == 0, second.output
    assert "deliveries deleted (about no ticket of ours, or ignored): 1" in second.output
    assert "foreign-77" not in deliveries(on_test_database)


def test_the_running_worker_purges_in_its_housekeeping(
    client: TestClient, engine: Engine, settings: Settings, github: dict[str, Any]
) -> None:
    # A window of a millisecond, and a purge every 50 ms: applied, then gone.
    policy = RetentionPolicy(unused_delivery_hours=1 / 3_600_000, purge_seconds=0.05)
    worker = Worker(engine, settings.model_copy(update={"sync": FAST_SYNC, "retention": policy}))
    running = threading.Thread(target=worker.run_forever, args=(1,), daemon=True)
    running.start()
    try:
        assert send(client, github, 1, "ours") == "accepted"
        assert send(client, github, 77, "foreign-77") == "accepted"
        wait_until(lambda: set(deliveries(engine)) == {"ours"}, what="the foreign delivery purged")
    finally:
        worker.stop()
        running.join(timeout=10)
    assert deliveries(engine)["ours"]["outcome"] == "applied"
