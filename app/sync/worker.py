"""The job worker: lease due jobs, run them, back off, park the hopeless ones.

Two lanes share one table: inbound jobs (applying webhook deliveries) are claimed first and
never wait for an integration's rate-limit pause or concurrency cap, which pace only the
outbound lane (tracker calls). Leasing is safe with any number of workers and API replicas on
one PostgreSQL (row locks with SKIP LOCKED); on SQLite, BEGIN IMMEDIATE serialises the claim
instead. A job whose worker died is taken over when its lease runs out.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import time
from datetime import timedelta
from uuid import UUID

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, or_, select

from app.action_items.models import ActionItem
from app.crypto import SecretBox
from app.db import session_scope, utcnow
from app.idempotency import store as idempotency_store
from app.integrations.models import Integration
from app.metrics import SYNC_LATENCY
from app.settings import Settings, SyncPolicy
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
    def __init__(self, db: Engine, settings: Settings, *, name: str | None = None) -> None:
        self.db = db
        self.settings = settings
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"
        self.connectors = sync_engine.ConnectorCache(
            SecretBox(settings.resolved_secret_key()), settings.egress
        )
        self._stop = threading.Event()

    # -- claiming --------------------------------------------------------------------------

    def claim(self, limit: int = 1) -> list[Job]:
        """Lease up to `limit` due jobs, respecting each integration's pause and concurrency."""
        now = utcnow()
        policy = self.settings.sync
        with session_scope(self.db) as session:
            due = session.exec(
                select(Job)
                .where(
                    or_(
                        (col(Job.status) == "pending") & (col(Job.available_at) <= now),
                        (col(Job.status) == "leased") & (col(Job.leased_until) < now),
                    )
                )
                # "inbound" sorts before "outbound": deliveries are applied first.
                .order_by(col(Job.lane), col(Job.available_at))
                .limit(limit * 10)
                .with_for_update(skip_locked=True)
            ).all()
            if not due:
                return []
            busy = self._busy_by_integration(session, now)
            integrations = {i.id: i for i in session.exec(select(Integration)).all()}
            claimed: list[Job] = []
            for entry in due:
                integration = (
                    integrations.get(entry.integration_id) if entry.integration_id else None
                )
                if integration is not None and entry.lane == OUTBOUND:
                    if integration.paused_until is not None and integration.paused_until > now:
                        continue
                    if busy.get(integration.id, 0) >= integration.max_concurrency:
                        continue
                    busy[integration.id] = busy.get(integration.id, 0) + 1
                entry.status = "leased"
                entry.leased_until = now + timedelta(seconds=policy.lease_seconds)
                entry.lease_owner = self.name
                entry.updated_at = now
                session.add(entry)
                claimed.append(entry)
                if len(claimed) >= limit:
                    break
            return claimed

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
        """Claim and run what is due now; returns how many jobs ran."""
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
                self._finish(entry)
                if entry.lane == OUTBOUND:
                    SYNC_LATENCY.labels(entry.kind).observe(
                        (utcnow() - entry.created_at).total_seconds()
                    )
            else:
                self._later(entry, outcome.retry_in or self.settings.sync.poll_seconds)

    def _finish(self, entry: Job) -> None:
        with session_scope(self.db) as session:
            row = session.get(Job, entry.id, with_for_update=True)
            if row is None or row.lease_owner != self.name:
                return
            row.status = "done"
            row.leased_until = None
            row.last_error = None
            row.updated_at = utcnow()
            session.add(row)

    def _later(self, entry: Job, seconds: float) -> None:
        with session_scope(self.db) as session:
            row = session.get(Job, entry.id, with_for_update=True)
            if row is None or row.lease_owner != self.name:
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
            if row is None or row.lease_owner != self.name:
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

    def run_forever(self) -> None:
        logger.info("sync worker %s started", self.name)
        interval = self.settings.sync.reconcile_interval_seconds
        next_reconcile = time.monotonic() + interval
        limits = self.settings.limits
        next_purge = time.monotonic()
        while not self._stop.is_set():
            try:
                ran = self.run_once(limit=1)
                if interval and time.monotonic() >= next_reconcile:
                    next_reconcile = time.monotonic() + interval
                    reconcile(self.db, self.connectors)
                if time.monotonic() >= next_purge:
                    # Expired keys are already ignored when claimed; this only frees the rows.
                    next_purge = time.monotonic() + limits.idempotency_purge_seconds
                    idempotency_store.purge_expired(
                        self.db, timedelta(hours=limits.idempotency_key_hours)
                    )
            except Exception:
                logger.exception("sync worker iteration failed; retrying")
                ran = 0
            if not ran:
                self._stop.wait(self.settings.sync.poll_seconds)

    def stop(self) -> None:
        self._stop.set()


def start_in_background(db: Engine, settings: Settings) -> Worker:
    worker = Worker(db, settings)
    threading.Thread(target=worker.run_forever, name="sync-worker", daemon=True).start()
    return worker
