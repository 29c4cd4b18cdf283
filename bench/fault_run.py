"""A fault run for the one-ticket, one-state promise, on loopback only, with the service deployed
as it is in production: API processes (uvicorn) and standalone worker processes on one
PostgreSQL.

Action items are published through the API while the fake trackers' create calls meet faults at
seeded rates (bench/create_faults.py: 500s, timeouts, answers lost after the ticket was made,
tickets made after the client gave up, bursts of 429 with Retry-After), workers are SIGKILLed at
random moments and replaced, and PostgreSQL is restarted once. Publishing comes in two waves:
while the second wave is published and synced, people change the first wave's tickets and the
webhook deliveries that say so go to the API processes, each delivery twice, pairs of changes in
reversed order for half of them (bench/ticket_changes.py); then the second wave's tickets change
too. Finally every item is compared with the fakes (bench/fault_check.py): one ticket per item by
marker, none lost, the item's status what its ticket says, and every delivery recorded.

    .venv/bin/python -m bench.fault_run                       # make chaos: 1,000 items, 20 kills
    .venv/bin/python -m bench.fault_run --quick               # 30 items, 2 kills
    .venv/bin/python -m bench.fault_run --items 100 --kills 3 --api-processes 2 --workers 2
    .venv/bin/python -m bench.fault_run --database-url postgresql://postgres@127.0.0.1:5432/postgres

By default the run starts a PostgreSQL cluster of its own (bench/throwaway_postgres.py) so that it
can restart it; with --database-url a throwaway database is made on that server instead, dropped
at the end, and not restarted. Exits 1 unless there are no duplicates, no lost items, no
deadlock PostgreSQL had to break, and everything converged (every item synced and agreeing with
its ticket, every delivery recorded, no job left waiting or dead). A second ticket made after a
create landed later than the client timeout plus the margin (the fake stalled past the window
the service waits out) is counted apart, as late-dups, and does not fail the run; each problem
is printed with its create calls, deliveries and item history.
"""

from __future__ import annotations

import argparse
import collections
import random
import shutil
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import psycopg
from sqlalchemy import bindparam, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from app import migrate
from app.auth import service as auth_service
from app.db import make_engine, session_scope
from app.enums import Scope
from bench.create_faults import MARGIN, REPO, TIMEOUT, FaultPlan, Rates, instrument
from bench.fault_check import check, report
from bench.fault_state import TEAMS, TRACKERS, Run
from bench.service_processes import ApiProcesses, Monkey, Workers, service_env
from bench.throwaway_postgres import ThrowawayPostgres
from bench.ticket_changes import deliver, plan_deliveries
from tests.e2e.webhook_support import SECRET
from tests.factories import action_item_body, postmortem_body
from tests.fake_trackers.contracts import CONTRACTS
from tests.fake_trackers.github import TOKEN, FakeGitHub
from tests.fake_trackers.jira import API_TOKEN, FakeJira
from tests.fake_trackers.linear import API_KEY, TEAM_ID, FakeLinear

LOOPBACK = {"127.0.0.1", "localhost", "::1"}
OPTIONS = {"seconds_between_writes": 0, "seconds_between_requests": 0, "timeout_seconds": TIMEOUT}
NO_FAULTS = Rates(error_500=0, timeout=0, answer_lost=0, lands_late=0, burst_429=0)
# Committed items per postmortem (the API processes allow this many).
PER_POSTMORTEM = 10
WORKER_SETTINGS = {
    "FOLLOWTHROUGH_SYNC__POLL_SECONDS": "0.1",
    "FOLLOWTHROUGH_SYNC__BACKOFF_BASE_SECONDS": "0.05",
    "FOLLOWTHROUGH_SYNC__BACKOFF_CAP_SECONDS": "0.5",
    "FOLLOWTHROUGH_SYNC__RECONCILE_INTERVAL_SECONDS": "0",
    "FOLLOWTHROUGH_SYNC__RESEND_WINDOW_SECONDS": "0",
    "FOLLOWTHROUGH_SYNC__RESEND_MARGIN_SECONDS": str(MARGIN),
    # Longer than one create call can take (timeout 1 s, a look-up first), so a live worker's
    # job is not taken over; a killed worker's job is, after this.
    "FOLLOWTHROUGH_SYNC__LEASE_SECONDS": "4",
    # The faults alone must not park a job: parking is not what this run measures.
    "FOLLOWTHROUGH_SYNC__MAX_ATTEMPTS": "30",
    # GitHub's declared 80 creates a minute would make a 1,000-item run last ten minutes; the
    # budget has tests of its own.
    "FOLLOWTHROUGH_SYNC__WRITE_BUDGET_PER_MINUTE": "1000000",
    "FOLLOWTHROUGH_SYNC__WRITE_BUDGET_PER_HOUR": "1000000",
}


@dataclass(frozen=True)
class Options:
    items: int = 1000
    kills: int = 20
    api_processes: int = 2
    workers: int = 2
    seed: int = 1
    # Mean seconds between two blows (a kill, or the restart).
    kill_every: float = 2.0
    restart_database: bool = True
    database_url: str | None = None
    time_limit: float = 900.0
    rates: Rates = field(default_factory=Rates)


@dataclass
class Outcome:
    """What a run found; `ok` is the verdict the exit code reports."""

    items: int
    duplicates: int
    late_duplicates: int
    lost: int
    disagreeing: int
    converged: bool
    kills: int
    database_restarts: int
    deadlocks: int
    seconds_to_converge: float
    # Seconds the workers needed after each wave's publishing ended to sync it, summed.
    sync_lag: float
    counts: dict[str, collections.Counter[str]]

    @property
    def ok(self) -> bool:
        return self.converged and not (
            self.duplicates or self.lost or self.disagreeing or self.deadlocks
        )


# -- set-up -------------------------------------------------------------------------------------


def admin_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.hostname not in LOOPBACK:
        sys.exit(f"--database-url must point at a loopback address, not {parts.hostname}")
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


@contextmanager
def database(options: Options) -> Iterator[tuple[str, Callable[[], None] | None]]:
    """(url of a fresh database, how to restart its server or None)."""
    if options.database_url is None:
        with ThrowawayPostgres() as pg:
            yield pg.url(), (pg.restart if options.restart_database else None)
        return
    admin = admin_url(options.database_url)
    name = f"followthrough_fault_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = admin.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    try:
        yield f"{base}/{name}", None
    finally:
        with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def call(
    run: Run, method: str, path: str, done: Callable[[], bool] | None = None, **kwargs: Any
) -> httpx.Response | None:
    """One API call through the next API process, sent again after a 5xx or no answer (the
    database restart cuts requests off). A call that must not happen twice passes `done`, which
    looks in the database whether an earlier try took effect after all; then None is returned
    instead of trying again."""
    for attempt in range(20):
        try:
            response = run.api.client().request(method, path, **kwargs)
            if response.status_code < 500:
                return response
        except httpx.TransportError:
            pass
        time.sleep(min(2.0, 0.1 * 2**attempt))
        if done is not None and done():
            return None
    raise RuntimeError(f"{method} {path}: no answer below 500 after 20 tries")


def answered(response: httpx.Response | None, status: int) -> httpx.Response:
    assert response is not None and response.status_code == status, (
        response.text if response is not None else "no answer"
    )
    return response


def read(engine: Engine, sql: str, **params: Any) -> list[Any]:
    """The first column of every row; looked at again while the database restarts. A list
    parameter named `ids` is expanded for `IN :ids`."""
    query = text(sql)
    if "ids" in params:
        query = query.bindparams(bindparam("ids", expanding=True))
    for attempt in range(40):
        try:
            with engine.connect() as conn:
                return list(conn.execute(query, params).scalars())
        except OperationalError:
            if attempt == 39:
                raise
            time.sleep(0.25)
    return []


def first_row(run: Run, sql: str, **params: Any) -> Any:
    return next(iter(read(run.engine, sql, **params)), None)


def connect(run: Run) -> None:
    for team in TEAMS.values():
        answered(call(run, "POST", "/v1/teams", json={"slug": team, "name": team.title()}), 201)
    person = call(
        run,
        "POST",
        "/v1/people",
        json={
            "handle": "alice",
            "display_name": "Alice Moreau",
            "tracker_accounts": {
                "github": "alice-gh",
                "jira": "557058:alice",
                "linear": "user-alice",
            },
        },
    )
    answered(person, 201)
    specs = {
        "github": ({"token": TOKEN}, REPO),
        "jira": ({"email": "bot@example.com", "api_token": API_TOKEN}, "OPS"),
        "linear": ({"api_key": API_KEY}, TEAM_ID),
    }
    for kind, (credentials, project) in specs.items():
        response = call(
            run,
            "POST",
            "/v1/integrations",
            json={
                "kind": kind,
                "name": f"{kind}-fake",
                "base_url": run.fakes[kind].base_url,
                "credentials": credentials,
                "default_project": project,
                "labels": ["postmortem"],
                "options": OPTIONS,
                "routes": [{"team": TEAMS[kind]}],
                "webhook_secret": SECRET,
                "max_concurrency": 4,
            },
        )
        run.integrations[kind] = answered(response, 201).json()["id"]


# A create or publish cut off by the database restart may have taken effect before it was.
FIND_POSTMORTEM = "SELECT CAST(id AS TEXT) FROM postmortem WHERE incident_ref = :ref"
POSTMORTEM_STATUS = "SELECT status FROM postmortem WHERE id = :id"


def publish(run: Run, count: int, first: int) -> dict[str, str]:
    """`count` committed items, up to PER_POSTMORTEM to a postmortem, trackers in turn by
    postmortem; returns item id -> tracker."""
    tracker_of: dict[str, str] = {}
    made = 0
    while made < count:
        number = first + made
        kind = TRACKERS[(number // PER_POSTMORTEM) % 3]
        size = min(PER_POSTMORTEM - number % PER_POSTMORTEM, count - made)
        items = [
            action_item_body(title=f"Gate deploys on canary error rate, part {number + n}")
            for n in range(size)
        ]
        body = postmortem_body(team=TEAMS[kind], action_items=items)
        ref = body["incident_ref"]

        def made_by_ref(ref: str = ref) -> bool:
            return first_row(run, FIND_POSTMORTEM, ref=ref) is not None

        created = call(run, "POST", "/v1/postmortems", made_by_ref, json=body)
        pm = str(
            answered(created, 201).json()["id"]
            if created is not None
            else first_row(run, FIND_POSTMORTEM, ref=ref)
        )

        def is_published(pm: str = pm) -> bool:
            return first_row(run, POSTMORTEM_STATUS, id=uuid.UUID(pm)) == "published"

        published = call(run, "POST", f"/v1/postmortems/{pm}/publish", is_published)
        if published is not None:
            answered(published, 200)
        listed = call(
            run, "GET", "/v1/action-items", params={"postmortem": pm, "limit": PER_POSTMORTEM}
        )
        tracker_of.update({i["id"]: kind for i in answered(listed, 200).json()["items"]})
        made += size
    return tracker_of


def all_items(run: Run, tracker_of: dict[str, str]) -> list[dict[str, Any]]:
    """The items named in `tracker_of`, as the API shows them, each with its tracker."""
    found: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 200, **({"cursor": cursor} if cursor else {})}
        page = answered(call(run, "GET", "/v1/action-items", params=params), 200).json()
        found += [
            {**i, "tracker": tracker_of[i["id"]]} for i in page["items"] if i["id"] in tracker_of
        ]
        cursor = page.get("next_cursor")
        if not cursor:
            return found


def scalar(engine: Engine, sql: str) -> int:
    return int(read(engine, sql)[0] or 0)


FOUND_BY_MARKER = "SELECT count(*) FROM action_item_event WHERE note LIKE 'found by marker%'"
DEADLOCKS = "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()"
BUSY_JOBS = "SELECT count(*) FROM job WHERE status IN ('pending', 'leased')"
DEAD_JOBS = "SELECT count(*) FROM job WHERE status = 'dead'"
SYNCED = "SELECT CAST(id AS TEXT) FROM action_item WHERE sync_state = 'synced' AND id IN :ids"


def synced_ids(run: Run, ids: dict[str, str]) -> set[str]:
    if not ids:
        return set()
    return {str(i) for i in read(run.engine, SYNCED, ids=[uuid.UUID(i) for i in ids])}


def synced(run: Run, ids: dict[str, str]) -> int:
    return len(synced_ids(run, ids))


def wait_synced(run: Run, ids: dict[str, str], deadline: float) -> bool:
    """Until every item in `ids` is synced; every 10 s, how far each tracker has got."""
    report_at = time.monotonic() + 10
    while time.monotonic() < deadline:
        done = synced_ids(run, ids)
        if len(done) >= len(ids):
            return True
        if time.monotonic() >= report_at:
            report_at += 10
            left = collections.Counter(kind for i, kind in ids.items() if i not in done)
            print(f"  still syncing: {dict(left)}", flush=True)
        time.sleep(0.2)
    return False


def send_all(run: Run, deliveries: list[Any], senders: int) -> None:
    """The deliveries from `senders` threads at once; one ticket's deliveries all go from one
    thread, in their order."""
    lanes: list[list[Any]] = [[] for _ in range(senders)]
    tickets: dict[str, int] = {}
    for delivery in deliveries:
        lane = tickets.setdefault(delivery.key, len(tickets) % senders)
        lanes[lane].append(delivery)

    def send(lane: list[Any]) -> None:
        for delivery in lane:
            deliver(run, delivery)

    threads = [threading.Thread(target=send, args=(lane,), daemon=True) for lane in lanes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


# -- the run ------------------------------------------------------------------------------------


def fault_run(options: Options) -> Outcome:
    """One whole run; prints as it goes and returns what it found."""
    if not CONTRACTS.is_dir():
        raise RuntimeError(f"vendor contracts not found at {CONTRACTS}; the fakes need them")
    started = time.monotonic()
    deadline = started + options.time_limit
    rng = random.Random(options.seed)
    data_dir = Path(tempfile.mkdtemp(prefix="fault-run-"))
    fakes: dict[str, Any] = {"github": FakeGitHub(), "jira": FakeJira(), "linear": FakeLinear()}
    api: ApiProcesses | None = None
    workers: Workers | None = None
    monkey: Monkey | None = None
    logs: collections.deque[str] = collections.deque(maxlen=60)
    try:
        with database(options) as (url, restart):
            migrate.upgrade(url)
            engine = make_engine(url)
            with session_scope(engine) as session:
                _, token = auth_service.create(session, name="fault-run", scope=Scope.ADMIN)
            env = service_env(url, data_dir, "fault-run")
            plan = FaultPlan(options.rates, random.Random(options.seed + 1))
            calls: list[Any] = []
            for kind, fake in fakes.items():
                fake.start()
                instrument(kind, fake, plan, calls, started)
            api = ApiProcesses(
                {**env, "FOLLOWTHROUGH_CHECKS__MAX_COMMITTED_ITEMS": str(PER_POSTMORTEM)},
                options.api_processes,
                token,
                logs,
            )
            run = Run(rng, api, engine, fakes, plan, calls, logs=logs)
            connect(run)
            print(
                f"{options.items} items, {options.api_processes} API process(es), "
                f"{options.workers} worker(s), {options.kills} kills, "
                f"database restart: {restart is not None}, seed {options.seed}",
                flush=True,
            )
            publishing = time.monotonic()
            workers = Workers({**env, **WORKER_SETTINGS}, options.workers, logs)
            spread = (0.2 * options.kill_every, 1.8 * options.kill_every)
            monkey = Monkey(workers, rng, options.kills, spread, restart)
            tracker_of, last_sent, sync_lag = waves(run, options, monkey, deadline)
            converged = wait_converged(run, monkey, tracker_of, deadline)
            done = time.monotonic()
            seconds, calm = done - publishing, done - max(last_sent, monkey.last_blow)
            found = scalar(engine, FOUND_BY_MARKER)
            # Deadlocks PostgreSQL detected (and broke by aborting a transaction) in this run's
            # database, among all the API processes and workers.
            deadlocks = scalar(engine, DEADLOCKS)
            print(
                f"faults hit: {dict(plan.hit)}; worker kills: {monkey.killed}; database restarts: "
                f"{monkey.restarts} ({monkey.restart_seconds:.1f} s); "
                f"crashed workers: {workers.died()}; "
                f"tickets found by marker after a lost answer: {found}; deadlocks: {deadlocks}",
                flush=True,
            )
            if monkey.error is not None:
                print(f"the monkey failed: {monkey.error!r}")
            items = all_items(run, tracker_of)
            counts = check(run, items)
            total = sum(counts.values(), collections.Counter[str]())
            recorded_all = all(counts[k]["recorded"] == counts[k]["sent"] for k in TRACKERS)
            converged = converged and recorded_all and monkey.error is None
            report(counts, run, started, (seconds, calm) if converged else None)
            outcome = Outcome(
                items=total["items"],
                duplicates=total["duplicates"],
                late_duplicates=total["late duplicates"],
                lost=total["lost"],
                disagreeing=total["disagreeing"],
                converged=converged,
                kills=monkey.killed,
                database_restarts=monkey.restarts,
                deadlocks=deadlocks,
                seconds_to_converge=seconds,
                sync_lag=sync_lag,
                counts=counts,
            )
            if not outcome.ok and logs:
                print("last process log lines:", *logs, sep="\n  ")
            engine.dispose()
            return outcome
    finally:
        if monkey is not None:
            monkey.halt()
        if workers is not None:
            workers.stop()
        if api is not None:
            api.close()
        for fake in fakes.values():
            fake.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


def waves(
    run: Run, options: Options, monkey: Monkey, deadline: float
) -> tuple[dict[str, str], float, float]:
    """Publish half the items, start the blows and let the first wave sync; then publish the
    second wave while the first wave's webhook deliveries come in (the database restart falls
    among them), and finally send the second wave's. Returns item id -> tracker, when the last
    delivery was sent, and the sync lag: the seconds the workers needed, after each wave's
    publishing ended, to sync it."""
    first_wave = publish(run, options.items // 2, 0)
    monkey.start()
    phase = time.monotonic()
    wait_synced(run, first_wave, deadline)
    first_lag = time.monotonic() - phase
    print(f"first wave ({len(first_wave)}) synced {first_lag:.1f} s after its publishing ended")
    second_wave: dict[str, str] = {}
    failed: list[BaseException] = []

    def publish_second() -> None:
        try:
            second_wave.update(publish(run, options.items - len(first_wave), len(first_wave)))
        except BaseException as exc:
            failed.append(exc)

    publisher = threading.Thread(target=publish_second, daemon=True)
    publisher.start()
    deliveries = plan_deliveries(run, all_items(run, first_wave))
    monkey.restart_gate.set()
    send_all(run, deliveries, options.api_processes)
    publisher.join()
    if failed:
        raise RuntimeError("publishing the second wave failed") from failed[0]
    phase = time.monotonic()
    wait_synced(run, second_wave, deadline)
    second_lag = time.monotonic() - phase
    print(f"second wave ({len(second_wave)}) synced {second_lag:.1f} s after its publishing ended")
    send_all(run, plan_deliveries(run, all_items(run, second_wave)), options.api_processes)
    return {**first_wave, **second_wave}, time.monotonic(), first_lag + second_lag


def wait_converged(run: Run, monkey: Monkey, ids: dict[str, str], deadline: float) -> bool:
    """Until every blow has fallen, every item is synced and no job is waiting; False when the
    deadline passes first or a job died."""
    while time.monotonic() < deadline:
        if (
            not monkey.is_alive()
            and synced(run, ids) >= len(ids)
            and scalar(run.engine, BUSY_JOBS) == 0
        ):
            dead = scalar(run.engine, DEAD_JOBS)
            if dead:
                print(f"dead jobs: {dead}")
            return dead == 0
        time.sleep(0.2)
    print(
        f"not converged by the deadline: {len(ids) - synced(run, ids)} unsynced, "
        f"{scalar(run.engine, BUSY_JOBS)} jobs waiting, monkey done: {not monkey.is_alive()}"
    )
    return False


# -- main ---------------------------------------------------------------------------------------


def main() -> int:
    # Progress shows as it happens when the output goes to a pipe or a file too.
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    defaults = Options()
    parser.add_argument("--items", type=int, default=defaults.items, help="committed items")
    parser.add_argument("--kills", type=int, default=defaults.kills, help="worker SIGKILLs")
    parser.add_argument("--api-processes", type=int, default=defaults.api_processes)
    parser.add_argument("--workers", type=int, default=defaults.workers)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument(
        "--kill-every", type=float, default=defaults.kill_every, help="mean seconds between kills"
    )
    parser.add_argument(
        "--no-restart", action="store_true", help="leave the throwaway PostgreSQL running"
    )
    parser.add_argument(
        "--database-url",
        default=None,
        help="postgresql://user@127.0.0.1/db: a throwaway database on that server (no restart)",
    )
    parser.add_argument("--time-limit", type=float, default=defaults.time_limit, help="seconds")
    parser.add_argument("--quick", action="store_true", help="30 items, 2 kills")
    parser.add_argument(
        "--baseline",
        action="store_true",
        help="first the same run without faults, kills or restart; report the ratio of the two",
    )
    args = parser.parse_args()
    if args.quick:
        args.items, args.kills = 30, 2
    options = Options(
        items=args.items,
        kills=args.kills,
        api_processes=args.api_processes,
        workers=args.workers,
        seed=args.seed,
        kill_every=args.kill_every,
        restart_database=not args.no_restart,
        database_url=args.database_url,
        time_limit=args.time_limit,
    )
    clean = None
    if args.baseline:
        print("-- baseline: the same run without faults, kills or restart", flush=True)
        clean = fault_run(replace(options, kills=0, restart_database=False, rates=NO_FAULTS))
        print("-- the fault run", flush=True)
    outcome = fault_run(options)
    if clean is not None:
        print(
            f"time to converge: {outcome.seconds_to_converge:.1f} s with faults, "
            f"{clean.seconds_to_converge:.1f} s without: "
            f"{outcome.seconds_to_converge / clean.seconds_to_converge:.2f}x; sync lag after "
            f"publishing: {outcome.sync_lag:.1f} s with faults, {clean.sync_lag:.1f} s without: "
            f"{outcome.sync_lag / max(clean.sync_lag, 0.1):.1f}x"
        )
    return 0 if outcome.ok and (clean is None or clean.ok) else 1


if __name__ == "__main__":
    sys.exit(main())
