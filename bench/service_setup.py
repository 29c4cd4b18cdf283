"""What the sync benchmarks share: a throwaway database, settings, an admin client, a Linear
integration and published items."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
from sqlalchemy import text, update
from sqlalchemy.engine import Engine

from app import migrate
from app.auth import service as auth_service
from app.db import READ_ONLY, session_scope
from app.enums import Scope
from app.integrations.models import Integration
from app.settings import CheckPolicy, EgressSettings, Settings, SyncPolicy
from bench.service_processes import stop, wait_healthy
from bench.throwaway_postgres import free_port
from tests.factories import action_item_body, make_person, make_postmortem, make_team
from tests.fake_trackers.linear import API_KEY, TEAM_ID

ROOT = Path(__file__).resolve().parents[1]
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
PER_POSTMORTEM = 100
TEAM = "storage"
SECRET = "bench-webhook-secret"


@contextmanager
def database(kind: str, admin: str = PG_ADMIN) -> Iterator[tuple[str, Path]]:
    """(url, data dir) of a fresh, migrated database; dropped (or deleted) afterwards."""
    data_dir = Path(tempfile.mkdtemp(prefix="bench-"))
    name = None
    try:
        if kind == "postgresql":
            name = f"followthrough_bench_{uuid.uuid4().hex[:10]}"
            with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
                conn.execute(f'CREATE DATABASE "{name}"')
            base = admin.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
            url = f"{base}/{name}"
        else:
            url = f"sqlite:///{data_dir / 'bench.db'}"
        migrate.upgrade(url)
        yield url, data_dir
    finally:
        if name is not None:
            with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        shutil.rmtree(data_dir, ignore_errors=True)


def settings_for(url: str, data_dir: Path, **sync: Any) -> Settings:
    return Settings(
        database_url=url,
        data_dir=data_dir,
        secret_key="bench",
        sync=SyncPolicy(**{"run_in_api_process": False, "reconcile_interval_seconds": 0, **sync}),
        checks=CheckPolicy(max_committed_items=PER_POSTMORTEM),
        metrics_cache_seconds=0,
        # The fake trackers listen on 127.0.0.1, which the egress policy refuses unless named.
        egress=EgressSettings(allow_hosts=["127.0.0.1"]),
    )


def admin_token(engine: Engine) -> str:
    with session_scope(engine) as session:
        _, token = auth_service.create(session, name="bench", scope=Scope.ADMIN)
    return token


def connect_linear(client: httpx.Client, base_url: str, concurrency: int) -> str:
    """A team, an owner with a Linear account, and a Linear integration routed to the team;
    returns the integration's id. No labels: one request per create."""
    make_team(client, TEAM)
    make_person(client, "alice", display_name="Alice Moreau", tracker_accounts={"linear": "u-1"})
    response = client.post(
        "/v1/integrations",
        json={
            "kind": "linear",
            "name": "linear-fake",
            "base_url": base_url,
            "credentials": {"api_key": API_KEY},
            "default_project": TEAM_ID,
            "labels": [],
            "options": {"timeout_seconds": 10},
            "routes": [{"team": TEAM}],
            "webhook_secret": SECRET,
            "max_concurrency": concurrency,
        },
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def publish(client: httpx.Client, count: int) -> list[str]:
    """`count` committed items, up to 100 to a postmortem; returns their ids."""
    ids: list[str] = []
    while len(ids) < count:
        size = min(PER_POSTMORTEM, count - len(ids))
        items = [
            action_item_body(title=f"Gate deploys on canary error rate, part {len(ids) + n}")
            for n in range(size)
        ]
        pm = make_postmortem(client, team=TEAM, action_items=items)
        response = client.post(f"/v1/postmortems/{pm['id']}/publish")
        assert response.status_code == 200, response.text
        listed = client.get(
            "/v1/action-items", params={"postmortem": pm["id"], "limit": PER_POSTMORTEM}
        ).json()["items"]
        ids += [item["id"] for item in listed]
    return ids


def count(engine: Engine, sql: str) -> int:
    # A read: a deferred BEGIN, so the bench never takes SQLite's write lock to look.
    with engine.execution_options(**{READ_ONLY: True}).connect() as conn:
        return int(conn.execute(text(sql)).scalar() or 0)


def wait_for(engine: Engine, sql: str, target: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if count(engine, sql) >= target:
            return True
        time.sleep(0.02)
    return False


def pause(engine: Engine, paused: bool) -> None:
    """Hold (or release) every integration's outbound jobs, so that workers can start up
    before the clock does."""
    until = datetime(2999, 1, 1, tzinfo=UTC) if paused else None
    with engine.begin() as conn:
        conn.execute(update(Integration).values(paused_until=until))


def service_environment(settings: Settings) -> dict[str, str]:
    """The environment that gives `followthrough serve` (or `worker`) these settings."""
    return {
        **os.environ,
        "FOLLOWTHROUGH_DATABASE_URL": settings.resolved_database_url(),
        "FOLLOWTHROUGH_SECRET_KEY": settings.resolved_secret_key(),
        "FOLLOWTHROUGH_DATA_DIR": str(settings.data_dir),
        "FOLLOWTHROUGH_SYNC__RUN_IN_API_PROCESS": str(settings.sync.run_in_api_process).lower(),
        "FOLLOWTHROUGH_SYNC__WAKE_ON_ENQUEUE": str(settings.sync.wake_on_enqueue).lower(),
        "FOLLOWTHROUGH_SYNC__RUNNERS": str(settings.sync.runners),
        "FOLLOWTHROUGH_SYNC__RECONCILE_INTERVAL_SECONDS": str(
            settings.sync.reconcile_interval_seconds
        ),
        "FOLLOWTHROUGH_CHECKS__MAX_COMMITTED_ITEMS": str(settings.checks.max_committed_items),
        "FOLLOWTHROUGH_METRICS_CACHE_SECONDS": str(settings.metrics_cache_seconds),
        "FOLLOWTHROUGH_EGRESS__ALLOW_HOSTS": ",".join(settings.egress.allow_hosts),
    }


@contextmanager
def service_process(settings: Settings) -> Iterator[tuple[str, int]]:
    """`followthrough serve` in a process of its own, as deployed: (base URL, pid)."""
    port = free_port()
    # Our own interpreter and command line; the port is a number we chose.
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "app.cli", "serve", "--no-migrate", "--port", str(port)],
        cwd=ROOT,
        env=service_environment(settings),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=url) as client:
            wait_healthy(process, client)
        yield url, process.pid
    finally:
        stop(process)
