"""A job queued while the worker idles runs at once: it does not wait for the next poll (30 s
here). SQLite: the committing session signals the embedded worker in its process. PostgreSQL: a
worker that only LISTENs (its in-process signal is its own) hears the enqueuing transaction's
NOTIFY."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from app.main import create_app
from app.settings import Settings
from app.sync.wakeup import Wakeup
from app.sync.worker import Worker
from tests.e2e.sync_support import FAST_SYNC, connect_tracker, owner, publish_items, wait_until
from tests.fake_trackers.linear import API_KEY, TEAM_ID, FakeLinear

SLOW_POLL = FAST_SYNC.model_copy(update={"poll_seconds": 30.0, "runners": 2})
# Far less than the poll, generous for a loaded machine.
PROMPT = 5.0


def synced_within(client: TestClient, item_id: str, seconds: float) -> float:
    started = time.monotonic()
    wait_until(
        lambda: client.get(f"/v1/action-items/{item_id}").json()["sync_state"] == "synced",
        timeout=seconds,
        what="the job to run without waiting for the poll",
    )
    return time.monotonic() - started


@pytest.mark.backends("sqlite")
def test_embedded_worker_runs_a_queued_job_without_waiting_for_the_poll(
    settings: Settings, make_token: Callable[..., str], fake_linear: FakeLinear
) -> None:
    embedded = settings.model_copy(
        update={"sync": SLOW_POLL.model_copy(update={"run_in_api_process": True})}
    )
    app = create_app(embedded)
    try:
        with TestClient(app, headers={"Authorization": f"Bearer {make_token()}"}) as client:
            owner(client, linear="user-alice")
            connect_tracker(client, "linear", fake_linear.base_url, {"api_key": API_KEY}, TEAM_ID)
            # Let the runners find nothing and settle into their 30 s wait.
            time.sleep(0.5)
            [item] = publish_items(client)
            assert synced_within(client, item["id"], PROMPT) < PROMPT
        assert len(fake_linear.issues) == 1
    finally:
        app.state.engine.dispose()


@pytest.mark.backends("postgresql")
def test_listening_worker_runs_a_queued_job_without_waiting_for_the_poll(
    client: TestClient, engine: Engine, settings: Settings, fake_linear: FakeLinear
) -> None:
    owner(client, linear="user-alice")
    connect_tracker(client, "linear", fake_linear.base_url, {"api_key": API_KEY}, TEAM_ID)
    # Its own Wakeup: only a notification from the server can cut its 30 s wait short.
    worker = Worker(
        engine, settings.model_copy(update={"sync": SLOW_POLL}), name="listener", wake=Wakeup()
    )
    thread = threading.Thread(target=worker.run_forever)
    thread.start()
    try:
        assert worker.listening.wait(10), "the worker never started listening"
        time.sleep(0.5)
        [item] = publish_items(client)
        assert synced_within(client, item["id"], PROMPT) < PROMPT
    finally:
        worker.stop()
        thread.join(timeout=10)
    assert len(fake_linear.issues) == 1
