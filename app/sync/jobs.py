"""Queue background jobs inside the caller's transaction: the change and its job commit together."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from sqlmodel import Session, col, select, update

from app.action_items.models import ActionItem
from app.db import utcnow
from app.errors import Conflict, NotFound
from app.integrations import service as integrations_service
from app.sync.models import Job
from app.tickets import links

# Outbound: calls to a tracker, paced by its integration's limits.
CREATE = "ticket.create"
UPDATE = "ticket.update"
SET_STATE = "ticket.set_state"
COMMENT = "ticket.comment"
# Inbound: applying a stored webhook delivery; never paced by an outbound limit.
APPLY_DELIVERY = "webhook.apply"

OUTBOUND = "outbound"
INBOUND = "inbound"
WAITING = ("pending", "dead")


def enqueue(
    session: Session, kind: str, *, action_item_id: UUID, payload: dict[str, Any] | None = None
) -> Job:
    """Queue an outbound job for the item unless the same kind is already waiting: waiting jobs
    coalesce (the worker sends the item as it is when the job runs; a newer payload wins)."""
    waiting = session.exec(
        select(Job).where(
            Job.action_item_id == action_item_id, Job.kind == kind, Job.status == "pending"
        )
    ).first()
    item = session.get(ActionItem, action_item_id)
    if item is not None:
        links.mark_pending(session, item)
    if waiting is not None:
        if payload is not None and waiting.payload != payload:
            waiting.payload = payload
            waiting.updated_at = utcnow()
            session.add(waiting)
        return waiting
    job = Job(
        kind=kind,
        lane=OUTBOUND,
        payload=payload or {},
        action_item_id=action_item_id,
        integration_id=_integration_of(session, item),
    )
    session.add(job)
    session.flush()
    return job


def enqueue_delivery(session: Session, delivery_id: UUID, integration_id: UUID) -> Job:
    job = Job(
        kind=APPLY_DELIVERY, lane=INBOUND, delivery_id=delivery_id, integration_id=integration_id
    )
    session.add(job)
    return job


def _integration_of(session: Session, item: ActionItem | None) -> UUID | None:
    """The integration the job will talk to, so the worker can pace jobs per integration."""
    if item is None:
        return None
    link = links.link_of(session, item.id)
    if link is not None:
        return link.integration_id
    route = integrations_service.route_for_item(session, item)
    return route.integration.id if route else None


@dataclass(frozen=True)
class Lease:
    """A runner's hold on a job. A handler that finishes its work in a write of its own marks
    the job done in that same transaction: one commit fewer per job."""

    job_id: UUID
    owner: str | None

    @classmethod
    def of(cls, job: Job) -> Lease:
        return cls(job.id, job.lease_owner)

    def finish(self, session: Session) -> None:
        # One statement, no ORM load: it runs once per job. A job whose lease ran out and was
        # taken over has another owner and is left alone.
        session.execute(
            update(Job)
            .where(col(Job.id) == self.job_id, col(Job.lease_owner) == self.owner)
            .values(status="done", leased_until=None, last_error=None, updated_at=utcnow())
        )


def _make_due(session: Session, job: Job) -> None:
    job.status = "pending"
    job.attempts = 0
    job.available_at = utcnow()
    job.updated_at = utcnow()
    job.leased_until = None
    session.add(job)


def retry_now(session: Session, action_item_id: UUID) -> int:
    """Make the item's parked or waiting jobs due now with a fresh attempt budget."""
    waiting = session.exec(
        select(Job).where(Job.action_item_id == action_item_id, col(Job.status).in_(WAITING))
    ).all()
    for job in waiting:
        _make_due(session, job)
    session.flush()
    return len(waiting)


def get(session: Session, job_id: UUID, *, for_update: bool = False) -> Job:
    job = session.get(Job, job_id, with_for_update=for_update)
    if job is None:
        raise NotFound(f"No sync job with id {job_id}")
    return job


def retry(session: Session, job_id: UUID) -> Job:
    """A parked job, due again now with a fresh attempt budget."""
    job = get(session, job_id, for_update=True)
    if job.status != "dead":
        raise Conflict(f"This job is {job.status}; only a parked (dead) job can be retried")
    _make_due(session, job)
    session.flush()
    return job


def is_waiting(session: Session, action_item_id: UUID, kind: str) -> bool:
    """A job of `kind` for the item is queued or running."""
    return (
        session.exec(
            select(Job.id).where(
                Job.action_item_id == action_item_id,
                Job.kind == kind,
                col(Job.status).in_(("pending", "leased")),
            )
        ).first()
        is not None
    )


def waiting_for_delivery(session: Session, delivery_id: UUID) -> Job | None:
    return session.exec(select(Job).where(Job.delivery_id == delivery_id)).first()


def listed(session: Session, *, status: str | None, lane: str | None, limit: int) -> list[Job]:
    query = select(Job).order_by(col(Job.updated_at).desc(), col(Job.id)).limit(limit)
    if status is not None:
        query = query.where(Job.status == status)
    if lane is not None:
        query = query.where(Job.lane == lane)
    return list(session.exec(query))


def supersede_waiting(session: Session, action_item_id: UUID, reason: str) -> None:
    """Nothing left for the item's waiting jobs to do (an existing ticket was linked)."""
    for job in session.exec(
        select(Job).where(Job.action_item_id == action_item_id, col(Job.status).in_(WAITING))
    ):
        job.status = "done"
        job.last_error = f"superseded: {reason}"
        session.add(job)
