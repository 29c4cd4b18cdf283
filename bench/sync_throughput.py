"""Sync throughput: items ticketed per second against a fake Linear that answers each request
after a fixed latency (100 ms), compared in the same run with a naive sequential script that
creates the same tickets one by one through the same connector (httpx, the same GraphQL).

    .venv/bin/python -m bench.sync_throughput [--items 1000] [--concurrency 10] [--latency 0.1]
    .venv/bin/python -m bench.sync_throughput --items 200          # a quick run

Prints items/s for the naive script; the embedded worker (the default single-process set-up:
`followthrough serve` in a process of its own with the worker inside it, on SQLite); standalone `followthrough worker` processes on a throwaway PostgreSQL database;
and the bound the integration's `max_concurrency` allows (concurrency / latency, and
concurrency x the naive rate, which also counts each request's own cost), with ratios. The
fake runs in a process of its own and checks every request against Linear's schema.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from fastapi.testclient import TestClient

from app.db import make_engine
from app.main import create_app
from app.settings import Settings
from bench.report import add_json_option, write_json
from bench.service_setup import (
    admin_token,
    connect_linear,
    database,
    pause,
    publish,
    service_process,
    settings_for,
    wait_for,
)
from bench.tracker_process import LinearProcess, Stats
from connectors.base import ConnectorConfig, Target, TicketSpec
from connectors.egress.policy import EgressPolicy
from connectors.linear.connector import LinearConnector
from tests.e2e.sync_support import start_worker_process, stop
from tests.fake_trackers.linear import API_KEY, TEAM_ID

SYNCED = "SELECT count(*) FROM action_item WHERE sync_state = 'synced'"


@dataclass
class Result:
    name: str
    items: int
    seconds: float
    stats: Stats | None = None
    # CPU seconds the service's processes spent while the items were synced.
    cpu: float | None = None

    @property
    def rate(self) -> float:
        return self.items / self.seconds


def naive(base_url: str, items: int) -> Result:
    """One create after another, as a script with the same client would send them."""
    connector = LinearConnector(
        ConnectorConfig(
            base_url=base_url,
            credentials={"api_key": API_KEY},
            timeout=10,
            egress=EgressPolicy.allowing(["127.0.0.1"]),
        )
    )
    target = Target(project=TEAM_ID)
    started = time.perf_counter()
    for n in range(items):
        connector.create_ticket(
            target,
            TicketSpec(
                title=f"Gate deploys on canary error rate, part {n}",
                description="Config pushes skipped the canary.",
                definition_of_done=["Deploys halt above 1% 5xx"],
                verification="Game day: push a failing build and watch the gate stop it",
                postmortem_url="http://127.0.0.1:8000/v1/postmortems/bench",
                marker=str(uuid.uuid4()),
            ),
        )
    return Result("naive sequential script", items, time.perf_counter() - started)


def prepared(settings: Settings, base_url: str, items: int, concurrency: int) -> None:
    """The integration, and `items` published items whose jobs wait (integration paused)."""
    app = create_app(settings)
    try:
        with TestClient(
            app, headers={"Authorization": f"Bearer {admin_token(app.state.engine)}"}
        ) as client:
            connect_linear(client, base_url, concurrency)
            pause(app.state.engine, True)
            publish(client, items)
    finally:
        app.state.engine.dispose()


def cpu_seconds(pids: list[int]) -> float:
    """User and system CPU time of this process (pids empty) or of the given processes."""
    if not pids:
        times = os.times()
        return times.user + times.system
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime in clock ticks
    return total / os.sysconf("SC_CLK_TCK")


def timed(
    name: str, settings: Settings, fake: LinearProcess, items: int, pids: list[int]
) -> Result:
    """Release the paused jobs and time until every item is synced."""
    engine = make_engine(settings.resolved_database_url())
    try:
        pause(engine, False)
        cpu = cpu_seconds(pids)
        started = time.perf_counter()
        done = wait_for(engine, SYNCED, items, timeout=max(120.0, items / 2))
        seconds = time.perf_counter() - started
        cpu = cpu_seconds(pids) - cpu
        if not done:
            sys.exit(f"{name}: not every item was synced in time")
    finally:
        engine.dispose()
    return Result(name, items, seconds, fake.stats(), cpu)


def embedded(fake: LinearProcess, items: int, concurrency: int, runners: int) -> Result:
    """`followthrough serve` with the worker inside it: the default single-process set-up."""
    with database("sqlite") as (url, data_dir):
        settings = settings_for(url, data_dir, runners=runners)
        prepared(settings, fake.base_url, items, concurrency)
        fake.reset()
        serving = settings_for(url, data_dir, runners=runners, run_in_api_process=True)
        with service_process(serving) as (_, pid):
            name = f"embedded worker, SQLite ({runners} runners)"
            return timed(name, serving, fake, items, [pid])


def standalone(
    fake: LinearProcess, items: int, concurrency: int, processes: int, runners: int
) -> Result:
    with database("postgresql") as (url, data_dir):
        settings = settings_for(url, data_dir, runners=runners)
        prepared(settings, fake.base_url, items, concurrency)
        fake.reset()
        workers = [
            start_worker_process(
                settings,
                FOLLOWTHROUGH_SYNC__RUNNERS=str(runners),
                FOLLOWTHROUGH_SYNC__POLL_SECONDS="1",
                FOLLOWTHROUGH_SYNC__RECONCILE_INTERVAL_SECONDS="0",
            )
            for _ in range(processes)
        ]
        try:
            time.sleep(6)  # imports and connections, before the clock starts
            name = f"{processes} standalone workers x {runners} runners, PostgreSQL"
            return timed(name, settings, fake, items, [w.pid for w in workers])
        finally:
            for process in workers:
                stop(process)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--naive-items", type=int, default=60, help="creates the naive run makes")
    parser.add_argument("--latency", type=float, default=0.1, help="seconds per request")
    parser.add_argument("--concurrency", type=int, default=10, help="integration max_concurrency")
    parser.add_argument("--processes", type=int, default=2, help="standalone worker processes")
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--skip-postgresql", action="store_true")
    add_json_option(parser)
    args = parser.parse_args()
    runners = max(args.concurrency, 8)
    per_process = max(8, math.ceil(args.concurrency / args.processes))

    with LinearProcess(args.latency) as fake:
        results = [naive(fake.base_url, args.naive_items)]
        if not args.skip_sqlite:
            results.append(embedded(fake, args.items, args.concurrency, runners))
        if not args.skip_postgresql:
            results.append(
                standalone(fake, args.items, args.concurrency, args.processes, per_process)
            )
        violations = fake.violations()

    base = results[0].rate
    ideal = args.concurrency / args.latency
    measured = args.concurrency * base
    print(
        f"\n{args.items} items, latency {args.latency * 1000:.0f} ms per request, "
        f"max_concurrency {args.concurrency}"
    )
    print(
        f"{'':52} {'items/s':>9} {'x naive':>8} {'/ bound':>8} {'/ c*naive':>9} {'peak':>5}"
        f" {'cpu ms/item':>11}"
    )
    for result in results:
        peak = str(result.stats.creates_at_once) if result.stats else "1"
        cpu = f"{result.cpu / result.items * 1000:11.1f}" if result.cpu is not None else ""
        print(
            f"{result.name:52} {result.rate:9.1f} {result.rate / base:8.2f} "
            f"{result.rate / ideal:8.0%} {result.rate / measured:9.0%} {peak:>5} {cpu}"
        )
    print(f"{'bound: concurrency / latency':52} {ideal:9.1f} {ideal / base:8.2f}")
    print(f"{'bound: concurrency x naive rate':52} {measured:9.1f} {measured / base:8.2f}")
    print(
        "(peak: the most create requests the fake served at once; cpu: the service's own\n"
        " processes, the fake tracker and PostgreSQL not counted)"
    )
    print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    write_json(
        args.json,
        "bench.sync_throughput",
        {
            "items": args.items,
            "latency_seconds": args.latency,
            "max_concurrency": args.concurrency,
            "bound_items_per_second": ideal,
            "runs": [
                {
                    "name": r.name,
                    "items": r.items,
                    "items_per_second": round(r.rate, 2),
                    "x_naive": round(r.rate / base, 2),
                    "share_of_bound": round(r.rate / ideal, 3),
                    "cpu_ms_per_item": round(r.cpu / r.items * 1000, 2) if r.cpu else None,
                    "creates_at_once": r.stats.creates_at_once if r.stats else 1,
                }
                for r in results
            ],
        },
    )
    if violations:
        print(f"{len(violations)} requests broke Linear's contract: {violations[:3]}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
