"""Retention: which stored deliveries and jobs go, and when (FOLLOWTHROUGH_RETENTION__*).

A tracker's site-wide or organisation webhook sends every ticket's events, and the service
stores each delivery and the job that applies it. What is kept, and why:

- A delivery about one of our tickets ("applied") keeps its row for good: its outcome and detail
  say what the tracker did to an item, the item's history names it ("delivery:<id>"), and any
  redelivery of it, however late, stays a duplicate. Its body and headers, read only to see what
  the tracker sent, are emptied `delivery_body_days` after it was applied.
- A delivery about no ticket of ours ("foreign", emptied when it was judged) or of an event type
  we do not use ("ignored") is deleted `unused_delivery_hours` after it was processed; until then
  a redelivery of it is still a duplicate. Its job goes with it (ON DELETE CASCADE).
- Finished (done) jobs are deleted after `done_job_days`.
- Parked (dead) jobs, failed deliveries and deliveries not applied yet are never touched:
  people read and retry them.

Each step works in batches of `batch_rows` rows, one transaction each, found through partial
indexes that hold only the rows still to purge (migration 0019), so a batch costs the same
however many deliveries are stored. On SQLite the write lock is let go between two batches for
as long as the last one held it, 100 ms at least (a webhook waiting in SQLite's busy handler
sleeps in steps of up to 100 ms): a backlog goes at half speed at most, and ingest keeps going.

SQLite's file does not shrink after deletes: freed pages go on its free list and later writes
reuse them, so with deliveries arriving about as fast as they expire the file stays at the size
of the retained rows at their peak. No incremental vacuum: `auto_vacuum` can only be switched on
before the first table exists or by a full VACUUM, which rewrites the file under an exclusive
lock; once, with the service stopped, `VACUUM` hands space back after a one-off large purge.
PostgreSQL's autovacuum makes deleted rows' space reusable in the same way.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from uuid import UUID

from sqlalchemy import ColumnElement, Delete, Update, delete, text, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from app.db import session_scope, utcnow
from app.metrics import RETENTION_PURGED
from app.settings import RetentionPolicy
from app.sync.models import Job
from app.webhooks.models import BODY_KEPT, UNUSED, WebhookDelivery

logger = logging.getLogger("followthrough.retention")

# Between two batches on SQLite, at least: a writer waiting in SQLite's busy handler sleeps in
# steps of up to 100 ms.
SQLITE_PAUSE_SECONDS = 0.1


@dataclass
class Purged:
    """What one purge removed, and how long its transactions held their locks."""

    deliveries_deleted: int = 0
    bodies_emptied: int = 0
    jobs_deleted: int = 0
    transactions: int = 0
    # In transactions, pauses between them left out.
    busy_seconds: float = 0.0
    longest_transaction_seconds: float = 0.0

    def lines(self) -> list[str]:
        return [
            f"deliveries deleted (about no ticket of ours, or ignored): {self.deliveries_deleted}",
            f"delivery bodies emptied (applied, past their days): {self.bodies_emptied}",
            f"finished jobs deleted: {self.jobs_deleted}",
            f"in {self.transactions} transaction(s) of {self.busy_seconds:.1f} s together, the "
            f"longest {self.longest_transaction_seconds * 1000:.0f} ms",
        ]


def purge(
    engine: Engine,
    policy: RetentionPolicy,
    *,
    now: datetime | None = None,
    pause: bool = True,
) -> Purged:
    """Delete and empty what the policy no longer keeps, a batch per transaction, until nothing
    is left to do; `now` is the moment the ages are counted from. On SQLite (unless `pause` is
    off) a full batch is followed by a pause as long as it took, 100 ms at least, so that other
    writers have the lock at least half the time while a large backlog goes."""
    now = now or utcnow()
    pausing = pause and engine.dialect.name == "sqlite"
    purged = Purged()
    unused_before = now - timedelta(hours=policy.unused_delivery_hours)
    body_before = now - timedelta(days=policy.delivery_body_days)
    done_before = now - timedelta(days=policy.done_job_days)

    def batches(step: Callable[[Session, int], int]) -> int:
        total = 0
        while True:
            started = time.perf_counter()
            with session_scope(engine) as session:
                count = step(session, policy.batch_rows)
            elapsed = time.perf_counter() - started
            purged.transactions += 1
            purged.busy_seconds += elapsed
            purged.longest_transaction_seconds = max(purged.longest_transaction_seconds, elapsed)
            total += count
            if count < policy.batch_rows:
                return total
            if pausing:
                time.sleep(max(SQLITE_PAUSE_SECONDS, elapsed))

    purged.deliveries_deleted = batches(lambda s, n: _delete_unused(s, unused_before, n))
    purged.bodies_emptied = batches(lambda s, n: _empty_bodies(s, body_before, n))
    for lane in ("inbound", "outbound"):
        purged.jobs_deleted += batches(partial(_delete_done_jobs, lane=lane, before=done_before))
    RETENTION_PURGED.labels("deliveries_deleted").inc(purged.deliveries_deleted)
    RETENTION_PURGED.labels("bodies_emptied").inc(purged.bodies_emptied)
    RETENTION_PURGED.labels("jobs_deleted").inc(purged.jobs_deleted)
    if purged.deliveries_deleted or purged.bodies_emptied or purged.jobs_deleted:
        logger.info("retention: %s", "; ".join(purged.lines()))
    return purged


def _oldest_deliveries(where: str, before: datetime, limit: int) -> SelectOfScalar[UUID]:
    """Ids of the oldest processed deliveries matching a partial index's own predicate."""
    processed = col(WebhookDelivery.processed_at)
    return (
        select(WebhookDelivery.id)
        .where(text(where), processed < before)
        .order_by(processed)
        .limit(limit)
    )


def _delete_unused(session: Session, before: datetime, limit: int) -> int:
    batch = _oldest_deliveries(UNUSED, before, limit)
    return _run(session, delete(WebhookDelivery).where(col(WebhookDelivery.id).in_(batch)))


def _empty_bodies(session: Session, before: datetime, limit: int) -> int:
    batch = _oldest_deliveries(BODY_KEPT, before, limit)
    return _run(
        session,
        update(WebhookDelivery)
        .where(col(WebhookDelivery.id).in_(batch))
        .values(body="", headers={}),
    )


def _delete_done_jobs(session: Session, limit: int, *, lane: str, before: datetime) -> int:
    # Found through ix_job_due (lane, status, available_at); when it finished (updated_at) decides.
    finished: list[ColumnElement[bool]] = [
        col(Job.lane) == lane,
        col(Job.status) == "done",
        col(Job.available_at) < before,
        col(Job.updated_at) < before,
    ]
    batch = select(Job.id).where(*finished).order_by(col(Job.available_at)).limit(limit)
    return _run(session, delete(Job).where(col(Job.id).in_(batch)))


def _run(session: Session, statement: Delete | Update) -> int:
    """Rows the statement touched. Nothing loaded is kept in step with it (the session holds
    none of these rows), so the ORM asks for no RETURNING list of every id."""
    result = session.execute(statement, execution_options={"synchronize_session": False})
    return int(result.rowcount)  # type: ignore[attr-defined]
