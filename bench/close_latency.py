"""Close to visible: from a fake Linear's signed "closed" webhook (POSTed over HTTP to the
service served by uvicorn on loopback) to the item reading `closed` through the API; p50 and
p99, one close at a time.

    .venv/bin/python -m bench.close_latency [--items 200] [--baseline-items 40]

Four set-ups in one run: the embedded worker on SQLite (the default single-process set-up) and
two standalone worker processes on a throwaway PostgreSQL database, each with the worker woken
when the delivery's job is queued, and with polling only (FOLLOWTHROUGH_SYNC__WAKE_ON_ENQUEUE
=false) as the baseline; the poll interval is the default 1 s throughout.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import time
import uuid
from dataclasses import dataclass
from typing import Any

import httpx

from app.db import make_engine
from bench.report import add_json_option, peak_rss_mb, write_json
from bench.service_setup import (
    SECRET,
    admin_token,
    connect_linear,
    count,
    database,
    publish,
    service_process,
    settings_for,
    wait_for,
)
from tests.e2e.sync_support import start_worker_process, stop
from tests.e2e.webhook_support import sign
from tests.fake_trackers.linear import FakeLinear, issue_update_payload

SYNCED = "SELECT count(*) FROM action_item WHERE sync_state = 'synced'"


def closed_payload(fake: FakeLinear, issue_id: str) -> dict[str, Any]:
    """Close the issue in the fake and return Linear's Issue update webhook saying so."""
    with fake.lock:
        before = copy.deepcopy(fake.issues[issue_id])
        fake.set_state(issue_id, "Done", "completed")
        after = copy.deepcopy(fake.issues[issue_id])
    payload = issue_update_payload(before, after, {"stateId": before["state"]["id"]})
    payload["webhookTimestamp"] = int(time.time() * 1000)
    return payload  # type: ignore[no-any-return]


@dataclass
class Result:
    name: str
    seconds: list[float]
    # The API process's highest resident set size during the run.
    peak_rss_mb: float | None = None

    def percentile(self, p: float) -> float:
        ordered = sorted(self.seconds)
        return ordered[min(len(ordered) - 1, round(p * (len(ordered) - 1)))]


def closes(
    name: str, url: str, token: str, fake: FakeLinear, integration: str, items: list[str]
) -> Result:
    seconds: list[float] = []
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}) as http:
        for item_id in items:
            key = http.get(f"/v1/action-items/{item_id}").json()["ticket_key"]
            with fake.lock:
                issue_id = fake.by_key(key)["id"]
            body = httpx.Request("POST", "/", json=closed_payload(fake, issue_id)).content
            started = time.perf_counter()
            answer = http.post(
                f"/v1/webhooks/{integration}",
                content=body,
                headers={
                    "Linear-Delivery": str(uuid.uuid4()),
                    "Linear-Event": "Issue",
                    "Linear-Signature": sign(SECRET, body),
                    "Content-Type": "application/json",
                },
            )
            assert answer.status_code == 202, answer.text
            deadline = started + 30
            while http.get(f"/v1/action-items/{item_id}").json()["status"] != "closed":
                if time.perf_counter() > deadline:
                    sys.exit(f"{name}: item {item_id} not closed after 30 s")
                time.sleep(0.002)
            seconds.append(time.perf_counter() - started)
    return Result(name, seconds)


def run(kind: str, wake: bool, items: int, processes: int) -> Result:
    label = "woken" if wake else "poll only"
    name = (
        f"embedded worker, SQLite, {label}"
        if kind == "sqlite"
        else f"{processes} standalone workers, PostgreSQL, {label}"
    )
    fake = FakeLinear().start()
    try:
        with database(kind) as (db_url, data_dir):
            settings = settings_for(
                db_url, data_dir, run_in_api_process=kind == "sqlite", wake_on_enqueue=wake
            )
            engine = make_engine(db_url)
            token = admin_token(engine)
            workers = []
            if kind == "postgresql":
                env = {
                    "FOLLOWTHROUGH_SYNC__POLL_SECONDS": "1",
                    "FOLLOWTHROUGH_SYNC__RECONCILE_INTERVAL_SECONDS": "0",
                    "FOLLOWTHROUGH_SYNC__WAKE_ON_ENQUEUE": str(wake).lower(),
                }
                workers = [start_worker_process(settings, **env) for _ in range(processes)]
            try:
                with service_process(settings) as (url, pid):
                    with httpx.Client(
                        base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60
                    ) as setup:
                        integration = connect_linear(setup, fake.base_url, concurrency=8)
                        ids = publish(setup, items)
                    if not wait_for(engine, SYNCED, items, timeout=300):
                        sys.exit(f"{name}: tickets not created ({count(engine, SYNCED)})")
                    result = closes(name, url, token, fake, integration, ids)
                    result.peak_rss_mb = peak_rss_mb(pid)
                    return result
            finally:
                for process in workers:
                    stop(process)
                engine.dispose()
    finally:
        fake.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=200)
    parser.add_argument("--baseline-items", type=int, default=40, help="closes when polling")
    parser.add_argument("--processes", type=int, default=2, help="standalone worker processes")
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--skip-postgresql", action="store_true")
    add_json_option(parser)
    args = parser.parse_args()
    kinds = [k for k in ("sqlite", "postgresql") if not getattr(args, f"skip_{k}")]
    results: list[tuple[Result, Result]] = []
    for kind in kinds:
        woken = run(kind, True, args.items, args.processes)
        polled = run(kind, False, args.baseline_items, args.processes)
        results.append((woken, polled))
    print("\nclose to visible, one close at a time, poll interval 1 s")
    print(f"{'':52} {'closes':>6} {'p50 ms':>8} {'p99 ms':>8} {'mean ms':>8}")
    for pair in results:
        for result in pair:
            print(
                f"{result.name:52} {len(result.seconds):6d} {result.percentile(0.5) * 1000:8.1f} "
                f"{result.percentile(0.99) * 1000:8.1f} {statistics.mean(result.seconds) * 1000:8.1f}"
            )
        woken, polled = pair
        print(
            f"{'  p50 ratio, poll only / woken':52} "
            f"{polled.percentile(0.5) / woken.percentile(0.5):15.1f}x"
        )
    for pair in results:
        for result in pair:
            print(f"peak RSS of the API process, {result.name}: {result.peak_rss_mb or 0:.0f} MB")
    write_json(
        args.json,
        "bench.close_latency",
        {
            "runs": [
                {
                    "name": result.name,
                    "closes": len(result.seconds),
                    "p50_ms": round(result.percentile(0.5) * 1000, 1),
                    "p99_ms": round(result.percentile(0.99) * 1000, 1),
                    "mean_ms": round(statistics.mean(result.seconds) * 1000, 1),
                    "api_peak_rss_mb": result.peak_rss_mb,
                }
                for pair in results
                for result in pair
            ],
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
