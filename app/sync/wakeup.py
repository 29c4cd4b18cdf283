"""Wake the workers when a job becomes due, instead of leaving it to their next poll.

Any session that commits a job due now (queued, retried, or a webhook delivery to apply) signals
the workers of its own process when the commit succeeds; on PostgreSQL it also sends `NOTIFY
followthrough_jobs` inside that transaction, which the server delivers only on commit, and every
worker process LISTENs on a connection of its own. Polling stays as the fallback: a lost
notification (a dropped listening connection, a worker on SQLite in another process) delays a
job by at most `FOLLOWTHROUGH_SYNC__POLL_SECONDS`.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta
from itertools import chain
from typing import Any

import psycopg
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from app.db import utcnow
from app.sync.models import Job

logger = logging.getLogger("followthrough.worker")

CHANNEL = "followthrough_jobs"
_DUE = "followthrough_jobs_due"
# A job due this soon is worth waking a worker for.
SOON = timedelta(seconds=1)


class Wakeup:
    """A signal any number of runner threads wait on; no signal sent between a runner's look at
    the queue and its wait is lost (the runner passes the generation it saw)."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._generation = 0

    @property
    def generation(self) -> int:
        with self._condition:
            return self._generation

    def notify(self) -> None:
        with self._condition:
            self._generation += 1
            self._condition.notify_all()

    def wait(self, seen: int, timeout: float) -> bool:
        """Wait until a signal newer than `seen`, or `timeout` seconds; True when signalled."""
        with self._condition:
            return self._condition.wait_for(lambda: self._generation != seen, timeout)


# The workers in this process (the embedded worker, or `followthrough worker`'s threads).
LOCAL = Wakeup()


def _due_jobs(objects: Any) -> bool:
    soon = utcnow() + SOON
    return any(
        isinstance(o, Job) and o.status == "pending" and o.available_at <= soon for o in objects
    )


@event.listens_for(Session, "after_flush")
def _seen_in_flush(session: Session, _context: Any) -> None:
    # Before the flush's own bookkeeping: `new` and `dirty` still hold what it wrote.
    if _due_jobs(chain(session.new, session.dirty)):
        session.info[_DUE] = True


@event.listens_for(Session, "before_commit")
def _notify_on_commit(session: Session) -> None:
    if not (session.info.get(_DUE) or _due_jobs(chain(session.new, session.dirty))):
        return
    session.info[_DUE] = True
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        # Delivered by the server only if this transaction commits, once however often sent.
        connection.exec_driver_sql(f"NOTIFY {CHANNEL}")


@event.listens_for(Session, "after_commit")
def _signal_after_commit(session: Session) -> None:
    if session.info.pop(_DUE, False):
        LOCAL.notify()


@event.listens_for(Session, "after_rollback")
def _forget_on_rollback(session: Session) -> None:
    session.info.pop(_DUE, None)


def listen(
    engine: Engine,
    wakeup: Wakeup,
    stop: threading.Event,
    poll: float,
    *,
    listening: threading.Event | None = None,
) -> None:
    """Turn PostgreSQL notifications into `wakeup` signals until `stop` is set, on a connection
    of its own (autocommit, outside the pool); reconnects after a lost connection and signals
    once then, for what it may have missed. Sets `listening` once LISTEN is in place."""
    dsn = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    while not stop.is_set():
        try:
            with psycopg.connect(dsn, autocommit=True, connect_timeout=10) as conn:
                conn.execute(f"LISTEN {CHANNEL}")
                if listening is not None:
                    listening.set()
                wakeup.notify()
                while not stop.is_set():
                    for _ in conn.notifies(timeout=0.5):
                        wakeup.notify()
        except psycopg.Error as exc:
            logger.warning("listening for new jobs failed (%s); polling until reconnected", exc)
            stop.wait(poll)
