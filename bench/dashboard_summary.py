"""Dashboard summary latency at scale: generates postmortems and action items (three each) into
a fresh SQLite file and, with --database-url, a throwaway PostgreSQL database on that server
(created, then dropped), and times GET /v1/dashboard/summary through the app over one day, a
quarter, a quarter for one team, a year and five years, plus the wall page.

    .venv/bin/python -m bench.dashboard_summary                                 # short: 30k items
    .venv/bin/python -m bench.dashboard_summary --items 300000 --runs 15 \
        --database-url postgresql://postgres@127.0.0.1:5432/postgres --json bench-results/dashboard.json

Prints one row per period and database: the median of the runs in ms, and two ratios measured
in the same run, so a loaded machine does not move them as it moves the milliseconds: against
the same endpoint over one day (the request's fixed cost), and against a bare
`SELECT count(*) FROM action_item` on the same database. The cases are timed in turns, one run
of each at a time.

Postmortems are spread over five years (2022-2026, about 5,000 a quarter at 300k items); each
has three committed action items in mixed states, two services, and two timeline entries.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import insert, text
from sqlalchemy.engine import Engine

from app.action_items.models import ActionItem, microseconds_between
from app.db import session_scope
from app.main import create_app
from app.people.models import Person, Team
from app.postmortems.models import Postmortem, PostmortemService
from app.settings import Settings, SyncPolicy
from app.timeline.models import TimelineEntry
from app.wall.routes import COOKIE as WALL_COOKIE
from bench.report import add_json_option, write_json
from bench.service_setup import admin_token, database

START = datetime(2022, 1, 1, tzinfo=UTC)
SPAN_DAYS = 5 * 365
STATUSES = ["open", "open", "closed", "verified", "verified", "wont_do", "reopened"]


def generate(engine: Engine, postmortems: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    teams = [
        {"id": uuid.uuid4(), "slug": f"team-{n}", "name": f"Team {n}", "created_at": START}
        for n in range(20)
    ]
    people = [
        {
            "id": uuid.uuid4(),
            "handle": f"person-{n}",
            "display_name": f"Person {n}",
            "team_id": teams[n % 20]["id"],
            "tracker_accounts": {},
            "created_at": START,
        }
        for n in range(200)
    ]
    with session_scope(engine) as s:
        s.execute(insert(Team), teams)
        s.execute(insert(Person), people)
    batch = 5000
    for first in range(0, postmortems, batch):
        pms, services, items, entries = [], [], [], []
        for n in range(first, min(first + batch, postmortems)):
            started = START + timedelta(days=rng.uniform(0, SPAN_DAYS))
            resolved = started + timedelta(hours=rng.uniform(0.2, 8))
            pm_id = uuid.uuid4()
            pms.append(
                {
                    "id": pm_id,
                    "title": f"Incident {n}",
                    "incident_ref": f"INC-{n}",
                    "severity": f"SEV{rng.randint(1, 4)}",
                    "status": rng.choice(["published", "published", "complete", "draft"]),
                    "summary": "",
                    "user_impact": "",
                    "team_id": rng.choice(teams)["id"],
                    "started_at": started,
                    "resolved_at": resolved,
                    "review_held_at": (reviewed := resolved + timedelta(hours=rng.uniform(4, 120))),
                    # A bulk insert runs no mapper events: the stored lag is set here.
                    "microseconds_to_review": microseconds_between(resolved, reviewed),
                    "links": [],
                    "chain_walk": {},
                    "review": {},
                    "created_by": "bench",
                    "created_at": started,
                    "updated_at": started,
                    "version": 1,
                }
            )
            for name in rng.sample(["checkout", "search", "auth", "payments", "dns", "cdn"], 2):
                services.append({"postmortem_id": pm_id, "name": name})
            for _ in range(3):
                status = rng.choice(STATUSES)
                created = resolved + timedelta(days=1)
                closed = (
                    created + timedelta(days=rng.uniform(1, 30))
                    if status in ("closed", "verified", "wont_do")
                    else None
                )
                verified = closed + timedelta(days=2) if status == "verified" and closed else None
                items.append(
                    {
                        "id": uuid.uuid4(),
                        "postmortem_id": pm_id,
                        "incident_started_at": started,
                        "title": "Fix",
                        "description": "",
                        "definition_of_done": ["x"],
                        "verification": "y",
                        "owner_person_id": rng.choice(people)["id"],
                        "priority": "medium",
                        "committed": True,
                        "status": status,
                        "chain_level": rng.choice(["L1", "L2", "L3", "L4", "L5", None]),
                        "due_date": (created + timedelta(days=14)).date(),
                        "created_at": created,
                        "updated_at": created,
                        "closed_at": closed,
                        "verified_at": verified,
                        # Bulk inserts skip the model's events: the durations are given.
                        "microseconds_to_close": microseconds_between(created, closed),
                        "microseconds_to_verify": microseconds_between(created, verified),
                        "version": 1,
                    }
                )
            for minutes in (10, rng.choice([20, 600])):
                entries.append(
                    {
                        "id": uuid.uuid4(),
                        "postmortem_id": pm_id,
                        "incident_started_at": started,
                        "incident_resolved_at": resolved,
                        "at": started,
                        "author": "x",
                        "kind": "action",
                        "text": "t",
                        "recorded_at": started + timedelta(minutes=minutes),
                        "updated_at": started,
                        "version": 1,
                    }
                )
        with session_scope(engine) as s:
            s.execute(insert(Postmortem), pms)
            s.execute(insert(PostmortemService), services)
            s.execute(insert(ActionItem), items)
            s.execute(insert(TimelineEntry), entries)


CASES: dict[str, dict[str, str]] = {
    "one day (baseline)": {"since": "2024-05-01T00:00:00Z", "until": "2024-05-02T00:00:00Z"},
    "one quarter": {"since": "2024-04-01T00:00:00Z", "until": "2024-07-01T00:00:00Z"},
    "one quarter, one team": {
        "since": "2024-04-01T00:00:00Z",
        "until": "2024-07-01T00:00:00Z",
        "team": "team-3",
    },
    "one year": {"since": "2024-01-01T00:00:00Z", "until": "2025-01-01T00:00:00Z"},
    "all five years": {"since": "2020-01-01T00:00:00Z", "until": "2030-01-01T00:00:00Z"},
}
BASELINE = "one day (baseline)"
COUNT_ALL = "count(*) over action_item"


def timings(probes: dict[str, Callable[[], None]], runs: int) -> dict[str, list[float]]:
    """Milliseconds of each probe, `runs` times, in turns (one run of each, then the next)."""
    for probe in probes.values():
        probe()  # warm caches and plans
    samples: dict[str, list[float]] = {name: [] for name in probes}
    for _ in range(runs):
        for name, probe in probes.items():
            started = time.perf_counter()
            probe()
            samples[name].append((time.perf_counter() - started) * 1000)
    return samples


def get(
    client: TestClient, path: str, params: dict[str, str], must_contain: str
) -> Callable[[], None]:
    def probe() -> None:
        response = client.get(path, params=params)
        assert response.status_code == 200, response.text
        assert must_contain in response.text, response.text[:500]

    return probe


def count_all(engine: Engine) -> Callable[[], None]:
    def probe() -> None:
        with engine.connect() as conn:
            conn.execute(text("SELECT count(*) FROM action_item")).scalar_one()

    return probe


def measure(kind: str, admin: str, items: int, runs: int) -> dict[str, Any]:
    with database(kind, admin) as (url, data_dir):
        settings = Settings(
            database_url=url,
            data_dir=data_dir,
            secret_key="bench",
            sync=SyncPolicy(run_in_api_process=False),
        )
        app: FastAPI = create_app(settings)
        engine: Engine = app.state.engine
        try:
            started = time.perf_counter()
            generate(engine, items // 3)
            generated = time.perf_counter() - started
            print(
                f"{kind}: generated {items // 3} postmortems, {items} action items in {generated:.0f} s"
            )
            if kind == "postgresql":
                # What autovacuum will have done long before a history is this old: statistics,
                # and the visibility map that lets the covering indexes answer without the table.
                with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                    conn.exec_driver_sql("VACUUM ANALYZE")
            token = admin_token(engine)
            with TestClient(app, headers={"Authorization": f"Bearer {token}"}) as client:
                probes = {
                    name: get(client, "/v1/dashboard/summary", params, '"action_items"')
                    for name, params in CASES.items()
                }
                probes[COUNT_ALL] = count_all(engine)
                client.cookies.set(WALL_COOKIE, token, path="/dashboard")
                for name, params in {
                    "wall page, all teams": {},
                    "wall page, one team": {"team": "team-3"},
                }.items():
                    probes[name] = get(client, "/dashboard", params, 'data-testid="tile-open"')
                samples = timings(probes, runs)
        finally:
            engine.dispose()
    medians = {name: statistics.median(values) for name, values in samples.items()}
    return {
        "items": items,
        "runs": runs,
        "generate_seconds": round(generated, 1),
        "cases": {
            name: {
                "median_ms": round(medians[name], 2),
                "p95_ms": round(sorted(values)[max(int(len(values) * 0.95) - 1, 0)], 2),
                "ratio_to_one_day": round(medians[name] / medians[BASELINE], 2),
                "ratio_to_count_all": round(medians[name] / medians[COUNT_ALL], 2),
            }
            for name, values in samples.items()
        },
    }


def print_table(results: dict[str, dict[str, Any]]) -> None:
    print(
        f"{'case':<26} {'database':<11} {'median ms':>10} {'p95 ms':>9} {'x one day':>10} {'x count(*)':>11}"
    )
    names = next(iter(results.values()))["cases"]
    for name in names:
        for kind, result in results.items():
            case = result["cases"][name]
            print(
                f"{name:<26} {kind:<11} {case['median_ms']:>10.1f} {case['p95_ms']:>9.1f}"
                f" {case['ratio_to_one_day']:>10.2f} {case['ratio_to_count_all']:>11.2f}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--items", type=int, default=30_000, help="action items (three a postmortem)"
    )
    parser.add_argument("--runs", type=int, default=10, help="timed runs of each case")
    parser.add_argument(
        "--database-url",
        help="a PostgreSQL server to create (and drop) a throwaway database on, e.g. "
        "postgresql://postgres@127.0.0.1:5432/postgres; SQLite only without it",
    )
    parser.add_argument("--skip-sqlite", action="store_true")
    add_json_option(parser)
    args = parser.parse_args()
    results: dict[str, dict[str, Any]] = {}
    if not args.skip_sqlite:
        results["sqlite"] = measure("sqlite", "", args.items, args.runs)
    if args.database_url:
        admin = args.database_url.replace("postgresql+psycopg://", "postgresql://", 1)
        results["postgresql"] = measure("postgresql", admin, args.items, args.runs)
    print_table(results)
    write_json(args.json, "bench.dashboard_summary", results)


if __name__ == "__main__":
    main()
