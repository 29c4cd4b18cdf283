"""A postmortem's stored time from resolution to review: kept on every write and backfilled by
migration 0021, exact to the microsecond, and the dashboard's review median read from it."""

from __future__ import annotations

import statistics
import uuid
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import command
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from app.action_items.models import microseconds_between
from app.db import make_engine, session_scope
from app.migrate import alembic_config
from app.people.models import Team
from app.postmortems.models import Postmortem
from tests.conftest import insert_as_of
from tests.factories import make_postmortem, make_team

NOW = datetime.now(UTC)


def _stored_lag(engine: Engine, postmortem_id: uuid.UUID) -> int | None:
    with session_scope(engine, read_only=True) as session:
        postmortem = session.get(Postmortem, postmortem_id)
        assert postmortem is not None
        return postmortem.microseconds_to_review


def test_the_lag_follows_resolution_and_review_on_every_write(engine: Engine) -> None:
    resolved = NOW - timedelta(days=3, microseconds=400_000)
    with session_scope(engine) as session:
        team = Team(slug="payments", name="Payments")
        session.add(team)
        session.flush()
        postmortem = Postmortem(
            title="Checkout down",
            incident_ref="INC-LAG",
            severity="SEV2",
            team_id=team.id,
            started_at=resolved - timedelta(hours=2),
            resolved_at=resolved,
        )
        session.add(postmortem)
        session.flush()
        postmortem_id = postmortem.id
    assert _stored_lag(engine, postmortem_id) is None

    for review in (resolved + timedelta(hours=30, microseconds=-1), resolved + timedelta(days=2)):
        with session_scope(engine) as session:
            found = session.get(Postmortem, postmortem_id)
            assert found is not None
            found.review_held_at = review
            session.add(found)
        assert _stored_lag(engine, postmortem_id) == microseconds_between(resolved, review)

    with session_scope(engine) as session:
        found = session.get(Postmortem, postmortem_id)
        assert found is not None
        found.review_held_at = None
        session.add(found)
    assert _stored_lag(engine, postmortem_id) is None


def test_the_dashboard_median_is_the_median_of_the_lags(client: TestClient) -> None:
    make_team(client, "payments")
    lags = [timedelta(hours=h, seconds=s) for h, s in ((5, 7), (30, 0), (49, 13), (80, 1))]
    for n, lag in enumerate(lags):
        resolved = NOW - timedelta(days=20 + n)
        started = resolved - timedelta(hours=1)
        make_postmortem(
            client,
            team="payments",
            incident_ref=f"INC-{n}",
            started_at=started.isoformat(),
            detected_at=started.isoformat(),
            mitigated_at=resolved.isoformat(),
            resolved_at=resolved.isoformat(),
            review_held_at=(resolved + lag).isoformat(),
            action_items=[],
        )
    summary = client.get(
        "/v1/dashboard/summary",
        params={
            "since": (NOW - timedelta(days=40)).isoformat(),
            "until": (NOW + timedelta(days=1)).isoformat(),
        },
    )
    assert summary.status_code == 200, summary.text
    expected = statistics.median(lag.total_seconds() for lag in lags) / 3600
    assert summary.json()["median_review_lag_hours"] == round(expected, 2)


def test_migration_0021_backfills_the_lag(fresh_url: str) -> None:
    config = alembic_config(fresh_url)
    command.upgrade(config, "0020")
    resolved = NOW - timedelta(days=10, microseconds=-750_000)
    reviews = {
        "INC-NONE": None,
        # The review's fraction below the resolution's: the borrow must come out right.
        "INC-BORROW": resolved + timedelta(days=1, microseconds=-800_000),
        "INC-PLAIN": resolved + timedelta(hours=50, seconds=3),
    }
    engine = make_engine(fresh_url)
    try:
        with engine.begin() as conn:
            team_id = uuid.uuid4()
            insert_as_of(conn, Team, Team(id=team_id, slug="search", name="Search").model_dump())
            for ref, review in reviews.items():
                postmortem = Postmortem(
                    title=ref,
                    incident_ref=ref,
                    severity="SEV3",
                    team_id=team_id,
                    started_at=resolved - timedelta(hours=3),
                    resolved_at=resolved,
                    review_held_at=review,
                )
                insert_as_of(conn, Postmortem, postmortem.model_dump())
        command.upgrade(config, "0021")
        table = Postmortem.__table__  # type: ignore[attr-defined]
        with engine.connect() as conn:
            stored = {
                ref: lag
                for ref, lag in conn.execute(
                    sa.select(table.c.incident_ref, table.c.microseconds_to_review)
                )
            }
        assert stored == {
            ref: microseconds_between(resolved, review) for ref, review in reviews.items()
        }
        assert stored["INC-BORROW"] == 86400 * 1_000_000 - 800_000
        command.downgrade(config, "0020")
    finally:
        engine.dispose()
