"""The stored durations (microseconds from creation to close and to verification) agree with
the times they come from, through the status machine and after the 0018 backfill, and the
dashboard's medians of them agree with medians computed here over the same rows, on both
databases."""

from __future__ import annotations

import random
import statistics
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from app.action_items.models import ActionItem, microseconds_between
from app.action_items.state import Cause, Source, transition
from app.db import make_engine, session_scope
from app.enums import ActionItemStatus as S
from app.migrate import alembic_config
from app.people.models import Team
from app.postmortems.models import Postmortem
from tests.conftest import insert_as_of

API = Cause(Source.API, "token:tests")
WEBHOOK = Cause(Source.WEBHOOK, "delivery:tests")
NOW = datetime.now(UTC)


def _postmortem(engine: Engine, started: datetime, ref: str = "INC-1") -> uuid.UUID:
    with session_scope(engine) as s:
        team = s.execute(sa.select(Team).where(sa.column("slug") == "payments")).scalars().first()
        if team is None:
            team = Team(slug="payments", name="Payments")
            s.add(team)
            s.flush()
        pm = Postmortem(
            title=ref,
            incident_ref=ref,
            severity="SEV2",
            status="published",
            team_id=team.id,
            started_at=started,
            resolved_at=started + timedelta(hours=2),
        )
        s.add(pm)
        s.flush()
        return pm.id


def _item(engine: Engine, postmortem_id: uuid.UUID, **fields: Any) -> uuid.UUID:
    with session_scope(engine) as s:
        pm = s.get(Postmortem, postmortem_id)
        assert pm is not None
        item = ActionItem(
            title="Fix",
            postmortem_id=postmortem_id,
            incident_started_at=pm.started_at,
            **fields,
        )
        s.add(item)
        s.flush()
        return item.id


def _move(engine: Engine, item_id: uuid.UUID, target: S, cause: Cause = API) -> ActionItem:
    with session_scope(engine) as s:
        item = s.get(ActionItem, item_id)
        assert item is not None
        assert transition(s, item, target, cause).applied
    return _stored(engine, item_id)


def _stored(engine: Engine, item_id: uuid.UUID) -> ActionItem:
    """The item as the database has it (a fresh session, nothing cached)."""
    with session_scope(engine) as s:
        item = s.get(ActionItem, item_id)
        assert item is not None
        s.expunge(item)
        return item


def _agree(item: ActionItem) -> None:
    assert item.microseconds_to_close == microseconds_between(item.created_at, item.closed_at)
    assert item.microseconds_to_verify == microseconds_between(item.created_at, item.verified_at)


def test_close_verify_reopen_and_close_again_keep_the_durations(engine: Engine) -> None:
    pm = _postmortem(engine, NOW - timedelta(days=20))
    # Created at an odd microsecond, so a rounding to seconds or milliseconds would show.
    item_id = _item(engine, pm, status="open", created_at=NOW - timedelta(days=9, microseconds=7))

    closed = _move(engine, item_id, S.CLOSED)
    assert closed.closed_at is not None and closed.microseconds_to_close is not None
    assert closed.microseconds_to_close > 9 * 86400 * 1_000_000
    assert closed.microseconds_to_verify is None
    _agree(closed)

    verified = _move(engine, item_id, S.VERIFIED)
    assert verified.closed_at == closed.closed_at
    assert verified.microseconds_to_close == closed.microseconds_to_close
    assert verified.microseconds_to_verify is not None
    assert verified.microseconds_to_verify >= verified.microseconds_to_close
    _agree(verified)

    reopened = _move(engine, item_id, S.REOPENED, WEBHOOK)
    assert (reopened.closed_at, reopened.verified_at) == (None, None)
    assert (reopened.microseconds_to_close, reopened.microseconds_to_verify) == (None, None)

    again = _move(engine, item_id, S.CLOSED, WEBHOOK)
    assert again.closed_at is not None and closed.closed_at is not None
    assert again.closed_at > closed.closed_at
    assert again.microseconds_to_close is not None and closed.microseconds_to_close is not None
    assert again.microseconds_to_close > closed.microseconds_to_close
    assert again.microseconds_to_verify is None
    _agree(again)


def test_re_resolving_keeps_the_first_close(engine: Engine) -> None:
    """Done <-> won't do without a reopen keeps closed_at, and so the time to close."""
    pm = _postmortem(engine, NOW - timedelta(days=5))
    item_id = _item(engine, pm, status="open", created_at=NOW - timedelta(days=3))
    wont = _move(engine, item_id, S.WONT_DO, WEBHOOK)
    done = _move(engine, item_id, S.CLOSED, WEBHOOK)
    assert done.closed_at == wont.closed_at
    assert done.microseconds_to_close == wont.microseconds_to_close is not None
    _agree(done)


def test_times_written_directly_are_followed(engine: Engine) -> None:
    """Imports and fixtures set the times without the status machine: every ORM write keeps
    the durations in step, including a change of the creation time."""
    pm = _postmortem(engine, NOW - timedelta(days=40))
    created = NOW - timedelta(days=30, microseconds=333)
    item_id = _item(
        engine,
        pm,
        status="verified",
        created_at=created,
        closed_at=created + timedelta(days=4, microseconds=999_999),
        verified_at=created + timedelta(days=6, seconds=1),
    )
    item = _stored(engine, item_id)
    assert item.microseconds_to_close == (4 * 86400) * 1_000_000 + 999_999
    assert item.microseconds_to_verify == (6 * 86400 + 1) * 1_000_000
    with session_scope(engine) as s:
        row = s.get(ActionItem, item_id)
        assert row is not None
        row.created_at = created + timedelta(days=1)
    moved = _stored(engine, item_id)
    assert moved.microseconds_to_close == (3 * 86400) * 1_000_000 + 999_999
    _agree(moved)


def test_the_migration_backfills_items_closed_before_it(fresh_url: str) -> None:
    config = alembic_config(fresh_url)
    command.upgrade(config, "0017")
    started = NOW - timedelta(days=50)
    created = started + timedelta(days=1, microseconds=250_001)
    times = {
        "open": (None, None),
        "closed": (created + timedelta(days=7, hours=5, microseconds=1), None),
        # The close's fraction below the creation's: the borrow must come out right.
        "verified": (
            created + timedelta(days=2, microseconds=-250_000),
            created + timedelta(days=5, seconds=7),
        ),
        "wont_do": (created + timedelta(seconds=1), None),
    }
    engine = make_engine(fresh_url)
    try:
        ids: dict[str, uuid.UUID] = {}
        with engine.begin() as conn:
            team_id, pm_id = uuid.uuid4(), uuid.uuid4()
            insert_as_of(
                conn, Team, Team(id=team_id, slug="payments", name="Payments").model_dump()
            )
            pm = Postmortem(
                id=pm_id,
                title="Old",
                incident_ref="INC-OLD",
                severity="SEV2",
                status="published",
                team_id=team_id,
                started_at=started,
                resolved_at=started + timedelta(hours=1),
            )
            insert_as_of(conn, Postmortem, pm.model_dump())
            for status, (closed, verified) in times.items():
                # Written as the code before 0018 wrote it: the times only.
                item = ActionItem(
                    postmortem_id=pm_id,
                    incident_started_at=started,
                    title=status,
                    status=status,
                    created_at=created,
                    updated_at=created,
                    closed_at=closed,
                    verified_at=verified,
                )
                ids[status] = item.id
                insert_as_of(conn, ActionItem, item.model_dump())
        command.upgrade(config, "0018")
        stored = ActionItem.__table__
        with engine.connect() as conn:
            rows = {
                row.id: row
                for row in conn.execute(
                    sa.select(
                        stored.c.id,
                        stored.c.microseconds_to_close,
                        stored.c.microseconds_to_verify,
                    )
                )
            }
        for status, (closed, verified) in times.items():
            row = rows[ids[status]]
            assert row.microseconds_to_close == microseconds_between(created, closed), status
            assert row.microseconds_to_verify == microseconds_between(created, verified), status
        assert rows[ids["verified"]].microseconds_to_close == 2 * 86400 * 1_000_000 - 250_000
    finally:
        engine.dispose()


def _median_days(values: list[timedelta]) -> float | None:
    if not values:
        return None
    return round(statistics.median(v.total_seconds() for v in values) / 86400, 2)


@pytest.mark.parametrize("items", [37, 40])
def test_medians_match_a_computation_over_the_same_rows(
    client: TestClient, engine: Engine, items: int
) -> None:
    rng = random.Random(items)
    since = (NOW - timedelta(days=80)).replace(hour=0, minute=0, second=0, microsecond=0)
    until = NOW + timedelta(days=1)
    inside = [_postmortem(engine, since + timedelta(days=n * 7 + 1), f"INC-{n}") for n in range(8)]
    # One postmortem before the period: its items count in no median.
    outside = _postmortem(engine, since - timedelta(days=3), "INC-BEFORE")
    expected: dict[str | None, dict[str, list[timedelta]]] = {}
    for n in range(items + 6):
        pm = outside if n >= items else inside[n % len(inside)]
        status = rng.choice(["open", "closed", "closed", "verified", "verified", "wont_do"])
        level = rng.choice(["L1", "L2", "L3", "L4", "L5", None])
        created = since + timedelta(days=rng.uniform(1, 60))
        closed = created + timedelta(days=rng.uniform(0, 20)) if status != "open" else None
        verified = closed + timedelta(days=rng.uniform(0, 5)) if status == "verified" else None
        assert closed is None or closed < NOW
        _item(
            engine,
            pm,
            status=status,
            chain_level=level,
            created_at=created,
            closed_at=closed,
            verified_at=verified,
            due_date=date.today() + timedelta(days=10),
        )
        if pm == outside:
            continue
        for key in (None, level or "unset"):
            found = expected.setdefault(key, {"close": [], "verify": []})
            if closed is not None and status in ("closed", "verified"):
                found["close"].append(closed - created)
            if closed is not None and verified is not None:
                found["verify"].append(verified - created)

    params = {"since": since.isoformat(), "until": until.isoformat()}
    body = client.get("/v1/dashboard/summary", params=params).json()
    assert body["action_items"]["committed"] == items
    assert body["median_days_to_close"] == _median_days(expected[None]["close"])
    assert body["median_days_to_verify"] == _median_days(expected[None]["verify"])
    assert body["median_days_to_close"] is not None and body["median_days_to_verify"] is not None

    groups = client.get(
        "/v1/dashboard/summary", params={**params, "group_by": "chain_level"}
    ).json()["groups"]
    assert set(groups) == {k for k in expected if k is not None}
    for level, group in groups.items():
        assert group["median_days_to_close"] == _median_days(expected[level]["close"]), level
        assert group["median_days_to_verify"] == _median_days(expected[level]["verify"]), level
