"""What each kind of job does, and what parking one means: a new kind of work is one entry here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from uuid import UUID

from sqlalchemy.engine import Engine
from sqlmodel import Session

from app.action_items.models import ActionItem
from app.flows import tracker_events
from app.settings import Settings
from app.sync import engine, jobs
from app.sync.engine import ConnectorCache, Outcome
from app.sync.models import Job
from app.tickets import links
from app.webhooks import service as webhooks_service

Run = Callable[[Engine, Job, Settings, ConnectorCache], Outcome]
Parked = Callable[[Session, Job, str], None]


@dataclass(frozen=True)
class Handler:
    run: Run
    parked: Parked


ItemStep = Callable[[Engine, UUID, Settings, ConnectorCache, jobs.Lease], Outcome]


def _item_job(step: ItemStep) -> Run:
    def run(db: Engine, job: Job, settings: Settings, connectors: ConnectorCache) -> Outcome:
        if job.action_item_id is None:
            return Outcome(done=True)
        return step(db, job.action_item_id, settings, connectors, jobs.Lease.of(job))

    return run


def _sync_failed(session: Session, job: Job, reason: str) -> None:
    item = session.get(ActionItem, job.action_item_id) if job.action_item_id else None
    if item is not None:
        links.mark_error(session, item, reason)


def _set_state(db: Engine, job: Job, settings: Settings, connectors: ConnectorCache) -> Outcome:
    if job.action_item_id is None:
        return Outcome(done=True)
    return engine.set_state(db, job.action_item_id, job.payload, settings, connectors)


def _state_request_parked(session: Session, job: Job, reason: str) -> None:
    if job.action_item_id is not None:
        engine.state_request_failed(session, job.action_item_id, reason)
    _sync_failed(session, job, reason)


def _comment(db: Engine, job: Job, settings: Settings, connectors: ConnectorCache) -> Outcome:
    if job.action_item_id is None:
        return Outcome(done=True)
    return engine.comment(db, job.action_item_id, job.payload, connectors, jobs.Lease.of(job))


def _apply_delivery(
    db: Engine, job: Job, settings: Settings, connectors: ConnectorCache
) -> Outcome:
    if job.delivery_id is not None:
        tracker_events.apply_delivery(db, job.delivery_id)
    return Outcome(done=True)


def _delivery_parked(session: Session, job: Job, reason: str) -> None:
    if job.delivery_id is not None:
        webhooks_service.mark_failed(session, job.delivery_id, reason)


HANDLERS: dict[str, Handler] = {
    jobs.CREATE: Handler(_item_job(engine.create), _sync_failed),
    jobs.UPDATE: Handler(_item_job(engine.update), _sync_failed),
    jobs.SET_STATE: Handler(_set_state, _state_request_parked),
    jobs.COMMENT: Handler(_comment, _sync_failed),
    jobs.APPLY_DELIVERY: Handler(_apply_delivery, _delivery_parked),
}


def handler_for(job: Job) -> Handler:
    handler = HANDLERS.get(job.kind)
    if handler is None:
        raise ValueError(f"unknown job kind {job.kind!r}")
    return handler
