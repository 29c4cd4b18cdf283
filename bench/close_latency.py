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
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn

from app.db import make_engine
from app.main import create_app
from app.settings import Settings
from bench.service_setup import (
    SECRET,
    admin_token,
    connect_linear,
    count,
    database,
    publish,
    settings_for,
    wait_for,
)
from tests.e2e.sync_support import start_worker_process, stop
from tests.e2e.webhook_support import sign
from tests.fake_trackers.linear import FakeLinear, issue_update_payload

SYNCED = "SELECT count(*) FROM action_item WHERE sync_state = 'synced'"


@contextmanager
def served(settings: Settings) -> Iterator[str]:
    """The app under uvicorn on a loopback port, in a thread (its lifespan starts the embedded
    worker when settings.sync.run_in_api_process)."""
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=0, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the server did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)


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
                with served(settings) as url:
                    with httpx.Client(
                        base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60
                    ) as setup:
                        integration = connect_linear(setup, fake.base_url, concurrency=8)
                        ids = publish(setup, items)
                    if not wait_for(engine, SYNCED, items, timeout=300):
                        sys.exit(f"{name}: tickets not created ({count(engine, SYNCED)})")
                    return closes(name, url, token, fake, integration, ids)
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
