"""The job worker: lease due jobs, run them, back off, park the hopeless ones.

Two lanes share one table: inbound jobs (applying webhook deliveries) are claimed first and
never wait for an integration's rate-limit pause or concurrency cap, which pace only the
outbound lane (tracker calls). Leasing is safe with any number of workers and API replicas on
one PostgreSQL (row locks with SKIP LOCKED); on SQLite, BEGIN IMMEDIATE serialises the claim
instead. A job whose worker died is taken over when its lease runs out.

One worker process runs `runners` threads (FOLLOWTHROUGH_SYNC__RUNNERS, or `followthrough worker
--threads`) that each run one job at a time, fed by one claiming thread that leases as many due
jobs as there are idle runners, so an integration gets as many jobs at once as its
`max_concurrency` allows. Claiming an outbound job locks its integration's row, so the count
of its running jobs, its pause and its write budget (app/sync/budget.py) are read and spent by
one claimer at a time across every process. The claiming thread waits for a wake-up
(app/sync/wakeup.py) when nothing is due, with the poll interval as the fallback.
"""

from __future__ import annotations

import logging
import os
import queue
import random
import secrets
import socket
import threading
import time
from datetime import datetime, timedelta
from uuid import UUID

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, or_, select

from app import retention
from app.action_items.models import ActionItem
from app.crypto import SecretBox
from app.db import session_scope, utcnow
from app.idempotency import store as idempotency_store
from app.integrations.models import Integration
from app.metrics import SYNC_BUDGET_WAITS, SYNC_LATENCY
from app.settings import Settings, SyncPolicy
from app.sync import budget, jobs, sqlite_writes, wakeup
from app.sync import engine as sync_engine
from app.sync.handlers import handler_for
from app.sync.jobs import OUTBOUND
from app.sync.models import Job
from app.sync.reconcile import reconcile
from app.tickets import links
from connectors.base import MalformedPayload, PermanentConnectorError, RetryableConnectorError

logger = logging.getLogger("followthrough.worker")


def backoff_seconds(attempts: int, policy: SyncPolicy, retry_after: float | None = None) -> float:
    """Exponential backoff with full jitter in its upper half; never sooner than the tracker asked."""
    ceiling = min(
        policy.backoff_cap_seconds, policy.backoff_base_seconds * 2 ** max(attempts - 1, 0)
    )
    delay = ceiling * random.uniform(0.5, 1.0)  # noqa: S311 - jitter, not security
    return max(delay, retry_after or 0.0)


class Worker:
    """The sync worker of one process: `run_forever` runs the runner threads and the periodic
    housekeeping; `run_once` claims and runs in the caller's thread (tests, tools)."""

    def __init__(
        self,
        db: Engine,
        settings: Settings,
        *,
        name: str | None = None,
        wake: wakeup.Wakeup | None = None,
    ) -> None:
        self.db = db
        sqlite_writes.install(db)
        self.settings = settings
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"
        self.connectors = sync_engine.ConnectorCache(
            SecretBox(settings.resolved_secret_key()), settings.egress
        )
        # Without wake-ups, a Wakeup of its own that nothing signals but stop().
        self.wakeup = wake or (wakeup.LOCAL if settings.sync.wake_on_enqueue else wakeup.Wakeup())
        # Set once this worker listens for PostgreSQL notifications (or at once on SQLite).
        self.listening = threading.Event()
        self._stop = threading.Event()
        # Runners waiting for a job; the claiming thread leases at most this many at once.
        self._idle = threading.Condition()
        self._free = 0

    # -- claiming --------------------------------------------------------------------------

    def claim(self, limit: int = 1, *, owner: str | None = None) -> list[Job]:
        """Lease up to `limit` due jobs, respecting each integration's pause, concurrency and
        write budget."""
        return self._claim(limit, owner or self.name)[0]

    def _claim(self, limit: int, owner: str) -> tuple[list[Job], datetime | None]:
        """The leased jobs, and when the soonest job held back by write spacing may go."""
        now = utcnow()
        policy = self.settings.sync
        with session_scope(self.db) as session:
            integrations = {i.id: i for i in session.exec(select(Integration)).all()}
            pacing = {i.id: budget.pacing_for(i, policy) for i in integrations.values()}
            busy = self._busy_by_integration(session, now)
            # Outbound jobs of these integrations cannot be claimed now; leave them unlocked.
            blocked = [
                i.id
                for i in integrations.values()
                if (i.paused_until is not None and i.paused_until > now)
                or busy.get(i.id, 0) >= budget.concurrency(i, pacing[i.id])
            ]
            query = select(Job).where(
                or_(
                    (col(Job.status) == "pending") & (col(Job.available_at) <= now),
                    (col(Job.status) == "leased") & (col(Job.leased_until) < now),
                )
            )
            if blocked:
                query = query.where(
                    or_(
                        col(Job.lane) != OUTBOUND,
                        col(Job.integration_id).is_(None),
                        col(Job.integration_id).not_in(blocked),
                    )
                )
            due = session.exec(
                # "inbound" sorts before "outbound": deliveries are applied first.
                query.order_by(col(Job.lane), col(Job.available_at))
                # Room for a few held back by a write budget; capped integrations are out.
                .limit(limit + 4)
                .with_for_update(skip_locked=True)
            ).all()
            if not due:
                return [], None
            paced = sorted(
                {
                    e.integration_id
                    for e in due
                    if e.lane == OUTBOUND and e.integration_id in integrations
                },
                key=str,
            )
            if paced and self.db.dialect.name != "sqlite":
                # One claimer per integration at a time, so that what it counts stays true
                # until it commits (SQLite's BEGIN IMMEDIATE already serialises claims).
                locked = session.exec(
                    select(Integration)
                    .where(col(Integration.id).in_(paced))
                    .order_by(col(Integration.id))
                    # NO KEY UPDATE: tickets being linked to it (a foreign key) do not wait.
                    .with_for_update(key_share=True)
                    .execution_options(populate_existing=True)
                ).all()
                integrations.update({i.id: i for i in locked})
                busy = self._busy_by_integration(session, now)
            holds: dict[UUID, budget.Hold | None] = {}
            claimed: list[Job] = []
            soonest: datetime | None = None
            for entry in due:
                paced_claim = False
                integration = (
                    integrations.get(entry.integration_id) if entry.integration_id else None
                )
                if integration is not None and entry.lane == OUTBOUND:
                    if integration.paused_until is not None and integration.paused_until > now:
                        continue
                    cap = budget.concurrency(integration, pacing[integration.id])
                    if busy.get(integration.id, 0) >= cap:
                        continue
                    held = self._hold(session, integration, pacing[integration.id], holds, now)
                    if held is not None:
                        if held.spent is None:
                            soonest = held.until if soonest is None else min(soonest, held.until)
                        else:
                            budget.hold_back(session, entry, integration.name, held)
                            SYNC_BUDGET_WAITS.labels(integration.name).inc()
                        continue
                    busy[integration.id] = busy.get(integration.id, 0) + 1
                    if pacing[integration.id] is not None:
                        # The next entry's budget check must see this write in the window.
                        holds.pop(integration.id, None)
                        paced_claim = True
                entry.status = "leased"
                entry.leased_until = now + timedelta(seconds=policy.lease_seconds)
                # One owner per lease, so that only the runner holding it can finish the job.
                entry.lease_owner = f"{owner}/{secrets.token_hex(4)}"
                entry.updated_at = now
                session.add(entry)
                if paced_claim:
                    session.flush()
                claimed.append(entry)
                if len(claimed) >= limit:
                    break
            return claimed, soonest

    @staticmethod
    def _hold(
        session: Session,
        integration: Integration,
        pacing: budget.Pacing | None,
        holds: dict[UUID, budget.Hold | None],
        now: datetime,
    ) -> budget.Hold | None:
        if pacing is None:
            return None
        if integration.id not in holds:
            holds[integration.id] = budget.hold(session, integration.id, pacing, now)
        return holds[integration.id]

    @staticmethod
    def _busy_by_integration(session: Session, now: object) -> dict[UUID, int]:
        rows = session.exec(
            select(Job.integration_id, func.count())
            .where(
                col(Job.status) == "leased",
                col(Job.leased_until) >= now,
                col(Job.lane) == OUTBOUND,
            )
            .group_by(col(Job.integration_id))
        ).all()
        return {
            integration_id: count for integration_id, count in rows if integration_id is not None
        }

    # -- running ---------------------------------------------------------------------------

    def run_once(self, limit: int = 1) -> int:
        """Claim and run what is due now, one job after another; returns how many jobs ran."""
        entries = self.claim(limit)
        for entry in entries:
            self._run(entry)
        return len(entries)

    def _run(self, entry: Job) -> None:
        try:
            outcome = handler_for(entry).run(self.db, entry, self.settings, self.connectors)
        except RetryableConnectorError as exc:
            self._failed(entry, exc.message, retry_after=exc.retry_after, permanent=False)
        except PermanentConnectorError as exc:
            self._failed(entry, exc.message, retry_after=None, permanent=True)
        except sync_engine.NothingToRoute as exc:
            self._failed(entry, str(exc), retry_after=None, permanent=True)
        except MalformedPayload as exc:
            # A stored delivery that cannot be read now will not be readable on a retry.
            self._failed(
                entry,
                f"the stored delivery cannot be read: {exc}",
                retry_after=None,
                permanent=True,
            )
        except Exception as exc:
            # A bug or a lost database must not kill the loop; the job is retried with backoff.
            logger.exception("sync job %s failed unexpectedly", entry.id)
            self._failed(
                entry, f"internal error: {type(exc).__name__}", retry_after=None, permanent=False
            )
        else:
            if outcome.done:
                if not outcome.finished:
                    self._finish(entry)
                if entry.lane == OUTBOUND:
                    SYNC_LATENCY.labels(entry.kind).observe(
                        (utcnow() - entry.created_at).total_seconds()
                    )
            else:
                self._later(entry, outcome.retry_in or self.settings.sync.poll_seconds)

    def _finish(self, entry: Job) -> None:
        with session_scope(self.db) as session:
            jobs.Lease.of(entry).finish(session)

    def _later(self, entry: Job, seconds: float) -> None:
        with session_scope(self.db) as session:
            row = session.get(Job, entry.id, with_for_update=True)
            if row is None or row.lease_owner != entry.lease_owner:
                return
            row.status = "pending"
            row.available_at = utcnow() + timedelta(seconds=seconds)
            row.leased_until = None
            row.updated_at = utcnow()
            session.add(row)

    def _failed(
        self, entry: Job, message: str, *, retry_after: float | None, permanent: bool
    ) -> None:
        policy = self.settings.sync
        with session_scope(self.db) as session:
            row = session.get(Job, entry.id, with_for_update=True)
            if row is None or row.lease_owner != entry.lease_owner:
                return
            row.attempts += 1
            row.last_error = message
            row.leased_until = None
            row.updated_at = utcnow()
            if permanent or row.attempts >= policy.max_attempts:
                row.status = "dead"
                handler_for(row).parked(session, row, message)
                logger.warning(
                    "%s job %s parked after %d attempt(s): %s",
                    row.kind,
                    row.id,
                    row.attempts,
                    message,
                )
            else:
                row.status = "pending"
                delay = backoff_seconds(row.attempts, policy, retry_after)
                row.available_at = utcnow() + timedelta(seconds=delay)
                item = session.get(ActionItem, row.action_item_id) if row.action_item_id else None
                if item is not None:
                    links.note_retrying(session, item, message)
                if retry_after and row.integration_id is not None and row.lane == OUTBOUND:
                    # The tracker asked the whole integration to slow down, not just this job.
                    integration = session.get(Integration, row.integration_id, with_for_update=True)
                    if integration is not None:
                        integration.paused_until = utcnow() + timedelta(seconds=retry_after)
                        session.add(integration)
            session.add(row)

    # -- loop ------------------------------------------------------------------------------

    def run_forever(self, runners: int | None = None) -> None:
        """Run `runners` (default FOLLOWTHROUGH_SYNC__RUNNERS) threads fed by one claiming
        thread, listen for new jobs on PostgreSQL, and do the periodic housekeeping here until
        `stop()`."""
        count = runners or self.settings.sync.runners
        logger.info("sync worker %s started with %d runner(s)", self.name, count)
        ready: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        threads = [
            threading.Thread(target=self._runner, args=(ready,), name=f"sync-runner-{n}")
            for n in range(count)
        ]
        threads.append(
            threading.Thread(target=self._dispatch, args=(ready, count), name="sync-claimer")
        )
        if self.db.dialect.name == "postgresql" and self.settings.sync.wake_on_enqueue:
            threads.append(threading.Thread(target=self._listen, name="sync-listener"))
        else:
            self.listening.set()
        for thread in threads:
            thread.daemon = True
            thread.start()
        self._housekeeping()
        self.wakeup.notify()
        with self._idle:
            self._idle.notify_all()
        for _ in range(count):
            ready.put(None)
        deadline = time.monotonic() + self.settings.sync.lease_seconds
        for thread in threads:
            thread.join(timeout=max(deadline - time.monotonic(), 0.1))

    def _listen(self) -> None:
        poll = self.settings.sync.poll_seconds
        wakeup.listen(self.db, self.wakeup, self._stop, poll, listening=self.listening)

    def _dispatch(self, ready: queue.SimpleQueue[Job | None], runners: int) -> None:
        """Lease as many due jobs as there are idle runners, in one transaction, and hand them
        out; wait for a wake-up (a job queued, a runner done) or the poll when none is due.
        One claim for several jobs keeps claims (and the integration row lock) few."""
        sqlite_writes.queue_this_thread()
        poll = self.settings.sync.poll_seconds
        self._free = runners
        while not self._stop.is_set():
            with self._idle:
                self._idle.wait_for(lambda: self._free > 0 or self._stop.is_set())
                free = self._free
            if self._stop.is_set():
                return
            seen = self.wakeup.generation
            soonest: datetime | None = None
            try:
                entries, soonest = self._claim(free, self.name)
            except Exception:
                logger.exception("sync worker %s could not claim; retrying", self.name)
                entries = []
            if entries:
                with self._idle:
                    self._free -= len(entries)
                for entry in entries:
                    ready.put(entry)
                continue
            wait = poll
            if soonest is not None:
                wait = min(wait, max((soonest - utcnow()).total_seconds(), 0.01))
            self.wakeup.wait(seen, wait)

    def _runner(self, ready: queue.SimpleQueue[Job | None]) -> None:
        """Run the jobs the claiming thread hands out, one at a time."""
        sqlite_writes.queue_this_thread()
        while (entry := ready.get()) is not None:
            try:
                self._run(entry)
            except Exception:
                logger.exception("sync job %s failed in its runner", entry.id)
            with self._idle:
                self._free += 1
                self._idle.notify_all()
            # The claimer may be waiting for the poll with jobs held back by this one.
            self.wakeup.notify()

    def _housekeeping(self) -> None:
        interval = self.settings.sync.reconcile_interval_seconds
        next_reconcile = time.monotonic() + interval
        limits = self.settings.limits
        next_purge = next_retention = time.monotonic()
        while not self._stop.is_set():
            try:
                if interval and time.monotonic() >= next_reconcile:
                    next_reconcile = time.monotonic() + interval
                    reconcile(self.db, self.connectors)
                if time.monotonic() >= next_purge:
                    # Expired keys are already ignored when claimed; this only frees the rows.
                    next_purge = time.monotonic() + limits.idempotency_purge_seconds
                    idempotency_store.purge_expired(
                        self.db, timedelta(hours=limits.idempotency_key_hours)
                    )
                if time.monotonic() >= next_retention:
                    next_retention = time.monotonic() + self.settings.retention.purge_seconds
                    retention.purge(self.db, self.settings.retention)
            except Exception:
                logger.exception("sync worker housekeeping failed; retrying")
            due = [next_purge, next_retention] + ([next_reconcile] if interval else [])
            self._stop.wait(max(min(due) - time.monotonic(), 0.05))

    def stop(self) -> None:
        self._stop.set()
        self.wakeup.notify()
        with self._idle:
            self._idle.notify_all()


def start_in_background(db: Engine, settings: Settings) -> Worker:
    """The worker inside the API process (the default single-process set-up)."""
    worker = Worker(db, settings)
    threading.Thread(target=worker.run_forever, name="sync-worker", daemon=True).start()
    return worker
