"""Group commit for the webhook inbox: one writer thread per app stores every delivery that
arrived while its previous commit ran, in one transaction, and only then are they answered.

A delivery is verified and parsed in its request (CPU work, app/webhooks/ingest.py); the request
then awaits a future while the writer inserts the batch (ON CONFLICT DO NOTHING on the inbox's
unique (integration_id, delivery_id), RETURNING the rows that were new), bumps `redeliveries` of
the duplicates, queues an inbound job for each new delivery that has events, and commits. Every
202 therefore stands for a committed row. One transaction per batch instead of per delivery is
what lets the inbox keep up with a busy tracker: SQLite lets one writer in at a time, and
PostgreSQL pays its round trips and WAL flush once per batch.

On SQLite the writer queues on the sync worker's write lock (app/sync/sqlite_writes.py): it
begins and commits every transaction in its one thread, which is what that lock needs, and
waiting on a Python lock lets it in the moment a runner's commit ends, where SQLite's busy
handler would sleep in steps of up to 100 ms and give every delivery of the batch that delay.

The queue is bounded: past `queue_size` waiting deliveries the answer is 503 with Retry-After.
A batch whose connection was lost (a PostgreSQL restart) is written once more on a new one; a
batch that fails otherwise is written one delivery at a time, so one row the database refuses
fails only its own request; a delivery that cannot be stored is answered 503, never 202.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from fastapi import Request
from fastapi.responses import JSONResponse
from sqlalchemy import Table, bindparam, insert, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlmodel import col, select

from app.errors import AppError, NotFound, problem
from app.integrations.models import Integration
from app.sync import jobs, sqlite_writes, wakeup
from app.sync.models import Job
from app.webhooks.models import WebhookDelivery

logger = logging.getLogger("followthrough.webhooks")

INBOX: Table = WebhookDelivery.__table__  # type: ignore[attr-defined]
JOBS: Table = Job.__table__  # type: ignore[attr-defined]
RETRY_AFTER_SECONDS = 1


class InboxBusy(AppError):
    """503 with Retry-After: the delivery was not stored; the tracker should send it again."""

    status_code = 503
    title = "Service unavailable"


@dataclass
class Arrival:
    """A verified delivery, as its inbox row will hold it."""

    integration_id: UUID
    delivery_id: str
    event: str
    body: str
    headers: dict[str, Any]
    # It has events to apply (a job is queued); otherwise it is stored as ignored.
    applies: bool
    received_at: datetime
    row_id: UUID = field(default_factory=uuid4)

    def row(self) -> dict[str, Any]:
        return {
            "id": self.row_id,
            "integration_id": self.integration_id,
            "delivery_id": self.delivery_id,
            "event": self.event,
            "body": self.body,
            "headers": self.headers,
            "received_at": self.received_at,
            "outcome": "received" if self.applies else "ignored",
            "detail": None if self.applies else "event type not used",
            "processed_at": None if self.applies else self.received_at,
            "redeliveries": 0,
        }


@dataclass(frozen=True)
class Stored:
    # "accepted" | "ignored" | "duplicate"
    status: str
    row_id: UUID | None


Outcome = Stored | AppError
_Waiting = tuple[Arrival, asyncio.AbstractEventLoop, "asyncio.Future[Stored]"]


class InboxWriter:
    def __init__(self, engine: Engine, *, batch_size: int = 256, queue_size: int = 4096) -> None:
        self._engine = engine
        self._batch_size = batch_size
        self._queue_size = queue_size
        self._waiting: collections.deque[_Waiting] = collections.deque()
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._insert = _insert_new_rows(engine.dialect.name)

    def start(self) -> None:
        with self._changed:
            self._start()

    def _start(self) -> None:
        if self._thread is None:
            self._stopping = False
            self._thread = threading.Thread(
                target=self._run, name="webhook-inbox-writer", daemon=True
            )
            self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Store and answer every delivery already waiting, then end the thread."""
        with self._changed:
            thread = self._thread
            self._stopping = True
            self._changed.notify_all()
        if thread is not None:
            thread.join(timeout)
        with self._changed:
            self._thread = None

    @property
    def waiting(self) -> int:
        """Deliveries queued and not yet taken into a batch."""
        return len(self._waiting)

    async def store(self, arrival: Arrival) -> Stored:
        """Store the delivery with the batch it joins; returns once that batch has committed."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Stored] = loop.create_future()
        with self._changed:
            if self._stopping:
                raise InboxBusy(
                    "The service is shutting down and stored nothing; send the delivery again"
                )
            if len(self._waiting) >= self._queue_size:
                raise InboxBusy(
                    f"{len(self._waiting)} deliveries are waiting to be stored, the most this"
                    " process queues; nothing was stored, send the delivery again"
                )
            # Started by the app's lifespan; an app run without one (a TestClient outside a
            # with-block) starts it with its first delivery.
            self._start()
            self._waiting.append((arrival, loop, future))
            self._changed.notify()
        return await future

    def _run(self) -> None:
        sqlite_writes.install(self._engine)
        sqlite_writes.queue_this_thread()
        while True:
            with self._changed:
                while not self._waiting and not self._stopping:
                    self._changed.wait()
                if not self._waiting:
                    return
                take = min(len(self._waiting), self._batch_size)
                batch = [self._waiting.popleft() for _ in range(take)]
            outcomes = self._store([arrival for arrival, _, _ in batch])
            _answer(batch, outcomes)

    def _store(self, arrivals: Sequence[Arrival]) -> list[Outcome]:
        try:
            return self._write_retrying(arrivals)
        except OperationalError as exc:
            # The database itself is failing (down, locked, out of space): so would each alone.
            return _unavailable(arrivals, exc)
        except Exception as exc:
            if len(arrivals) == 1:
                return _unavailable(arrivals, exc)
        # One delivery the database refuses must not fail the rest of its batch.
        return [self._store([arrival])[0] for arrival in arrivals]

    def _write_retrying(self, arrivals: Sequence[Arrival]) -> list[Outcome]:
        """Write the batch; again after a foreign key failed (an integration was deleted since
        its deliveries were verified), this time looking for the integrations first; and again
        on a new connection after the connection was lost."""
        lost = looking = False
        while True:
            try:
                return self._write(arrivals, again=lost, look_for_integrations=looking)
            except IntegrityError:
                if looking:
                    raise
                looking = True
            except DBAPIError as exc:
                if lost or not exc.connection_invalidated:
                    raise
                lost = True
                # SQLAlchemy has invalidated the pool: the next checkout opens a new connection.
                logger.warning(
                    "webhook inbox: the database connection was lost (%s); writing %d"
                    " deliveries again on a new one",
                    type(exc.orig).__name__,
                    len(arrivals),
                )

    def _write(
        self, arrivals: Sequence[Arrival], *, again: bool, look_for_integrations: bool
    ) -> list[Outcome]:
        # A Core connection, not an ORM session: nothing here needs the ORM's bookkeeping.
        with self._engine.begin() as conn:
            # Not in the common case: a round trip per batch (13% of the writer's samples on
            # PostgreSQL) for what the foreign key checks anyway.
            wanted = {a.integration_id for a in arrivals}
            present = _integrations_present(conn, wanted) if look_for_integrations else wanted
            outcomes: list[Outcome | None] = [None] * len(arrivals)
            first: dict[tuple[UUID, str], int] = {}
            repeats: collections.Counter[tuple[UUID, str]] = collections.Counter()
            for index, arrival in enumerate(arrivals):
                key = (arrival.integration_id, arrival.delivery_id)
                if arrival.integration_id not in present:
                    outcomes[index] = NotFound(f"No integration with id {arrival.integration_id}")
                elif key in first:
                    repeats[key] += 1
                else:
                    first[key] = index
            to_apply: list[Arrival] = []
            if first:
                rows = [arrivals[i].row() for i in first.values()]
                new = set(conn.execute(self._insert, rows).scalars())
                # After a lost connection the first attempt may have committed: its rows (and
                # their jobs) are there under our own ids.
                landed = _landed_before(conn, rows, new) if again else set()
                for key, index in first.items():
                    arrival = arrivals[index]
                    if arrival.row_id in new or arrival.row_id in landed:
                        status = "accepted" if arrival.applies else "ignored"
                        outcomes[index] = Stored(status, arrival.row_id)
                        if arrival.applies and arrival.row_id in new:
                            to_apply.append(arrival)
                    else:
                        repeats[key] += 1
            if to_apply:
                _queue_jobs(conn, to_apply)
            if repeats:
                conn.execute(
                    _COUNT_REDELIVERIES,
                    [
                        {"b_integration": i, "b_delivery": d, "b_repeats": n}
                        for (i, d), n in repeats.items()
                    ],
                )
        if to_apply:
            wakeup.LOCAL.notify()
        duplicate = Stored("duplicate", None)
        return [duplicate if outcome is None else outcome for outcome in outcomes]


def _insert_new_rows(dialect: str) -> Any:
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return (
        insert(INBOX)
        .on_conflict_do_nothing(index_elements=["integration_id", "delivery_id"])
        .returning(INBOX.c.id)
    )


_COUNT_REDELIVERIES = (
    update(INBOX)
    .where(
        INBOX.c.integration_id == bindparam("b_integration"),
        INBOX.c.delivery_id == bindparam("b_delivery"),
    )
    .values(redeliveries=INBOX.c.redeliveries + bindparam("b_repeats"))
)


def _queue_jobs(conn: Connection, arrivals: list[Arrival]) -> None:
    """An inbound job per delivery, as jobs.enqueue_delivery makes it, in one executemany: an
    ORM Job each (SQLModel's constructor and the flush) was 40 % of the writer's time. The
    model's defaults are read once per batch, so a column added with a default gets it here
    too. The workers are woken as for any queued job (app/sync/wakeup.py): NOTIFY inside the
    transaction on PostgreSQL, and this process's own workers after the commit."""
    template = {
        name: field.get_default(call_default_factory=True)
        for name, field in Job.model_fields.items()
    }
    template.update(kind=jobs.APPLY_DELIVERY, lane=jobs.INBOUND)
    rows = [
        template | {"id": uuid4(), "delivery_id": a.row_id, "integration_id": a.integration_id}
        for a in arrivals
    ]
    conn.execute(insert(JOBS), rows)
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"NOTIFY {wakeup.CHANNEL}")


def _integrations_present(conn: Connection, wanted: set[UUID]) -> set[UUID]:
    """Which of the integrations still exist. On PostgreSQL their rows are locked KEY SHARE
    until the commit, so a delete that comes now waits for it instead of failing the insert's
    foreign key a second time; SQLite's writer already holds the only write lock."""
    query = select(Integration.id).where(col(Integration.id).in_(wanted))
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(key_share=True)
    return set(conn.execute(query).scalars())


def _landed_before(conn: Connection, rows: list[dict[str, Any]], new: set[UUID]) -> set[UUID]:
    missing = [row["id"] for row in rows if row["id"] not in new]
    if not missing:
        return set()
    query = select(WebhookDelivery.id).where(col(WebhookDelivery.id).in_(missing))
    return set(conn.execute(query).scalars())


def _unavailable(arrivals: Sequence[Arrival], exc: Exception) -> list[Outcome]:
    reason = type(getattr(exc, "orig", None) or exc).__name__
    logger.error(
        "webhook inbox: %d deliveries could not be stored (%s: %s)",
        len(arrivals),
        reason,
        str(getattr(exc, "orig", None) or exc)[:300],
    )
    return [
        InboxBusy(
            f"The delivery could not be stored: the database refused the write ({reason});"
            " nothing was kept, send it again"
        )
        for _ in arrivals
    ]


def _answer(batch: list[_Waiting], outcomes: list[Outcome]) -> None:
    """Resolve each request's future on its own event loop, one wake-up per loop."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Stored], Outcome]]] = {}
    for (_, loop, future), outcome in zip(batch, outcomes, strict=True):
        by_loop.setdefault(loop, []).append((future, outcome))
    for loop, answers in by_loop.items():
        try:
            loop.call_soon_threadsafe(_settle, answers)
        except RuntimeError:
            # The loop is closed: its requests are gone, and their rows are stored or not as
            # the outcome says (a tracker's redelivery is then a duplicate).
            continue


def _settle(answers: list[tuple[asyncio.Future[Stored], Outcome]]) -> None:
    for future, outcome in answers:
        if future.done():
            # The request was cancelled (its client went away) while it waited.
            continue
        if isinstance(outcome, Stored):
            future.set_result(outcome)
        else:
            future.set_exception(outcome)


async def render_busy(request: Request, exc: Exception) -> JSONResponse:
    """InboxBusy as problem+json with Retry-After."""
    assert isinstance(exc, InboxBusy)
    return problem(
        exc.status_code,
        exc.title,
        exc.detail,
        instance=request.url.path,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )
