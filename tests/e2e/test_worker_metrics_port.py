"""`followthrough worker --metrics-port` serves the sync series of the process that ran the jobs."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Callable

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import Engine

from app import migrate
from app.main import create_app
from app.settings import Settings
from tests.e2e.sync_support import ROOT, connect_tracker, owner, publish_items, stop, wait_until
from tests.fake_trackers.jira import API_TOKEN, FakeJira


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def worker_with_metrics(settings: Settings, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "FOLLOWTHROUGH_DATABASE_URL": settings.resolved_database_url(),
        "FOLLOWTHROUGH_SECRET_KEY": settings.resolved_secret_key(),
        "FOLLOWTHROUGH_DATA_DIR": str(settings.data_dir),
        "FOLLOWTHROUGH_SYNC__POLL_SECONDS": "0.05",
        "FOLLOWTHROUGH_EGRESS__ALLOW_HOSTS": ",".join(settings.egress.allow_hosts),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "app.cli", "worker", "--metrics-port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def scrape(url: str) -> str:
    try:
        return httpx.get(url, timeout=2).text
    except httpx.TransportError:
        return ""


@pytest.mark.backends("postgresql")
def test_worker_serves_its_sync_latency_on_the_metrics_port(
    settings: Settings, engine: Engine, make_token: Callable[..., str], fake_jira: FakeJira
) -> None:
    with TestClient(create_app(settings), headers={"Authorization": f"Bearer {make_token()}"}) as c:
        owner(c, jira="557058:alice")
        connect_tracker(
            c,
            "jira",
            fake_jira.base_url,
            {"email": "bot@example.com", "api_token": API_TOKEN},
            "OPS",
        )
        publish_items(c, count=2)
    port = free_port()
    url = f"http://127.0.0.1:{port}/metrics"
    process = worker_with_metrics(settings, port)
    try:

        def synced() -> bool:
            with engine.connect() as conn:
                query = "SELECT count(*) FROM action_item WHERE sync_state = 'synced'"
                return conn.execute(text(query)).scalar_one() == 2

        wait_until(synced, timeout=60, what="the worker to sync both items")
        # The series the worker observed after each create, in the worker's own process.
        wait_until(
            lambda: (
                'followthrough_sync_latency_seconds_count{operation="ticket.create"} 2.0'
                in scrape(url)
            ),
            timeout=10,
            what="the worker's metrics port to report both creates",
        )
        body = scrape(url)
    finally:
        stop(process)
    assert "# TYPE followthrough_sync_latency_seconds histogram" in body
    assert "followthrough_reconciliation_drift_total" in body
    # Only the process's own series: the API's database aggregates are not served here.
    assert "followthrough_action_items{" not in body


def test_worker_refuses_a_metrics_port_already_taken(tmp_path: object) -> None:
    url = f"sqlite:///{tmp_path}/worker.db"
    migrate.upgrade(url)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "app.cli", "worker", "--metrics-port", str(port)],
            cwd=ROOT,
            env={
                **os.environ,
                "FOLLOWTHROUGH_DATABASE_URL": url,
                "FOLLOWTHROUGH_SECRET_KEY": "metrics-port-test",
            },
            capture_output=True,
            timeout=60,
        )
    assert result.returncode == 2
    assert f"--metrics-port: cannot listen on 127.0.0.1:{port}" in result.stderr.decode()
