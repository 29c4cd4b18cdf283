"""Turn one outbox job into tracker calls: exactly one ticket per action item, whatever fails.

A create goes in three committed steps: (1) the intent with its marker, (2) "a create call is
about to be sent", (3) the ticket's key. A crash anywhere leaves a state the next attempt can
repair: after step 2, the marker is looked up before anything is created again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from uuid import UUID, uuid4

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from app.action_items.models import ActionItem
from app.action_items.service import record
from app.crypto import SecretBox
from app.db import session_scope, utcnow
from app.enums import ActionItemStatus, TrackerKind
from app.integrations import service as integrations_service
from app.integrations.models import Integration
from app.people.models import Person
from app.people.service import account_on
from app.settings import Settings
from app.sync.models import OutboxEntry
from app.sync.outbox import CREATE, UPDATE
from app.tickets.models import TicketLink
from app.webhooks import service as webhooks_service
from app.webhooks.service import PROCESS
from connectors.base import Connector, Target, TicketChanges, TicketRef, TicketSpec

logger = logging.getLogger("followthrough.sync")


class NothingToRoute(Exception):
    """No integration takes this item's team: a configuration problem, not a tracker one."""


@dataclass(frozen=True)
class Outcome:
    """What became of a job: done, or come back at `retry_at` (not counted as a failure)."""

    done: bool
    retry_in: float | None = None


class ConnectorCache:
    """One connector per integration per process, rebuilt when the integration changes.

    Reusing it keeps a tracker client's own write spacing (GitHub: one write a second) across jobs.
    """

    def __init__(self, box: SecretBox) -> None:
        self.box = box
        self._cache: dict[UUID, tuple[object, Connector]] = {}

    def get(self, integration: Integration) -> Connector:
        cached = self._cache.get(integration.id)
        if cached is not None and cached[0] == integration.updated_at:
            return cached[1]
        connector = integrations_service.connector_for(integration, self.box)
        self._cache[integration.id] = (integration.updated_at, connector)
        return connector


def run(db: Engine, entry: OutboxEntry, settings: Settings, connectors: ConnectorCache) -> Outcome:
    if entry.operation == PROCESS and entry.delivery_id is not None:
        webhooks_service.process(db, entry.delivery_id)
        return Outcome(done=True)
    if entry.action_item_id is None:
        return Outcome(done=True)
    if entry.operation == CREATE:
        return _create(db, entry.action_item_id, settings, connectors)
    if entry.operation == UPDATE:
        return _update(db, entry.action_item_id, settings, connectors)
    raise ValueError(f"unknown outbox operation {entry.operation!r}")


def _wants_ticket(item: ActionItem | None) -> bool:
    return item is not None and item.committed and item.status != ActionItemStatus.DRAFT


def _spec(
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


def _route(session: Session, item: ActionItem) -> integrations_service.Route:
    route = integrations_service.route_for_item(session, item)
    if route is None:
        raise NothingToRoute(
            "No integration takes this item: route its team to one (PATCH /v1/integrations/{id} "
            "routes) or mark an integration as the default"
        )
    return route


def _create(db: Engine, item_id: UUID, settings: Settings, connectors: ConnectorCache) -> Outcome:
    # Step 1: the intent, with the marker every ticket carries.
    with session_scope(db) as session:
        item = session.get(ActionItem, item_id, with_for_update=True)
        if not _wants_ticket(item):
            return Outcome(done=True)
        assert item is not None
        link = session.exec(select(TicketLink).where(TicketLink.action_item_id == item_id)).first()
        if link is not None and link.external_key:
            _mark_synced(session, item)
            return Outcome(done=True)
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
        spec = _spec(session, item, integration, link.marker, settings)
        target = Target(project=link.project, issue_type=link.issue_type)
        link_id, attempts, intent_at, last_create_at = (
            link.id,
            link.create_attempts,
            link.intent_at,
            link.last_create_at,
        )
    connector = connectors.get(integration)

    # A create may already have reached the tracker: look before creating again.
    if attempts > 0:
        found = connector.find_by_marker(target, spec.marker, intent_at - timedelta(minutes=5))
        if found is not None:
            _record_ticket(
                db,
                link_id,
                item_id,
                found,
                source_note="found by marker after an unconfirmed create",
            )
            return Outcome(done=True)
        window = (
            settings.sync.jira_confirm_window_seconds if integration.kind == TrackerKind.JIRA else 0
        )
        if last_create_at is not None and window:
            waited = (utcnow() - last_create_at).total_seconds()
            if waited < window:
                # Jira's search index lags; creating now could make a second ticket.
                return Outcome(done=False, retry_in=window - waited)

    # Step 2: say a create is going out, then send it once.
    with session_scope(db) as session:
        link = session.get(TicketLink, link_id, with_for_update=True)
        assert link is not None
        link.create_attempts += 1
        link.last_create_at = utcnow()
        session.add(link)
    ref = connector.create_ticket(target, spec)

    # Step 3: the ticket's key.
    _record_ticket(db, link_id, item_id, ref, source_note=None)
    return Outcome(done=True)


def _record_ticket(
    db: Engine, link_id: UUID, item_id: UUID, ref: TicketRef, *, source_note: str | None
) -> None:
    with session_scope(db) as session:
        link = session.get(TicketLink, link_id, with_for_update=True)
        item = session.get(ActionItem, item_id, with_for_update=True)
        assert link is not None and item is not None
        link.external_key = ref.external_key
        link.external_id = ref.external_id
        link.url = ref.url
        link.linked_at = utcnow()
        session.add(link)
        record(
            session,
            item,
            source="sync",
            actor="sync-worker",
            kind="ticket_created",
            changes={"ticket": ref.external_key, "url": ref.url},
            note=source_note,
        )
        _mark_synced(session, item)


def _mark_synced(session: Session, item: ActionItem) -> None:
    item.sync_state = "synced"
    item.sync_error = None
    item.last_synced_at = utcnow()
    session.add(item)


def _update(db: Engine, item_id: UUID, settings: Settings, connectors: ConnectorCache) -> Outcome:
    with session_scope(db) as session:
        item = session.get(ActionItem, item_id)
        if not _wants_ticket(item):
            return Outcome(done=True)
        assert item is not None
        link = session.exec(select(TicketLink).where(TicketLink.action_item_id == item_id)).first()
        if link is None or not link.external_key:
            # The create has not landed yet; it will carry the current content.
            return Outcome(done=True)
        integration = session.get(Integration, link.integration_id)
        assert integration is not None
        spec = _spec(session, item, integration, link.marker, settings)
        ref = TicketRef(
            external_key=link.external_key, external_id=link.external_id or "", url=link.url or ""
        )
    connector = connectors.get(integration)
    connector.update_ticket(
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
            _mark_synced(session, item)
    return Outcome(done=True)
