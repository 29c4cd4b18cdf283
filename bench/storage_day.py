"""A simulated day of webhook deliveries: how large the stored deliveries and jobs grow with
retention (app/retention.py) and without it, and whether the dashboard notices.

    .venv/bin/python -m bench.storage_day                                # 100,000 deliveries
    .venv/bin/python -m bench.storage_day --deliveries 1000000 --baseline-deliveries 100000
    .venv/bin/python -m bench.storage_day --database-url postgresql://postgres@127.0.0.1:5432/postgres
    .venv/bin/python -m bench.storage_day --json /tmp/storage_day.json

A busy GitHub organisation, Jira site and Linear workspace send every issue event to the service;
about 1.5 % concern one of our tickets, 10 % are event types we do not use (opened, created) and
the rest are about other people's tickets. The deliveries arrive evenly over 24 simulated hours,
the three trackers in turn, and every 5 simulated minutes the purge runs as the worker runs it,
with that moment as its `now` (so the ages are the simulated ones).

Rows are bulk-inserted as they stand once the receiver stored a delivery and the worker applied
it and finished its job: the body as sent, the kept headers, the event name, the outcome and
detail, and the done `webhook.apply` job (none for an ignored delivery). A sample of deliveries of
every tracker and kind first goes through the real path (signed POST /v1/webhooks/{id}, then the
worker), and the run stops unless the rows it stored are the rows the bulk path writes for the same
deliveries (ids and times aside; the detail of ours aside, which names what changed on the item).
What is not simulated: a foreign delivery's body lives for the moment between its receipt and its
apply; the pages it took are reused at once.

The baseline, in its own database in the same run, is the same day as the service stored it
before retention: every delivery keeps its body and headers, nothing is deleted, and a delivery
about no ticket of ours is "applied". With --baseline-deliveries smaller than --deliveries, the
baseline runs that many deliveries and its growth is extrapolated linearly (stored rows grow with
deliveries, one row and one job each), and the table says so.

Sizes: SQLite, the database file and its WAL (which a checkpoint empties but does not shrink);
PostgreSQL, pg_total_relation_size of webhook_delivery and job, after a plain VACUUM of both every
simulated hour standing in for autovacuum (which a real day gives ample time to run).

The dashboard summary (GET /v1/dashboard/summary over a year, as bench/dashboard_summary.py times
it) is timed on the retention database before and after the day; on a shared machine the load
drifts in between, so a copy of the database from before the day is also served beside it and
both are asked in turn; that ratio is the one to read. Last, a backlog of expired deliveries
(--backlog; a first purge after an upgrade, or after the worker was down) is purged in a thread
while signed deliveries go through the receiver, timed against the receiver alone before and
after.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
from fastapi.testclient import TestClient
from sqlalchemy import insert, select, text
from sqlalchemy.engine import Engine, make_url

from app import retention
from app.action_items.models import ActionItem
from app.db import session_scope, utcnow
from app.main import create_app
from app.settings import RetentionPolicy
from app.sync.models import Job
from app.sync.worker import Worker
from app.tickets.models import TicketLink
from app.webhooks.models import WebhookDelivery
from bench.dashboard_summary import generate as generate_postmortems
from bench.report import add_json_option, write_json
from bench.service_setup import PG_ADMIN, admin_token, database, settings_for
from connectors import registry
from connectors.base import TrackerKind
from tests.e2e.webhook_support import sign
from tests.fake_trackers.contracts import load_json

SECRET = "storage-day-secret"
# Stands for the ticket number or key in a body template.
PLACEHOLDER = 987654321
LINKED_PER_TRACKER = 100
SUMMARY = {"since": "2024-01-01T00:00:00Z", "until": "2025-01-01T00:00:00Z"}
KINDS = ("ours", "ignored", "foreign")


@dataclass
class Tracker:
    """One integration and how its deliveries look: body templates by kind of delivery."""

    kind: str
    integration_id: uuid.UUID
    templates: dict[str, str]
    key: Callable[[int], str]
    headers: Callable[[str], dict[str, str]]
    kept: tuple[str, ...] = ()
    # The event name the receiver reads (a header, or Jira's body field), by kind of delivery.
    events: dict[str, str] = field(default_factory=dict)

    def delivery(self, category: str, number: int) -> tuple[str, dict[str, str], str]:
        """(delivery id, headers as sent, body) of one delivery about ticket `number`."""
        delivery_id = str(uuid.uuid4())
        body = self.templates[category].replace(str(PLACEHOLDER), str(number))
        return delivery_id, self.headers(delivery_id), body


def _github(integration_id: uuid.UUID) -> Tracker:
    def body(name: str) -> str:
        payload = load_json(f"github/webhooks/issues/{name}")
        payload["repository"]["full_name"] = "acme/api"
        payload["issue"]["number"] = PLACEHOLDER
        payload["issue"]["updated_at"] = "2030-01-01T00:00:00Z"
        return json.dumps(payload)

    closed = body("closed.payload.json")
    return Tracker(
        kind="github",
        integration_id=integration_id,
        templates={"ours": closed, "foreign": closed, "ignored": body("opened.payload.json")},
        key=lambda n: f"acme/api#{n}",
        headers=lambda d: {
            "x-github-event": "issues",
            "x-github-delivery": d,
            "x-github-hook-id": "4120",
            "content-type": "application/json",
            "user-agent": "GitHub-Hookshot/7c1d2a0",
        },
    )


def _jira(integration_id: uuid.UUID) -> Tracker:
    def body(name: str) -> str:
        payload = load_json(f"jira/webhooks/{name}")
        payload["issue"]["key"] = f"OPS-{PLACEHOLDER}"
        payload["timestamp"] = 1893456000000
        return json.dumps(payload)

    done = body("jira_issue_updated.status_to_done.json")
    return Tracker(
        kind="jira",
        integration_id=integration_id,
        templates={"ours": done, "foreign": done, "ignored": body("jira_issue_created.json")},
        key=lambda n: f"OPS-{n}",
        headers=lambda d: {
            "x-atlassian-webhook-identifier": d,
            "x-atlassian-webhook-retry": "0",
            "content-type": "application/json",
            "user-agent": "Atlassian Webhook HTTP Client",
        },
    )


def _linear(integration_id: uuid.UUID) -> Tracker:
    def body(name: str, **data: Any) -> str:
        payload = load_json(f"linear/webhooks/{name}")
        payload["data"].update(data)
        payload["data"].pop("identifier", None)
        if "updatedFrom" in payload:
            # A state change: what Linear names in updatedFrom is what changed.
            payload["updatedFrom"] = {"stateId": "s-before", "updatedAt": "2029-12-31T00:00:00Z"}
        # Freshness is checked against the clock at receipt; the bulk rows keep this one.
        payload["webhookTimestamp"] = 1893456000000
        return json.dumps(payload)

    update = body(
        "issue_update.json",
        team={"id": "t-1", "key": "ENG", "name": "Eng"},
        number=PLACEHOLDER,
        updatedAt="2030-01-01T00:00:00.000Z",
        state={"id": "s-done", "name": "Done", "type": "completed"},
    )
    return Tracker(
        kind="linear",
        integration_id=integration_id,
        templates={"ours": update, "foreign": update, "ignored": body("issue_create.json")},
        key=lambda n: f"ENG-{n}",
        headers=lambda d: {
            "linear-delivery": d,
            "linear-event": "Issue",
            "content-type": "application/json; charset=utf-8",
            "user-agent": "Linear-Webhook",
        },
    )


# -- set-up ---------------------------------------------------------------------------------------


def connect(client: TestClient) -> list[Tracker]:
    """The three integrations, as an admin creates them (no call reaches a tracker)."""
    bodies = {
        "github": {"credentials": {"token": "x"}, "default_project": "acme/api"},
        "jira": {
            "base_url": "https://acme.atlassian.net",
            "credentials": {"email": "bot@example.com", "api_token": "x"},
            "default_project": "OPS",
        },
        "linear": {"credentials": {"api_key": "lin_api_x"}, "default_project": "t-1"},
    }
    trackers = []
    for kind, build in (("github", _github), ("jira", _jira), ("linear", _linear)):
        response = client.post(
            "/v1/integrations",
            json={"kind": kind, "name": f"{kind}-org", "webhook_secret": SECRET, **bodies[kind]},
        )
        assert response.status_code == 201, response.text
        tracker = build(uuid.UUID(response.json()["id"]))
        profile = registry.profile(TrackerKind(kind)).webhook
        tracker.kept = profile.kept_headers
        tracker.events = {
            category: profile.event_name(tracker.headers("d"), json.loads(body))
            for category, body in tracker.templates.items()
        }
        trackers.append(tracker)
    return trackers


def link_tickets(engine: Engine, trackers: list[Tracker]) -> None:
    """Tickets 1..LINKED_PER_TRACKER of every tracker belong to generated action items."""
    with session_scope(engine) as session:
        wanted = LINKED_PER_TRACKER * len(trackers)
        items = list(session.execute(select(ActionItem.id).limit(wanted)).scalars())
        assert len(items) == wanted, "too few generated items"
        rows = [
            {
                "id": uuid.uuid4(),
                "action_item_id": items[t * LINKED_PER_TRACKER + n - 1],
                "integration_id": tracker.integration_id,
                "project": "acme/api",
                "marker": uuid.uuid4().hex,
                "create_attempts": 1,
                "intent_at": utcnow(),
                "external_key": tracker.key(n),
                "linked_at": utcnow(),
                "adopted": False,
                "duplicate_keys": [],
            }
            for t, tracker in enumerate(trackers)
            for n in range(1, LINKED_PER_TRACKER + 1)
        ]
        session.execute(insert(TicketLink), rows)


# -- the rows ---------------------------------------------------------------------------------


def rows_for(
    tracker: Tracker,
    category: str,
    number: int,
    delivery: tuple[str, dict[str, str], str],
    at: datetime,
    *,
    with_retention: bool,
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The delivery row and its job as the receiver and the worker leave them."""
    delivery_id, headers, body = delivery
    key = tracker.key(number)
    row_id = uuid.uuid4()
    row: dict[str, Any] = {
        "id": row_id,
        "integration_id": tracker.integration_id,
        "delivery_id": delivery_id,
        "event": tracker.events[category][:100],
        "body": body,
        "headers": {k: v for k, v in headers.items() if k in tracker.kept},
        "received_at": at,
        "processed_at": at,
        "redeliveries": 0,
    }
    if category == "ignored":
        row.update(outcome="ignored", detail="event type not used")
        return row, None
    if category == "foreign":
        row.update(outcome="applied", detail=f"{key}: not a ticket of ours")
        if with_retention:
            row.update(outcome="foreign", body="", headers={})
    else:
        row.update(outcome="applied", detail=f"{key}: closed")
    job = {
        "id": uuid.uuid4(),
        "kind": "webhook.apply",
        "lane": "inbound",
        "payload": {},
        "delivery_id": row_id,
        "integration_id": tracker.integration_id,
        "status": "done",
        "attempts": 0,
        "available_at": at,
        "leased_until": None,
        "lease_owner": f"bench/{uuid.uuid4().hex[:8]}",
        "last_error": None,
        "created_at": at,
        "updated_at": at,
    }
    return row, job


def post(
    client: TestClient, tracker: Tracker, category: str, number: int
) -> tuple[str, dict[str, str], str]:
    """Send one delivery as its tracker signs it, through the receiver; returns what was sent."""
    delivery_id, headers, body = tracker.delivery(category, number)
    if tracker.kind == "linear":
        # Fresh for the receiver's 60-second check.
        body = body.replace("1893456000000", str(int(time.time() * 1000)))
    signature = sign(SECRET, body.encode())
    signed = {
        "github": {"x-hub-signature-256": f"sha256={signature}"},
        "jira": {"x-hub-signature": f"sha256={signature}"},
        "linear": {"linear-signature": signature},
    }[tracker.kind]
    response = client.post(
        f"/v1/webhooks/{tracker.integration_id}",
        content=body.encode(),
        headers={**headers, **signed},
    )
    assert response.status_code == 202, response.text
    return delivery_id, headers, body


COMPARED = ("integration_id", "delivery_id", "event", "body", "headers", "outcome", "detail")
COMPARED_JOB = ("kind", "lane", "status", "attempts", "integration_id", "payload")


def check_shapes(app: Any, client: TestClient, trackers: list[Tracker]) -> int:
    """Send deliveries of every tracker and kind through the real path; fail unless the stored
    rows equal what the bulk path writes for them. Returns how many were compared."""
    engine: Engine = app.state.engine
    worker = Worker(engine, app.state.settings)
    expected: dict[str, tuple[dict[str, Any], dict[str, Any] | None]] = {}
    numbers = {"ours": [1, 2, 3], "foreign": [5001, 5002, 5003], "ignored": [7001, 7002]}
    for tracker in trackers:
        for category in KINDS:
            for number in numbers[category]:
                delivery_id, headers, body = post(client, tracker, category, number)
                expected[delivery_id] = rows_for(
                    tracker,
                    category,
                    number,
                    (delivery_id, headers, body),
                    utcnow(),
                    with_retention=True,
                )
    while worker.run_once(limit=50):
        pass
    compared = 0
    with engine.connect() as conn:
        for delivery_id, (row, job) in expected.items():
            stored = (
                conn.execute(
                    select(WebhookDelivery).where(WebhookDelivery.delivery_id == delivery_id)  # type: ignore[arg-type]
                )
                .mappings()
                .one()
            )
            for name in COMPARED:
                if name == "detail" and row["detail"].endswith(": closed"):
                    continue
                got = stored[name]
                if name == "headers" and isinstance(got, str):
                    got = json.loads(got)
                if got != row[name]:
                    sys.exit(
                        f"shape check: {delivery_id} {name}: stored {got!r}, bulk {row[name]!r}"
                    )
            stored_job = (
                conn.execute(select(Job).where(Job.delivery_id == stored["id"]))  # type: ignore[arg-type]
                .mappings()
                .one_or_none()
            )
            if (stored_job is None) != (job is None):
                sys.exit(f"shape check: {delivery_id}: stored job {stored_job}, bulk job {job}")
            if job is not None and stored_job is not None:
                for name in COMPARED_JOB:
                    if stored_job[name] != job[name]:
                        sys.exit(
                            f"shape check: {delivery_id} job {name}: stored {stored_job[name]!r},"
                            f" bulk {job[name]!r}"
                        )
            compared += 1
        conn.execute(text("DELETE FROM job WHERE lane = 'inbound'"))
        conn.execute(text("DELETE FROM webhook_delivery"))
        conn.commit()
    return compared


# -- the day ------------------------------------------------------------------------------------


@dataclass
class Day:
    """What one simulated day did to one database."""

    name: str
    deliveries: int
    hours: list[dict[str, Any]] = field(default_factory=list)
    insert_seconds: float = 0.0
    purge_seconds: float = 0.0
    purges: int = 0
    longest_purge_transaction_ms: float = 0.0
    removed: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(
            ("deliveries_deleted", "bodies_emptied", "jobs_deleted"), 0
        )
    )


def size_bytes(engine: Engine, url: str) -> dict[str, int]:
    if engine.dialect.name == "sqlite":
        path = Path(make_url(url).database or "")
        wal = path.with_name(path.name + "-wal")
        return {
            "file": path.stat().st_size,
            "wal": wal.stat().st_size if wal.exists() else 0,
        }
    with engine.connect() as conn:
        total = conn.execute(
            text(
                "SELECT pg_total_relation_size('webhook_delivery') + pg_total_relation_size('job')"
            )
        ).scalar_one()
    return {"tables": int(total)}


def checkpoint(engine: Engine) -> None:
    """SQLite only: start the day from an empty WAL, as both databases' set-ups differ in it."""
    if engine.dialect.name != "sqlite":
        return
    raw = engine.raw_connection()
    try:
        raw.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        raw.close()


def vacuum(engine: Engine) -> None:
    """PostgreSQL only: what autovacuum does many times in a real hour."""
    if engine.dialect.name != "postgresql":
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM webhook_delivery, job")


def counts(engine: Engine) -> tuple[int, int]:
    with engine.connect() as conn:
        deliveries = conn.execute(text("SELECT count(*) FROM webhook_delivery")).scalar_one()
        jobs = conn.execute(text("SELECT count(*) FROM job")).scalar_one()
    return int(deliveries), int(jobs)


def schedule(deliveries: int, seed: int) -> Iterator[tuple[str, int]]:
    """(kind, ticket number) of each delivery in arrival order."""
    rng = random.Random(seed)
    for _ in range(deliveries):
        roll = rng.random()
        if roll < 0.015:
            yield "ours", rng.randint(1, LINKED_PER_TRACKER)
        elif roll < 0.115:
            yield "ignored", rng.randint(10_000, 10_000_000)
        else:
            yield "foreign", rng.randint(10_000, 10_000_000)


def run_day(
    engine: Engine,
    url: str,
    trackers: list[Tracker],
    deliveries: int,
    *,
    with_retention: bool,
    purge_minutes: int,
    policy: RetentionPolicy,
    seed: int,
) -> Day:
    day = Day("retention" if with_retention else "without retention", deliveries)
    start = utcnow() - timedelta(days=1)
    slices = 24 * 60 // purge_minutes
    per_hour = 60 // purge_minutes
    arrivals = schedule(deliveries, seed)
    sent = 0
    checkpoint(engine)
    day.hours.append({"hour": 0, "deliveries": 0, **size_bytes(engine, url)})
    for s in range(slices):
        slice_start = start + timedelta(minutes=purge_minutes * s)
        due = deliveries * (s + 1) // slices - sent
        step = timedelta(minutes=purge_minutes) / max(due, 1)
        rows: list[dict[str, Any]] = []
        jobs: list[dict[str, Any]] = []
        for n in range(due):
            category, number = next(arrivals)
            tracker = trackers[(sent + n) % len(trackers)]
            row, job = rows_for(
                tracker,
                category,
                number,
                tracker.delivery(category, number),
                slice_start + step * n,
                with_retention=with_retention,
            )
            rows.append(row)
            if job is not None:
                jobs.append(job)
        sent += due
        started = time.perf_counter()
        for first in range(0, len(rows), 2000):
            with session_scope(engine) as session:
                chunk = rows[first : first + 2000]
                session.execute(insert(WebhookDelivery), chunk)
                ids = {r["id"] for r in chunk}
                session.execute(insert(Job), [j for j in jobs if j["delivery_id"] in ids])
        day.insert_seconds += time.perf_counter() - started
        if with_retention:
            started = time.perf_counter()
            purged = retention.purge(
                engine, policy, now=slice_start + timedelta(minutes=purge_minutes)
            )
            day.purge_seconds += time.perf_counter() - started
            day.purges += 1
            day.longest_purge_transaction_ms = max(
                day.longest_purge_transaction_ms, purged.longest_transaction_seconds * 1000
            )
            for name in day.removed:
                day.removed[name] += getattr(purged, name)
        if (s + 1) % per_hour == 0:
            vacuum(engine)
            stored, job_rows = counts(engine)
            day.hours.append(
                {
                    "hour": (s + 1) // per_hour,
                    "deliveries": sent,
                    "stored_deliveries": stored,
                    "stored_jobs": job_rows,
                    **size_bytes(engine, url),
                }
            )
    return day


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
    client: TestClient, engine: Engine, before_url: str | None, data_dir: Path, runs: int
) -> dict[str, float]:
    """The summary on the database as it was before the day and as it is after, in turn: as the
    day left its WAL, and once it is checkpointed (SQLite)."""
    if before_url is None:
        return {}
    timings: dict[str, float] = {}
    app = create_app(settings_for(before_url, data_dir))
    with TestClient(app, headers=dict(client.headers)) as before:
        timings["before"], timings["after_with_wal"] = side_by_side(before, client, runs)
        if engine.dialect.name == "sqlite":
            checkpoint(engine)
            timings["before_again"], timings["after"] = side_by_side(before, client, runs)
    app.state.engine.dispose()
    return timings


# -- the run ---------------------------------------------------------------------------------


def total(sizes: dict[str, Any]) -> int:
    return int(sizes.get("file", 0) + sizes.get("wal", 0) + sizes.get("tables", 0))


def mb(n: float) -> str:
    return f"{n / 1e6:,.1f}"


def prepared(url: str, data_dir: Path, postmortems: int) -> tuple[Any, TestClient, list[Tracker]]:
    settings = settings_for(url, data_dir).model_copy(
        update={"retention": RetentionPolicy()}, deep=True
    )
    app = create_app(settings)
    generate_postmortems(app.state.engine, postmortems)
    client = TestClient(app, headers={"Authorization": f"Bearer {admin_token(app.state.engine)}"})
    client.__enter__()
    trackers = connect(client)
    link_tickets(app.state.engine, trackers)
    return app, client, trackers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--deliveries", type=int, default=100_000)
    parser.add_argument(
        "--baseline-deliveries",
        type=int,
        default=None,
        help="deliveries of the day without retention (default: --deliveries); fewer are "
        "extrapolated linearly",
    )
    parser.add_argument("--purge-minutes", type=int, default=5, choices=(1, 2, 3, 4, 5, 10, 15))
    parser.add_argument("--postmortems", type=int, default=3000)
    parser.add_argument("--runs", type=int, default=20, help="dashboard summary timings")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--backlog",
        type=int,
        default=50_000,
        help="expired deliveries purged at once while webhooks are received, after the day",
    )
    parser.add_argument("--database-url", default=None, help="postgresql://user@127.0.0.1/db")
    add_json_option(parser)
    args = parser.parse_args()
    baseline_deliveries = min(args.baseline_deliveries or args.deliveries, args.deliveries)
    kind, admin = "sqlite", PG_ADMIN
    if args.database_url:
        parts = urlsplit(args.database_url)
        if parts.hostname not in {"127.0.0.1", "localhost", "::1"}:
            sys.exit(f"--database-url must point at a loopback address, not {parts.hostname}")
        kind, admin = (
            "postgresql",
            args.database_url.replace("postgresql+psycopg://", "postgresql://"),
        )
    policy = RetentionPolicy()
    results: dict[str, Any] = {"backend": kind, "policy": policy.model_dump()}

    with database(kind, admin) as (url, data_dir):
        app, client, trackers = prepared(url, data_dir, args.postmortems)
        results["shape_checked_deliveries"] = check_shapes(app, client, trackers)
        summary_ms(client, 3)  # warm caches
        checkpoint(app.state.engine)
        before = summary_ms(client, args.runs)
        before_url = snapshot(app.state.engine, url, admin)
        try:
            kept = run_day(
                app.state.engine,
                url,
                trackers,
                args.deliveries,
                with_retention=True,
                purge_minutes=args.purge_minutes,
                policy=policy,
                seed=args.seed,
            )
            summary_ms(client, 3)
            after_in_turn = summary_ms(client, args.runs)
            in_turn = dashboard_before_after(
                client, app.state.engine, before_url, data_dir, args.runs
            )
        finally:
            drop_snapshot(before_url, admin)
        probe = ingest_during_purge(app.state.engine, client, trackers, args.backlog)
        client.__exit__(None, None, None)
        app.state.engine.dispose()

    with database(kind, admin) as (url, data_dir):
        app, client, trackers = prepared(url, data_dir, args.postmortems)
        plain = run_day(
            app.state.engine,
            url,
            trackers,
            baseline_deliveries,
            with_retention=False,
            purge_minutes=args.purge_minutes,
            policy=policy,
            seed=args.seed,
        )
        summary_ms(client, 3)
        checkpoint(app.state.engine)
        after_without_retention = summary_ms(client, args.runs)
        client.__exit__(None, None, None)
        app.state.engine.dispose()

    scale = args.deliveries / baseline_deliveries
    extrapolated = scale != 1
    start = total(plain.hours[0])

    def baseline_at(hour: dict[str, Any]) -> float:
        return start + (total(hour) - start) * scale

    print(
        f"{kind}: a day of {args.deliveries:,} deliveries (1.5 % about our tickets, 10 % ignored "
        f"event types, the rest about tickets not ours), purge every {args.purge_minutes} min"
    )
    print(
        f"shape check: {results['shape_checked_deliveries']} deliveries through the real path "
        "match the bulk rows"
    )
    head = "without retention" + (
        f" (x{scale:g} from {baseline_deliveries:,})" if extrapolated else ""
    )
    print(
        f"{'hour':>4}  {'stored':>9}  {'jobs':>9}  {'retention MB':>12}  {head + ' MB':>30}  ratio"
    )
    for mine, theirs in zip(kept.hours, plain.hours, strict=True):
        other = baseline_at(theirs)
        print(
            f"{mine['hour']:>4}  {mine.get('stored_deliveries', 0):>9,}  "
            f"{mine.get('stored_jobs', 0):>9,}  {mb(total(mine)):>12}  {mb(other):>30}  "
            f"{other / max(total(mine), 1):5.1f}x"
        )
    end_kept, end_plain = total(kept.hours[-1]), baseline_at(plain.hours[-1])
    print(
        f"end of day: {mb(end_kept)} MB with retention, {mb(end_plain)} MB without "
        f"({'extrapolated' if extrapolated else 'measured'}): {end_plain / end_kept:.1f}x smaller"
    )
    print(
        f"inserting took {kept.insert_seconds:.1f} s, purging {kept.purge_seconds:.1f} s "
        f"({kept.purge_seconds / kept.insert_seconds:.0%} of it) in {kept.purges} purges; "
        f"longest purge transaction {kept.longest_purge_transaction_ms:.0f} ms; removed {kept.removed}"
    )
    print(
        f"dashboard summary, median of {args.runs}: {before:.1f} ms before the day, "
        f"{after_in_turn:.1f} ms after it (ratio {after_in_turn / before:.2f}, minutes apart); "
        f"after a day without retention ({baseline_deliveries:,} deliveries) "
        f"{after_without_retention:.1f} ms"
    )
    if in_turn:
        print(
            "  a copy from before the day and the database after it, asked in turn: "
            f"{in_turn['before']:.1f} ms and {in_turn['after_with_wal']:.1f} ms, ratio "
            f"{in_turn['after_with_wal'] / in_turn['before']:.2f}"
            + (
                f"; with the day's {mb(kept.hours[-1]['wal'])} MB WAL checkpointed: "
                f"{in_turn['before_again']:.1f} ms and {in_turn['after']:.1f} ms, ratio "
                f"{in_turn['after'] / in_turn['before_again']:.2f}"
                if "after" in in_turn
                else ""
            )
        )
    alone, during = probe["alone"], probe["during"]
    print(
        f"webhook receipt while a backlog of {probe['backlog']:,} expired deliveries is purged "
        f"({probe['deleted']:,} deleted in {probe['purge_seconds']:.1f} s, longest transaction "
        f"{probe['longest_transaction_ms']:.0f} ms): p50 {during['p50_ms']:.1f} ms, p99 "
        f"{during['p99_ms']:.1f} ms over {during['n']:,} deliveries; alone p50 "
        f"{alone['p50_ms']:.1f} ms, p99 {alone['p99_ms']:.1f} ms: ratio p50 "
        f"{during['p50_ms'] / alone['p50_ms']:.2f}, p99 {during['p99_ms'] / alone['p99_ms']:.2f}"
    )
    results.update(
        ingest_during_backlog_purge=probe,
        deliveries=args.deliveries,
        baseline_deliveries=baseline_deliveries,
        baseline_extrapolated=extrapolated,
        retention=kept.__dict__,
        without_retention=plain.__dict__,
        end_of_day_bytes={"retention": end_kept, "without_retention": end_plain},
        end_of_day_ratio=end_plain / end_kept,
        dashboard_summary_ms={
            "before": before,
            "after": after_in_turn,
            "ratio": after_in_turn / before,
            "in_turn_with_a_copy_from_before": in_turn,
            "after_day_without_retention": after_without_retention,
        },
    )
    write_json(args.json, "bench.storage_day", results)


if __name__ == "__main__":
    main()
