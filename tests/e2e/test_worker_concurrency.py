"""Runner threads run jobs at once up to an integration's max_concurrency, never past it, and a
spent GitHub write budget holds the next create back, on the item and in /metrics."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import Engine

from app.settings import Settings
from app.sync.wakeup import Wakeup
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
from tests.fake_trackers.github import TOKEN, FakeGitHub
from tests.fake_trackers.linear import API_KEY, TEAM_ID, FakeLinear
from tests.fake_trackers.server import Request


def most_at_once(requests: list[Request]) -> int:
    """The most of these requests the tracker was serving at one moment."""
    edges = sorted(
        [(r.started, 1) for r in requests] + [(r.finished, -1) for r in requests],
        # At the same instant an answer ends before the next request counts.
        key=lambda edge: (edge[0], edge[1]),
    )
    peak = current = 0
    for _, step in edges:
        current += step
        peak = max(peak, current)
    return peak


@contextmanager
def running(workers: list[Worker], runners: int) -> Iterator[None]:
    threads = [threading.Thread(target=w.run_forever, args=(runners,)) for w in workers]
    for thread in threads:
        thread.start()
    try:
        yield
    finally:
        for worker in workers:
            worker.stop()
        for thread in threads:
            thread.join(timeout=10)


def publish(client: TestClient, count: int) -> list[dict[str, Any]]:
    """`count` committed items, three to a postmortem (what the default check policy allows)."""
    items: list[dict[str, Any]] = []
    while len(items) < count:
        items += publish_items(client, count=min(3, count - len(items)))
    return items


def synced(client: TestClient, items: list[dict[str, Any]]) -> bool:
    states = [client.get(f"/v1/action-items/{i['id']}").json()["sync_state"] for i in items]
    return all(state == "synced" for state in states)


def creates(fake: FakeLinear) -> list[Request]:
    with fake.lock:
        return [r for r in fake.requests if b"issueCreate" in r.body]


def test_four_creates_in_flight_at_once_and_never_five(
    client: TestClient, engine: Engine, settings: Settings, fake_linear: FakeLinear
) -> None:
    owner(client, linear="user-alice")
    # No labels: a create is then one request, so a job in flight is a create in flight.
    connect_tracker(client, "linear", fake_linear.base_url, {"api_key": API_KEY}, TEAM_ID,
                    max_concurrency=4, labels=[])  # fmt: skip
    items = publish(client, 12)
    fake_linear.latency = 0.3
    # Two worker processes' worth of runners (16), twice what the integration allows at once.
    workers = [
        Worker(
            engine,
            settings.model_copy(update={"sync": FAST_SYNC.model_copy(update={"runners": 8})}),
            name=f"worker-{n}",
            wake=Wakeup(),
        )
        for n in range(2)
    ]
    with running(workers, runners=8):
        wait_until(lambda: synced(client, items), timeout=30, what="every item synced")

    assert len(fake_linear.issues) == 12
    assert len(creates(fake_linear)) == 12
    assert most_at_once(creates(fake_linear)) == 4


def test_github_writes_go_out_one_at_a_time(
    client: TestClient, engine: Engine, settings: Settings, fake_github: FakeGitHub
) -> None:
    owner(client, github="alice-gh")
    connect_tracker(client, "github", fake_github.base_url, {"token": TOKEN}, "acme/api",
                    max_concurrency=4, labels=[])  # fmt: skip
    items = publish(client, 4)
    fake_github.latency = 0.2
    worker = Worker(
        engine, settings.model_copy(update={"sync": FAST_SYNC}), name="github", wake=Wakeup()
    )
    with running([worker], runners=4):
        wait_until(lambda: synced(client, items), timeout=30, what="every item synced")

    with fake_github.lock:
        posts = [r for r in fake_github.requests if r.method == "POST"]
    assert len(posts) == 4
    assert most_at_once(posts) == 1


def metric(client: TestClient, name: str, integration: str) -> float:
    text_format = client.get("/metrics").text
    found = re.search(rf'^{name}{{integration="{integration}"}} (\S+)$', text_format, re.M)
    return float(found.group(1)) if found else 0.0


def test_spent_github_hourly_budget_holds_the_next_create(
    client: TestClient, engine: Engine, settings: Settings, fake_github: FakeGitHub
) -> None:
    owner(client, github="alice-gh")
    integration = connect_tracker(
        client, "github", fake_github.base_url, {"token": TOKEN}, "acme/api"
    )
    name = integration["name"]
    waits_before = metric(client, "followthrough_sync_budget_waits_total", name)
    items = publish(client, 5)

    drain(worker_for(engine, settings, write_budget_per_hour=3))

    assert len(fake_github.issues) == 3
    states = [client.get(f"/v1/action-items/{i['id']}").json() for i in items]
    held = [s for s in states if s["sync_state"] == "pending"]
    assert len(held) == 2
    assert sum(s["sync_state"] == "synced" for s in states) == 3
    for item in held:
        assert item["ticket_key"] is None
        assert "3 writes an hour" in item["sync_error"], item["sync_error"]
        next_at = re.search(r"next attempt at (\S+ \S+) UTC", item["sync_error"])
        assert next_at is not None
        when = datetime.strptime(next_at.group(1), "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
        assert timedelta(minutes=58) < when - datetime.now(UTC) <= timedelta(hours=1)
    with engine.connect() as conn:
        waiting = conn.execute(
            text(
                "SELECT count(*) FROM job WHERE kind = 'ticket.create' AND status = 'pending'"
                " AND last_error LIKE 'waiting for the write budget%'"
            )
        ).scalar()
    assert waiting == 2
    assert metric(client, "followthrough_sync_jobs_waiting_for_budget", name) == 2
    assert metric(client, "followthrough_sync_budget_waits_total", name) >= waits_before + 2

    # Asked to sync now, the held items wait again while the budget is spent ...
    for item in held:
        assert client.post(f"/v1/action-items/{item['id']}/sync").status_code == 200
    drain(worker_for(engine, settings, write_budget_per_hour=3))
    assert len(fake_github.issues) == 3
    assert metric(client, "followthrough_sync_jobs_waiting_for_budget", name) == 2
    # ... and go out as soon as the budget has room for them.
    for item in held:
        assert client.post(f"/v1/action-items/{item['id']}/sync").status_code == 200
    drain(worker_for(engine, settings, write_budget_per_hour=5))
    assert len(fake_github.issues) == 5
    assert synced(client, items)
    assert metric(client, "followthrough_sync_jobs_waiting_for_budget", name) == 0
