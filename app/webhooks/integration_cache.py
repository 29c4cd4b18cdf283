"""What a webhook delivery needs of its integration (kind, options, the opened secret), kept in
the process so that a delivery reads no row and decrypts nothing.

An entry goes at once when this process commits a change to its integration (any session: the
admin API, the webhook set-up, the worker), and on its own after `ttl_seconds`, for changes made
by other processes that share the database. A delivery whose signature does not verify with a
cached secret reloads the integration once before it is refused (the secret may have been
rotated by another process; see app/webhooks/ingest.py).
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from app.crypto import SecretBox
from app.db import session_scope
from app.errors import NotFound
from app.integrations.models import Integration
from connectors.base import TrackerKind

_CHANGED = "followthrough_integrations_changed"


@dataclass(frozen=True)
class ReceivingIntegration:
    """An integration as a delivery sees it. The secret is left out of repr (never logged)."""

    id: UUID
    kind: TrackerKind
    options: Mapping[str, Any]
    secret: str | None = field(repr=False)
    # Whether it came from the cache (and may be stale) or straight from the database.
    cached: bool = field(default=False, compare=False)


class IntegrationCache:
    def __init__(
        self,
        engine: Engine,
        box: SecretBox,
        ttl_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._engine = engine
        self._box = box
        self._ttl = ttl_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: dict[UUID, tuple[float, ReceivingIntegration]] = {}
        # Bumped by every invalidation: a load that began before one does not store its
        # (possibly older) result.
        self._generation = 0
        _CACHES.add(self)

    def get(self, integration_id: UUID) -> ReceivingIntegration | None:
        """The cached integration when it is younger than the TTL; else None (load it)."""
        entry = self._entries.get(integration_id)
        if entry is None or self._clock() - entry[0] >= self._ttl:
            return None
        return entry[1]

    def load(self, integration_id: UUID) -> ReceivingIntegration:
        """Read the integration from the database (blocking) and keep it; NotFound (404) when
        there is none."""
        with self._lock:
            generation = self._generation
        loaded_at = self._clock()
        with session_scope(self._engine, read_only=True) as session:
            row = session.get(Integration, integration_id)
            if row is None:
                raise NotFound(f"No integration with id {integration_id}")
            sealed, kind, options = row.webhook_secret_sealed, row.kind, dict(row.options)
        fresh = ReceivingIntegration(
            id=integration_id,
            kind=TrackerKind(kind),
            options=options,
            secret=self._box.open(sealed) if sealed else None,
        )
        with self._lock:
            if self._generation == generation and self._ttl > 0:
                self._entries[integration_id] = (
                    loaded_at,
                    ReceivingIntegration(
                        fresh.id, fresh.kind, fresh.options, fresh.secret, cached=True
                    ),
                )
        return fresh

    def forget(self, integration_id: UUID) -> None:
        with self._lock:
            self._generation += 1
            self._entries.pop(integration_id, None)


_CACHES: weakref.WeakSet[IntegrationCache] = weakref.WeakSet()


def forget_everywhere(integration_id: UUID) -> None:
    """Drop the integration from every cache in this process."""
    for cache in list(_CACHES):
        cache.forget(integration_id)


@event.listens_for(Session, "after_flush")
def _seen_in_flush(session: Session, _context: Any) -> None:
    changed = {
        o.id for o in (*session.new, *session.dirty, *session.deleted) if isinstance(o, Integration)
    }
    if changed:
        session.info.setdefault(_CHANGED, set()).update(changed)


@event.listens_for(Session, "after_commit")
def _forget_on_commit(session: Session) -> None:
    # After the commit, not at the flush: a delivery that reloads in between would read (and
    # keep) the row as it was before this transaction. Ids flushed by a transaction that rolled
    # back are forgotten at the session's next commit, which costs one reload at most.
    for integration_id in session.info.pop(_CHANGED, ()):
        forget_everywhere(integration_id)
