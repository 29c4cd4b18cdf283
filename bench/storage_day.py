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
import random
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi.testclient import TestClient
from sqlalchemy import insert, text
from sqlalchemy.engine import Engine, make_url

from app import retention
from app.db import session_scope, utcnow
from app.main import create_app
from app.settings import RetentionPolicy
from app.sync.models import Job
from app.webhooks.models import WebhookDelivery
from bench.dashboard_summary import generate as generate_postmortems
from bench.report import add_json_option, write_json
from bench.service_setup import PG_ADMIN, admin_token, database, settings_for
from bench.storage_probes import (
    checkpoint,
    dashboard_before_after,
    drop_snapshot,
    ingest_during_purge,
    snapshot,
    summary_ms,
)
from bench.storage_rows import (
    LINKED_PER_TRACKER,
    Tracker,
    check_shapes,
    connect,
    link_tickets,
    rows_for,
)

# -- the day ------------------------------------------------------------------------------------


@dataclass
class Day:
    """What one simulated day did to one database."""

    name: str
    deliveries: int
    hours: list[dict[str, Any]] = field(default_factory=list)
    insert_seconds: float = 0.0
    purge_seconds: float = 0.0
    # Of purge_seconds, in transactions (the rest is pauses that leave the write lock to others).
    purge_busy_seconds: float = 0.0
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
            day.purge_busy_seconds += purged.busy_seconds
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
                client, app.state.engine, url, before_url, data_dir, args.runs
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
    per_delivery_ms = kept.purge_busy_seconds / args.deliveries * 1000
    print(
        f"bulk inserts took {kept.insert_seconds:.1f} s; {kept.purges} purges "
        f"{kept.purge_seconds:.1f} s, of which {kept.purge_busy_seconds:.1f} s in transactions "
        f"({per_delivery_ms:.3f} ms a delivery) and the rest pauses; longest purge transaction "
        f"{kept.longest_purge_transaction_ms:.0f} ms; removed {kept.removed}"
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
