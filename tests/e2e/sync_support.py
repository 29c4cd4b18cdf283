"""Shared steps for the sync tests: set up a routed integration, publish, drain the job queue."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import Engine

from app.settings import Settings, SyncPolicy
from app.sync.worker import Worker
from tests.factories import action_item_body, make_person, make_postmortem, make_team

ROOT = Path(__file__).resolve().parents[2]

# Fast pacing for tests: tiny backoff, no write spacing against the fakes.
FAST_SYNC = SyncPolicy(
    run_in_api_process=False,
    poll_seconds=0.05,
    lease_seconds=2.0,
    max_attempts=3,
    backoff_base_seconds=0.01,
    backoff_cap_seconds=0.05,
    resend_window_seconds=0,
    resend_margin_seconds=0.2,
)
FAST_OPTIONS = {"seconds_between_writes": 0, "seconds_between_requests": 0, "timeout_seconds": 5}


def worker_for(engine: Engine, settings: Settings, **sync: Any) -> Worker:
    """An in-test worker on the database under test, with fast pacing (overridable)."""
    return Worker(engine, settings.model_copy(update={"sync": FAST_SYNC.model_copy(update=sync)}))


def drain(worker: Worker, *, rounds: int = 200) -> int:
    """Run due jobs until none is left that is due within a moment; returns jobs run."""
    total = 0
    idle = 0
    for _ in range(rounds):
        ran = worker.run_once(limit=10)
        total += ran
        if ran:
            idle = 0
            continue
        idle += 1
        if idle > 3:
            break
        time.sleep(0.06)
    return total


def connect_tracker(
    client: TestClient,
    kind: str,
    base_url: str,
    credentials: dict[str, str],
    project: str,
    **extra: Any,
) -> dict[str, Any]:
    make_team(client, "payments")
    body = {
        "kind": kind,
        "name": f"{kind}-fake",
        "base_url": base_url,
        "credentials": credentials,
        "default_project": project,
        "labels": ["postmortem"],
        "options": FAST_OPTIONS,
        "routes": [{"team": "payments"}],
        **extra,
    }
    response = client.post("/v1/integrations", json=body)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def publish_items(
    client: TestClient, count: int = 1, **item_overrides: Any
) -> list[dict[str, Any]]:
    items = [
        action_item_body(title=f"Gate deploys on canary error rate, part {n}", **item_overrides)
        for n in range(count)
    ]
    pm = make_postmortem(client, team="payments", action_items=items)
    response = client.post(f"/v1/postmortems/{pm['id']}/publish")
    assert response.status_code == 200, response.text
    listed = client.get("/v1/action-items", params={"postmortem": pm["id"]}).json()["items"]
    return sorted(listed, key=lambda i: i["title"])


def owner(client: TestClient, **accounts: str) -> dict[str, Any]:
    return make_person(client, "alice", display_name="Alice Moreau", tracker_accounts=accounts)


def job_rows(engine: Engine, lane: str = "outbound") -> list[tuple[str, str, int]]:
    with engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                text("SELECT kind, status, attempts FROM job WHERE lane = :lane"), {"lane": lane}
            )
        ]  # type: ignore[misc]


def start_worker_process(settings: Settings, **env: str) -> subprocess.Popen[bytes]:
    environment = {
        **os.environ,
        "FOLLOWTHROUGH_DATABASE_URL": settings.resolved_database_url(),
        "FOLLOWTHROUGH_SECRET_KEY": settings.resolved_secret_key(),
        "FOLLOWTHROUGH_DATA_DIR": str(settings.data_dir),
        "FOLLOWTHROUGH_SYNC__POLL_SECONDS": "0.05",
        "FOLLOWTHROUGH_SYNC__LEASE_SECONDS": "2",
        "FOLLOWTHROUGH_SYNC__BACKOFF_BASE_SECONDS": "0.01",
        "FOLLOWTHROUGH_SYNC__BACKOFF_CAP_SECONDS": "0.05",
        "FOLLOWTHROUGH_SYNC__RESEND_WINDOW_SECONDS": "0",
        "FOLLOWTHROUGH_SYNC__RESEND_MARGIN_SECONDS": "0.2",
        # The fake trackers listen on 127.0.0.1, which the egress policy refuses unless named.
        "FOLLOWTHROUGH_EGRESS__ALLOW_HOSTS": ",".join(settings.egress.allow_hosts),
        **env,
    }
    return subprocess.Popen(
        [sys.executable, "-m", "app.cli", "worker"],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def kill(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)


def stop(process: subprocess.Popen[bytes], timeout: float = 10) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            kill(process)


def wait_until(
    condition: Callable[[], bool], *, timeout: float = 30.0, what: str = "condition"
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")
