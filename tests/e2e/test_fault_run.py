"""The fault run, small: two API processes and two workers on a PostgreSQL of its own, create
calls failing at the run's rates, workers SIGKILLed, the database restarted once, webhooks
delivered twice and out of order; one ticket per item, none lost, everything converged."""

from __future__ import annotations

import psycopg
import pytest

from bench.fault_run import Options, fault_run
from bench.throwaway_postgres import ThrowawayPostgres


def test_throwaway_postgres_restarts_and_leaves_nothing_behind() -> None:
    with ThrowawayPostgres() as pg:
        root = pg.root
        assert root is not None and root.is_dir()
        with psycopg.connect(pg.url(driver="postgresql"), autocommit=True) as before:
            before.execute("CREATE TABLE kept (n int)")
            before.execute("INSERT INTO kept VALUES (1)")
            pg.restart()
            # A restart cuts every connection open across it.
            with pytest.raises(psycopg.OperationalError):
                before.execute("SELECT 1")
        with psycopg.connect(pg.url(driver="postgresql")) as after:
            assert after.execute("SELECT n FROM kept").fetchall() == [(1,)]
    assert not root.exists()


def test_fault_run_makes_one_ticket_per_item_and_converges() -> None:
    outcome = fault_run(
        Options(items=100, kills=3, api_processes=2, workers=2, kill_every=1.5, time_limit=240)
    )
    assert outcome.items == 100
    assert outcome.kills == 3
    assert outcome.database_restarts == 1
    assert outcome.duplicates == 0
    assert outcome.lost == 0
    assert outcome.disagreeing == 0
    assert outcome.converged
    assert outcome.deadlocks == 0
    total = sum(outcome.counts.values(), start=type(outcome.counts["github"])())
    # Every delivery was sent twice and recorded once.
    assert total["sent"] > 0
    assert total["recorded"] == total["sent"]
    assert total["answer duplicate"] >= total["sent"]
