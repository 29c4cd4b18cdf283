"""Dashboard summary latency at scale: generates postmortems and action items, then times
GET /v1/dashboard/summary, and the wall page (GET /dashboard, all teams and one team), through
the app. Prints medians and p95s.

    .venv/bin/python -m bench.dashboard_summary --postmortems 100000           # SQLite file
    FOLLOWTHROUGH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1/bench \\
        .venv/bin/python -m bench.dashboard_summary --postmortems 100000

Postmortems are spread over five years (about 5,000 a quarter); each has three committed
action items in mixed states, two services, and two timeline entries.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import insert

from app.action_items.models import ActionItem
from app.db import session_scope
from app.people.models import Person, Team
from app.postmortems.models import Postmortem, PostmortemService
from app.timeline.models import TimelineEntry
from app.wall.routes import COOKIE as WALL_COOKIE
from bench.bench_app import admin_token, bench_app

START = datetime(2022, 1, 1, tzinfo=UTC)
SPAN_DAYS = 5 * 365
STATUSES = ["open", "open", "closed", "verified", "verified", "wont_do", "reopened"]


def generate(engine: object, postmortems: int, seed: int = 7) -> None:
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
    with session_scope(engine) as s:  # type: ignore[arg-type]
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
                    "review_held_at": resolved + timedelta(hours=rng.uniform(4, 120)),
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
                        "verified_at": closed + timedelta(days=2)
                        if status == "verified" and closed
                        else None,
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
        with session_scope(engine) as s:  # type: ignore[arg-type]
            s.execute(insert(Postmortem), pms)
            s.execute(insert(PostmortemService), services)
            s.execute(insert(ActionItem), items)
            s.execute(insert(TimelineEntry), entries)


def timed(
    client: TestClient,
    params: dict[str, str],
    runs: int,
    path: str = "/v1/dashboard/summary",
    must_contain: str = "",
) -> tuple[float, float]:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        response = client.get(path, params=params)
        samples.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.text
        assert must_contain in response.text, response.text[:500]
    samples.sort()
    return statistics.median(samples), samples[max(int(len(samples) * 0.95) - 1, 0)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--postmortems", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument(
        "--reuse", action="store_true", help="time the data already in the database"
    )
    args = parser.parse_args()
    app, url = bench_app()
    if not args.reuse:
        started = time.perf_counter()
        generate(app.state.engine, args.postmortems)
        print(
            f"generated {args.postmortems} postmortems, {3 * args.postmortems} action items in {time.perf_counter() - started:.0f} s"
        )
    if url.startswith("postgresql"):
        # What autovacuum will have done long before a history is this old: statistics, and
        # the visibility map that lets the covering indexes answer without the table.
        autocommit = app.state.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        with autocommit as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
    token = admin_token(app)
    backend = url.split(":", 1)[0]
    cases = {
        "one quarter": {"since": "2024-04-01T00:00:00Z", "until": "2024-07-01T00:00:00Z"},
        "one quarter, one team": {
            "since": "2024-04-01T00:00:00Z",
            "until": "2024-07-01T00:00:00Z",
            "team": "team-3",
        },
        "one year": {"since": "2024-01-01T00:00:00Z", "until": "2025-01-01T00:00:00Z"},
        "all five years": {"since": "2020-01-01T00:00:00Z", "until": "2030-01-01T00:00:00Z"},
    }
    with TestClient(app, headers={"Authorization": f"Bearer {token}"}) as client:
        timed(client, cases["one quarter"], 3)  # warm caches
        for name, params in cases.items():
            median, p95 = timed(client, params, args.runs)
            print(
                f"{backend}: summary over {name}: median {median:.1f} ms, p95 {p95:.1f} ms ({args.runs} runs)"
            )
        # The wall page for this quarter (the generated history reaches the end of 2026).
        client.cookies.set(WALL_COOKIE, token, path="/dashboard")
        for name, params in {"all teams": {}, "one team": {"team": "team-3"}}.items():
            median, p95 = timed(
                client, params, args.runs, path="/dashboard", must_contain='data-testid="tile-open"'
            )
            print(
                f"{backend}: wall page, {name}: median {median:.1f} ms, p95 {p95:.1f} ms ({args.runs} runs)"
            )


if __name__ == "__main__":
    main()
