"""Write pacing per integration, as its tracker declares it (connectors/<kind>/profile.py).

GitHub asks for writes sent serially, a second apart, and caps content-creating requests at 80
a minute and 500 an hour. Serial writes cap the integration's concurrency at one; the spacing
is its `seconds_between_writes` option; the budgets count the outbound jobs run against the
integration in the rolling minute and hour. The job table is the ledger: a job that ran (it has
a lease owner) was last touched when it was claimed or finished, so an outbound job touched in
the window counts as one write. That errs on the safe side (a create that found its ticket by
marker wrote nothing) except for a job retried within the window, whose earlier attempts are not
counted again. The worker checks all this while it holds the integration's row lock, so several
workers on one PostgreSQL never overspend between them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from sqlmodel import Session, col, func, select

from app.action_items.models import ActionItem
from app.db import utcnow
from app.integrations.models import Integration
from app.integrations.schemas import IntegrationOptions
from app.settings import SyncPolicy
from app.sync.models import Job
from app.tickets import links
from connectors import registry
from connectors.base import TrackerKind
from connectors.profile import WriteLimits

logger = logging.getLogger("followthrough.worker")

# How a job held back by a spent budget says so in `last_error` (and /metrics counts them).
WAITING_PREFIX = "waiting for the write budget"
MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class Pacing:
    """What the worker enforces for one integration."""

    serial: bool
    spacing: timedelta
    per_minute: int | None
    per_hour: int | None

    @property
    def budgeted(self) -> bool:
        return self.per_minute is not None or self.per_hour is not None or bool(self.spacing)


@dataclass(frozen=True)
class Hold:
    """No write may go out before `until`; `spent` names the budget when one is spent (the
    item shows it), None for the short spacing between two writes."""

    until: datetime
    spent: str | None


def pacing_for(integration: Integration, policy: SyncPolicy) -> Pacing | None:
    """The integration's write pacing, or None when its tracker declares none."""
    try:
        declared = registry.profile(TrackerKind(integration.kind)).write_limits
    except (KeyError, ValueError):
        return None
    if declared is None:
        return None
    return _pacing(integration, declared, policy)


def _pacing(integration: Integration, declared: WriteLimits, policy: SyncPolicy) -> Pacing:
    spacing = 0.0
    if declared.serial:
        try:
            spacing = IntegrationOptions.model_validate(integration.options).seconds_between_writes
        except ValueError:
            spacing = IntegrationOptions().seconds_between_writes
    return Pacing(
        serial=declared.serial,
        spacing=timedelta(seconds=spacing),
        per_minute=policy.write_budget_per_minute or declared.per_minute,
        per_hour=policy.write_budget_per_hour or declared.per_hour,
    )


def concurrency(integration: Integration, pacing: Pacing | None) -> int:
    """Outbound jobs that may run against the integration at once."""
    if pacing is not None and pacing.serial:
        return 1
    return integration.max_concurrency


def hold(session: Session, integration_id: UUID, pacing: Pacing, now: datetime) -> Hold | None:
    """When the next write may go out, or None if it may go now."""
    if not pacing.budgeted:
        return None
    hour_ago, minute_ago = now - HOUR, now - MINUTE
    touched = col(Job.updated_at)
    in_hour, in_minute = touched >= hour_ago, touched >= minute_ago
    row = session.exec(
        select(func.count(), func.count().filter(in_minute), func.max(touched)).where(
            col(Job.integration_id) == integration_id,
            col(Job.lane) == "outbound",
            col(Job.lease_owner).is_not(None),
            in_hour,
        )
    ).one()
    hour_count, minute_count, last = row
    if pacing.per_hour is not None and hour_count >= pacing.per_hour:
        oldest = _nth_oldest(session, integration_id, hour_ago, hour_count - pacing.per_hour)
        return Hold(oldest + HOUR, f"{pacing.per_hour} writes an hour")
    if pacing.per_minute is not None and minute_count >= pacing.per_minute:
        oldest = _nth_oldest(session, integration_id, minute_ago, minute_count - pacing.per_minute)
        return Hold(oldest + MINUTE, f"{pacing.per_minute} writes a minute")
    if pacing.spacing and last is not None and last + pacing.spacing > now:
        return Hold(last + pacing.spacing, None)
    return None


def _nth_oldest(session: Session, integration_id: UUID, since: datetime, n: int) -> datetime:
    """The time the window frees a slot: the (n+1)th oldest write in it leaves it then."""
    found = session.exec(
        select(Job.updated_at)
        .where(
            col(Job.integration_id) == integration_id,
            col(Job.lane) == "outbound",
            col(Job.lease_owner).is_not(None),
            col(Job.updated_at) >= since,
        )
        .order_by(col(Job.updated_at))
        .offset(n)
        .limit(1)
    ).first()
    assert found is not None
    return found


def waiting_message(tracker: str, hold: Hold) -> str:
    """What the item and the job say while a spent budget holds the job back."""
    return (
        f"{WAITING_PREFIX}: {tracker} allows {hold.spent}; next attempt at "
        f"{hold.until.strftime('%Y-%m-%d %H:%M:%S')} UTC"
    )


def hold_back(session: Session, job: Job, integration_name: str, held: Hold) -> None:
    """Hold the job until the budget frees a slot, and say so on the job and its item."""
    message = waiting_message(integration_name, held)
    job.status = "pending"
    job.available_at = held.until
    job.last_error = message
    if job.lease_owner is None:
        # A job that ran before keeps its time: it counts in the budget's window by it.
        job.updated_at = utcnow()
    session.add(job)
    item = session.get(ActionItem, job.action_item_id) if job.action_item_id else None
    if item is not None:
        links.note_waiting(session, item, message)
    logger.info("%s job %s waits for the write budget: %s", job.kind, job.id, message)
