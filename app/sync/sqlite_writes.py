"""On SQLite, the threads of one process queue for the write lock on a Python lock.

SQLite lets one writer in at a time (app/db.py begins every write with BEGIN IMMEDIATE); a
writer that finds the lock taken sleeps in SQLite's busy handler, in steps that grow to 100 ms,
and retries. With the worker's runner threads and the API writing at once, most of a runner's
time went to those sleeps (profile: 80 % of it waiting in BEGIN IMMEDIATE) while the lock itself
was mostly free. Queued on a Python lock instead, the next runner starts the moment the last one
ends (the COMMIT is sent inside the lock). Other writers (API requests, other processes) still
meet the runners in SQLite's busy handler, as before.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from app.db import READ_ONLY

_HELD = "followthrough_write_lock_held"
# Only the worker's own threads queue on the lock: each of them begins and ends a transaction
# in the same thread, which an API request (session opened and committed in different threads
# of the server's pool) does not promise.
_queued = threading.local()


def queue_this_thread() -> None:
    """Writes from the calling thread (a worker thread) queue on the process's write lock."""
    _queued.on = True


_installed: weakref.WeakSet[Engine] = weakref.WeakSet()
_install_lock = threading.Lock()


def install(engine: Engine) -> None:
    """Queue this process's writers to a SQLite engine on one lock (once per engine)."""
    if engine.dialect.name != "sqlite":
        return
    with _install_lock:
        if engine in _installed:
            return
        _installed.add(engine)
    lock = threading.RLock()

    def acquire(conn: Connection) -> None:
        if not getattr(_queued, "on", False) or conn.get_execution_options().get(READ_ONLY):
            return
        lock.acquire()
        conn.info[_HELD] = True

    def commit(conn: Connection) -> None:
        if not conn.info.get(_HELD):
            return
        try:
            # Sent here, so that the lock is free only once it is done; SQLAlchemy's own
            # COMMIT that follows finds no transaction open and does nothing.
            conn.connection.dbapi_connection.commit()  # type: ignore[union-attr]
        finally:
            conn.info.pop(_HELD, None)
            lock.release()

    def rollback(conn: Connection) -> None:
        if not conn.info.get(_HELD):
            return
        try:
            conn.connection.dbapi_connection.rollback()  # type: ignore[union-attr]
        finally:
            conn.info.pop(_HELD, None)
            lock.release()

    def released_on_checkin(_dbapi: Any, record: Any) -> None:
        # A connection returned with its transaction never ended by commit or rollback.
        if record.info.pop(_HELD, False):
            lock.release()

    # Before app/db.py's listener sends BEGIN IMMEDIATE.
    event.listen(engine, "begin", acquire, insert=True)
    event.listen(engine, "commit", commit)
    event.listen(engine, "rollback", rollback)
    event.listen(engine.pool, "checkin", released_on_checkin)
