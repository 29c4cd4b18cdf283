"""What bench/storage_day.py measures besides sizes: the dashboard summary before and after the
day (a copy from before served beside the database after, asked in turn), and webhook receipt
while a backlog of expired deliveries is purged."""

from __future__ import annotations

import shutil
import statistics
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
from fastapi.testclient import TestClient
from sqlalchemy import insert
from sqlalchemy.engine import Engine, make_url

from app import retention
from app.db import session_scope, utcnow
from app.main import create_app
from app.settings import RetentionPolicy
from app.sync.models import Job
from app.webhooks.models import WebhookDelivery
from bench.service_setup import settings_for
from bench.storage_rows import Tracker, post, rows_for

SUMMARY = {"since": "2024-01-01T00:00:00Z", "until": "2025-01-01T00:00:00Z"}


def checkpoint(engine: Engine) -> None:
    """SQLite only: write the WAL into the database file and empty it (a day starts from an
    empty WAL in both databases; a copy is taken whole; a timing can leave the day's WAL out)."""
    if engine.dialect.name != "sqlite":
        return
    raw = engine.raw_connection()
    try:
        raw.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        raw.close()


# -- ingest while a backlog is purged --------------------------------------------------------


def ingest_during_purge(
    engine: Engine, client: TestClient, trackers: list[Tracker], backlog: int
) -> dict[str, Any]:
    """Webhook receipt latency through the real receiver, alone and while the purge deletes a
    backlog of `backlog` expired foreign deliveries (a first purge after an upgrade, or after
    the worker was down), in the same process as the embedded worker runs it."""
    old = utcnow() - timedelta(days=1)
    rows, jobs = [], []
    for n in range(backlog):
        tracker = trackers[n % len(trackers)]
        delivery = tracker.delivery("foreign", 20_000_000 + n)
        row, job = rows_for(tracker, "foreign", n, delivery, old, with_retention=True)
        rows.append(row)
        jobs.append(job)
    for first in range(0, backlog, 2000):
        with session_scope(engine) as session:
            session.execute(insert(WebhookDelivery), rows[first : first + 2000])
            session.execute(insert(Job), jobs[first : first + 2000])

    def receipt_ms(n: int) -> float:
        started = time.perf_counter()
        post(client, trackers[n % len(trackers)], "foreign", 30_000_000 + n)
        return (time.perf_counter() - started) * 1000

    for n in range(50):
        receipt_ms(n)  # warm up
    alone = [receipt_ms(n) for n in range(50, 250)]
    done: list[retention.Purged] = []
    purging = threading.Thread(
        target=lambda: done.append(retention.purge(engine, RetentionPolicy()))
    )
    started = time.perf_counter()
    purging.start()
    during = []
    while purging.is_alive():
        during.append(receipt_ms(1000 + len(during)))
    purging.join()
    took = time.perf_counter() - started
    # Alone again, after: the machine's load drifts.
    alone += [receipt_ms(len(alone) + len(during) + n) for n in range(200)]

    def pct(samples: list[float], q: float) -> float:
        ordered = sorted(samples)
        return ordered[min(int(len(ordered) * q), len(ordered) - 1)]

    return {
        "backlog": backlog,
        "purge_seconds": took,
        "deleted": done[0].deliveries_deleted,
        "longest_transaction_ms": done[0].longest_transaction_seconds * 1000,
        "alone": {"n": len(alone), "p50_ms": pct(alone, 0.5), "p99_ms": pct(alone, 0.99)},
        "during": {"n": len(during), "p50_ms": pct(during, 0.5), "p99_ms": pct(during, 0.99)},
    }


# -- the dashboard ----------------------------------------------------------------------------


def summary_ms(client: TestClient, runs: int) -> float:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        response = client.get("/v1/dashboard/summary", params=SUMMARY)
        samples.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.text
    return statistics.median(samples)


def snapshot(engine: Engine, url: str, admin: str) -> str | None:
    """A copy of the database as it is now (to time its dashboard beside the one after the day,
    under the same load); None when PostgreSQL will not copy it (a session still open on it)."""
    if engine.dialect.name == "sqlite":
        checkpoint(engine)
        path = Path(make_url(url).database or "")
        copy = path.with_name("before-the-day.db")
        shutil.copy(path, copy)
        return f"sqlite:///{copy}"
    engine.dispose()
    name = make_url(url).database
    try:
        with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{name}_before" TEMPLATE "{name}"')
    except psycopg.Error as exc:
        print(f"no copy of the database before the day ({exc}); timed one after the other")
        return None
    return str(make_url(url).set(database=f"{name}_before"))


def drop_snapshot(copy: str | None, admin: str) -> None:
    if copy is not None and copy.startswith("postgresql"):
        with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{make_url(copy).database}" WITH (FORCE)')


def side_by_side(first: TestClient, second: TestClient, runs: int) -> tuple[float, float]:
    """Medians of the summary on two apps, asked in turn, so both meet the same load."""
    summary_ms(first, 3)
    summary_ms(second, 3)
    a, b = [], []
    for _ in range(runs):
        a.append(summary_ms(first, 1))
        b.append(summary_ms(second, 1))
    return statistics.median(a), statistics.median(b)


def dashboard_before_after(
    client: TestClient, engine: Engine, url: str, before_url: str | None, data_dir: Path, runs: int
) -> dict[str, float]:
    """The summary on the database as it was before the day and as it is after, asked in turn,
    each through an app started afresh (the same treatment for both): as the day left the WAL,
    and once it is checkpointed (SQLite)."""
    if before_url is None:
        return {}
    timings: dict[str, float] = {}
    apps = [create_app(settings_for(u, data_dir)) for u in (before_url, url)]
    headers = dict(client.headers)
    with (
        TestClient(apps[0], headers=headers) as before,
        TestClient(apps[1], headers=headers) as after,
    ):
        timings["before"], timings["after_with_wal"] = side_by_side(before, after, runs)
        if engine.dialect.name == "sqlite":
            checkpoint(engine)
            timings["before_again"], timings["after"] = side_by_side(before, after, runs)
    for app in apps:
        app.state.engine.dispose()
    return timings
