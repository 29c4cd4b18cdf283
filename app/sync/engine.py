"""Turn one outbound job into tracker calls: exactly one ticket per action item, whatever fails.

A create goes in three committed steps: (1) the intent with its marker, (2) "a create call is
about to be sent" (in one transaction with (1) on a first attempt), (3) the ticket's key. A crash anywhere leaves a state the next attempt can
repair: after step 2, the marker is looked up before anything is created again, and while the
first create could still land (its answer never came: the client's timeout plus a margin, or
the tracker's own longer window) nothing is created at all.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy.engine import Engine
from sqlmodel import Session

from app.action_items.history import record
from app.action_items.models import ActionItem
from app.action_items.state import Cause, Source
from app.crypto import SecretBox
from app.db import session_scope, utcnow
from app.enums import ActionItemStatus
from app.flows import tracker_events
from app.integrations import service as integrations_service
from app.integrations.models import Integration
from app.integrations.schemas import IntegrationOptions
from app.people.models import Person
from app.people.service import account_on
from app.settings import EgressSettings, Settings
from app.sync import jobs
from app.tickets import links
from app.tickets.models import TicketLink
from connectors import registry
from connectors.base import (
    Connector,
    ConnectorError,
    PermanentConnectorError,
    Target,
    TicketChanges,
    TicketRef,
    TicketSpec,
    TicketState,
    TrackerKind,
)

logger = logging.getLogger("followthrough.sync")

SYNC_WORKER = Cause(Source.SYNC, "sync-worker")


class NothingToRoute(Exception):
    """No integration takes this item's team: a configuration problem, not a tracker one."""


@dataclass(frozen=True)
class Outcome:
    """What became of a job: done, or come back in `retry_in` seconds (not counted as a failure)."""

    done: bool
    retry_in: float | None = None
    # The job was marked done inside the step's own last write (`jobs.Lease.finish`).
    finished: bool = False


class ConnectorCache:
    """One connector per integration per process, rebuilt when the integration changes.

    Reusing it keeps a tracker client's own write spacing (GitHub: one write a second) across jobs.
    """

    def __init__(self, box: SecretBox, egress: EgressSettings) -> None:
        self.box = box
        self.egress = egress
        self._cache: dict[UUID, tuple[object, Connector]] = {}
        # The worker's runner threads share it: one connector per integration, not one each.
        self._lock = threading.Lock()

    def get(self, integration: Integration) -> Connector:
        with self._lock:
            cached = self._cache.get(integration.id)
            if cached is not None and cached[0] == integration.updated_at:
                return cached[1]
            connector = integrations_service.connector_for(integration, self.box, self.egress)
            self._cache[integration.id] = (integration.updated_at, connector)
            return connector


def _wants_ticket(item: ActionItem | None) -> bool:
    return item is not None and item.committed and item.status != ActionItemStatus.DRAFT


def spec_for(
    session: Session, item: ActionItem, integration: Integration, marker: str, settings: Settings
) -> TicketSpec:
    assignee = None
    if item.owner_person_id is not None:
        person = session.get(Person, item.owner_person_id)
        if person is not None:
            assignee = account_on(person, integration.kind, integration.name)
    return TicketSpec(
        title=item.title,
        description=item.description,
        definition_of_done=list(item.definition_of_done),
        verification=item.verification,
        postmortem_url=f"{settings.public_url.rstrip('/')}/v1/postmortems/{item.postmortem_id}",
        marker=marker,
        assignee=assignee,
        due_date=item.due_date,
        labels=list(integration.labels),
        priority=item.priority,
    )


def resend_wait(integration: Integration, settings: Settings) -> timedelta:
    """How long after a create whose answer never came before another may be sent."""
    policy = settings.sync
    if policy.resend_window_seconds is not None:
        declared = timedelta(seconds=policy.resend_window_seconds)
    else:
        declared = registry.profile(TrackerKind(integration.kind)).resend_window
    timeout = IntegrationOptions.model_validate(integration.options).timeout_seconds
    return max(declared, timedelta(seconds=timeout + policy.resend_margin_seconds))


def _route(session: Session, item: ActionItem) -> integrations_service.Route:
    route = integrations_service.route_for_item(session, item)
    if route is None:
        raise NothingToRoute(
            "No integration takes this item: route its team to one (PATCH /v1/integrations/{id} "
            "routes) or mark an integration as the default"
        )
    return route


def _done(session: Session, lease: jobs.Lease | None) -> Outcome:
    """The job's work is over: finish it in this transaction when the runner gave its lease."""
    if lease is None:
        return Outcome(done=True)
    lease.finish(session)
    return Outcome(done=True, finished=True)


def create(
    db: Engine,
    item_id: UUID,
    settings: Settings,
    connectors: ConnectorCache,
    lease: jobs.Lease | None = None,
) -> Outcome:
    # Step 1: the intent, with the marker every ticket carries.
    with session_scope(db) as session:
        item = session.get(ActionItem, item_id, with_for_update=True)
        if not _wants_ticket(item):
            return _done(session, lease)
        assert item is not None
        link = links.link_of(session, item_id)
        if links.has_ticket(link):
            links.mark_synced(session, item)
            return _done(session, lease)
        if link is None:
            route = _route(session, item)
            link = TicketLink(
                action_item_id=item.id,
                integration_id=route.integration.id,
                project=route.target.project,
                issue_type=route.target.issue_type,
                marker=str(uuid4()),
            )
            session.add(link)
            session.flush()
        integration = session.get(Integration, link.integration_id)
        assert integration is not None
        connector = connectors.get(integration)
        spec = spec_for(session, item, integration, link.marker, settings)
        target = Target(project=link.project, issue_type=link.issue_type)
        link_id, attempts, intent_at = link.id, link.create_attempts, link.intent_at
        unanswered_at = link.last_create_at
        if attempts == 0:
            # Nothing can have gone out yet, so step 2 commits with the intent: one write
            # transaction fewer per ticket. The connector is built above, so a refusal to build
            # it leaves no create recorded as sent.
            _create_going_out(link)
            session.add(link)

    # A create may already have reached the tracker: look before creating again, and while it
    # could still land, create nothing.
    if attempts > 0:
        found = connector.find_by_marker(target, spec.marker, intent_at - timedelta(minutes=5))
        if found is not None:
            return _record_ticket(
                db,
                link_id,
                item_id,
                found,
                note="found by marker after an unconfirmed create",
                lease=lease,
            )
        if unanswered_at is not None:
            left = unanswered_at + resend_wait(integration, settings) - utcnow()
            if left > timedelta(0):
                return Outcome(done=False, retry_in=left.total_seconds())

        # Step 2: say a create is going out, then send it once.
        with session_scope(db) as session:
            link = session.get(TicketLink, link_id, with_for_update=True)
            assert link is not None
            _create_going_out(link)
            session.add(link)
    try:
        ref = connector.create_ticket(target, spec)
    except ConnectorError as exc:
        if exc.status is not None:
            # The tracker answered: nothing is still in flight that could land later.
            _create_answered(db, link_id)
        raise

    # Step 3: the ticket's key.
    return _record_ticket(db, link_id, item_id, ref, note=None, lease=lease)


def _create_going_out(link: TicketLink) -> None:
    link.create_attempts += 1
    link.last_create_at = utcnow()


def _create_answered(db: Engine, link_id: UUID) -> None:
    with session_scope(db) as session:
        link = session.get(TicketLink, link_id, with_for_update=True)
        if link is not None:
            link.last_create_at = None
            session.add(link)


def _record_ticket(
    db: Engine,
    link_id: UUID,
    item_id: UUID,
    ref: TicketRef,
    *,
    note: str | None,
    lease: jobs.Lease | None,
) -> Outcome:
    with session_scope(db) as session:
        link = session.get(TicketLink, link_id, with_for_update=True)
        item = session.get(ActionItem, item_id, with_for_update=True)
        assert link is not None and item is not None
        link.external_key = ref.external_key
        link.external_id = ref.external_id
        link.url = ref.url
        link.linked_at = utcnow()
        link.last_create_at = None
        session.add(link)
        record(
            session,
            item,
            source=SYNC_WORKER.source,
            actor=SYNC_WORKER.actor,
            kind="ticket_created",
            changes={"ticket": ref.external_key, "url": ref.url},
            note=note,
        )
        links.mark_synced(session, item)
        return _done(session, lease)


def _linked(
    session: Session, item_id: UUID
) -> tuple[ActionItem | None, TicketLink | None, Integration | None]:
    item = session.get(ActionItem, item_id)
    link = links.link_of(session, item_id) if item is not None else None
    integration = session.get(Integration, link.integration_id) if link is not None else None
    return item, link, integration


def update(
    db: Engine,
    item_id: UUID,
    settings: Settings,
    connectors: ConnectorCache,
    lease: jobs.Lease | None = None,
) -> Outcome:
    with session_scope(db) as session:
        item, link, integration = _linked(session, item_id)
        if not _wants_ticket(item) or not links.has_ticket(link):
            # No ticket yet: the create will carry the current content.
            return _done(session, lease)
        assert item is not None and link is not None and integration is not None
        spec = spec_for(session, item, integration, link.marker, settings)
        ref = links.ticket_ref(link)
    connectors.get(integration).update_ticket(
        ref,
        TicketChanges(
            title=spec.title,
            spec=spec,
            # Never clear an assignee or labels someone set in the tracker; the tracker owns those.
            assignee=spec.assignee,
            due_date=spec.due_date,
        ),
    )
    with session_scope(db) as session:
        item = session.get(ActionItem, item_id, with_for_update=True)
        if item is not None:
            links.mark_synced(session, item)
        return _done(session, lease)


def set_state(
    db: Engine,
    item_id: UUID,
    payload: dict[str, Any],
    settings: Settings,
    connectors: ConnectorCache,
) -> Outcome:
    """Send a close, won't-do or reopen asked through the API to the ticket; the item follows
    what the tracker answers, recorded as the tracker's confirmation of that request."""
    state = TicketState(payload["state"])
    with session_scope(db) as session:
        item, link, integration = _linked(session, item_id)
        if item is None or item.requested_status is None:
            return Outcome(done=True)  # confirmed meanwhile (a webhook) or withdrawn
        if not links.has_ticket(link):
            if not jobs.is_waiting(session, item_id, jobs.CREATE):
                raise PermanentConnectorError(
                    "the item has no ticket and none is being created; retry its sync "
                    f"(POST /v1/action-items/{item_id}/sync), then ask again"
                )
            # The ticket is still being created; its create job runs first.
            return Outcome(done=False, retry_in=settings.sync.poll_seconds)
        assert link is not None and integration is not None
        ref = links.ticket_ref(link)
    snapshot = connectors.get(integration).set_state(ref, state, comment=payload.get("comment"))
    with session_scope(db) as session:
        item = session.get(ActionItem, item_id, with_for_update=True)
        integration = session.get(Integration, integration.id)
        if item is None or integration is None:
            return Outcome(done=True)
        outcome = tracker_events.apply_event(
            session,
            integration,
            tracker_events.snapshot_event(snapshot, "set_state"),
            SYNC_WORKER,
            asked_by=payload.get("asked_by"),
        )
        item.requested_status = None
        links.mark_synced(session, item)
        logger.info("state request for item %s: %s", item_id, outcome)
    return Outcome(done=True)


def comment(
    db: Engine,
    item_id: UUID,
    payload: dict[str, Any],
    connectors: ConnectorCache,
    lease: jobs.Lease | None = None,
) -> Outcome:
    """Add a comment to the item's ticket (what the service itself decided, such as a
    verification); an item without a ticket has nowhere to say it."""
    with session_scope(db) as session:
        _, link, integration = _linked(session, item_id)
        if not links.has_ticket(link):
            return Outcome(done=True)
        assert link is not None and integration is not None
        ref = links.ticket_ref(link)
    connectors.get(integration).comment(ref, payload["text"])
    with session_scope(db) as session:
        item = session.get(ActionItem, item_id, with_for_update=True)
        if item is not None:
            links.mark_synced(session, item)
        return _done(session, lease)


def state_request_failed(session: Session, item_id: UUID, reason: str) -> None:
    """A parked state request: the item keeps the status its ticket has, and says why."""
    item = session.get(ActionItem, item_id, with_for_update=True)
    if item is None or item.requested_status is None:
        return
    record(
        session,
        item,
        source=SYNC_WORKER.source,
        actor=SYNC_WORKER.actor,
        kind="state_request_failed",
        changes={"requested_status": item.requested_status},
        note=f"the ticket could not be changed: {reason}",
    )
    item.requested_status = None
    session.add(item)
