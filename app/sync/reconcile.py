"""Reconciliation: webhooks get lost (GitHub never redelivers), so read every open ticket back.

Each run fetches the current state of every linked ticket whose item is not final and applies
the differences as events with source "reconciliation". The same watermark rule as for
webhooks applies, so a run never undoes something newer; a close or reopen asked through the
API does not change the item before the tracker confirms it, so there is nothing to undo. Each
run also sweeps for duplicates: where more than one create went out for an item, any other
ticket carrying its marker is closed as a duplicate of the linked one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from app.action_items.history import record
from app.action_items.models import ActionItem
from app.action_items.state import Cause, Source
from app.db import session_scope, utcnow
from app.enums import ActionItemStatus
from app.flows.tracker_events import apply_event
from app.integrations.models import Integration
from app.integrations.schemas import IntegrationOptions
from app.metrics import RECONCILIATION_DRIFT
from app.people.models import Person
from app.people.service import account_on
from app.sync.engine import ConnectorCache
from app.tickets import links
from app.tickets.models import TicketLink
from connectors.base import (
    ConnectorError,
    EventKind,
    Target,
    TicketRef,
    TicketSnapshot,
    TicketState,
    TrackerEvent,
)

logger = logging.getLogger("followthrough.reconcile")

FINAL = (ActionItemStatus.VERIFIED.value, ActionItemStatus.WONT_DO.value)
# How long after linking an item whose create went out more than once is swept for duplicates.
SWEEP_FOR = timedelta(days=1)


@dataclass
class ReconcileReport:
    run_id: str
    checked: int = 0
    drift: int = 0
    duplicates_closed: int = 0
    errors: list[str] = field(default_factory=list)


def reconcile(db: Engine, connectors: ConnectorCache) -> ReconcileReport:
    """Read back every linked ticket whose item is not final, one batch per integration."""
    report = ReconcileReport(run_id=str(uuid4()))
    with session_scope(db, read_only=True) as session:
        rows = session.exec(
            select(TicketLink, Integration)
            .join(Integration, col(Integration.id) == TicketLink.integration_id)
            .join(ActionItem, col(ActionItem.id) == TicketLink.action_item_id)
            .where(
                col(TicketLink.external_key).is_not(None),
                # A final item is read back too while a change asked of its ticket is pending.
                col(ActionItem.status).not_in(FINAL)
                | col(ActionItem.requested_status).is_not(None),
                col(TicketLink.last_state).is_(None)
                | (col(TicketLink.last_state) != TicketState.DELETED.value),
            )
        ).all()
        batches: dict[UUID, tuple[Integration, list[tuple[UUID, TicketRef, str | None]]]] = {}
        for link, integration in rows:
            if integration.id not in batches:
                session.expunge(integration)
            batch = batches.setdefault(integration.id, (integration, []))
            batch[1].append((link.id, links.ticket_ref(link), link.etag))
    origin = Cause(Source.RECONCILIATION, f"run:{report.run_id}")
    for integration, batch_links in batches.values():
        refs = [ref for _, ref, _ in batch_links]
        etags = {ref.external_key: etag for _, ref, etag in batch_links if etag}
        try:
            states = connectors.get(integration).fetch_states(refs, etags)
        except ConnectorError as exc:
            report.errors.append(f"{integration.name}: {exc.message}")
            continue
        for link_id, ref, _ in batch_links:
            if ref.external_key not in states:
                report.errors.append(f"{ref.external_key}: not found in {integration.name}")
                continue
            report.checked += 1
            snapshot = states[ref.external_key]
            if snapshot is None:  # unchanged since the last read
                continue
            with session_scope(db) as session:
                stored = session.get(TicketLink, link_id)
                if stored is not None and snapshot.etag:
                    stored.etag = snapshot.etag
                    session.add(stored)
                events = _differences(session, link_id, integration, snapshot, report.run_id)
                for event in events:
                    logger.info(
                        "reconciliation %s: %s",
                        report.run_id,
                        apply_event(session, integration, event, origin),
                    )
                report.drift += len(events)
                RECONCILIATION_DRIFT.inc(len(events))
    sweep_duplicates(db, connectors, report)
    if report.checked or report.errors or report.duplicates_closed:
        logger.info(
            "reconciliation %s: %d tickets checked, %d differences applied, "
            "%d duplicates closed, %d errors",
            report.run_id,
            report.checked,
            report.drift,
            report.duplicates_closed,
            len(report.errors),
        )
    return report


def sweep_duplicates(db: Engine, connectors: ConnectorCache, report: ReconcileReport) -> None:
    """Close as duplicates the other tickets that carry a linked item's marker."""
    with session_scope(db, read_only=True) as session:
        rows = session.exec(
            select(TicketLink, Integration)
            .join(Integration, col(Integration.id) == TicketLink.integration_id)
            .where(
                col(TicketLink.external_key).is_not(None),
                col(TicketLink.create_attempts) > 1,
                col(TicketLink.linked_at) >= utcnow() - SWEEP_FOR,
            )
        ).all()
        for link, integration in rows:
            session.expunge(link)
            session.expunge(integration)
    for link, integration in rows:
        connector = connectors.get(integration)
        real = links.ticket_ref(link)
        target = Target(project=link.project, issue_type=link.issue_type)
        try:
            found = connector.find_all_by_marker(
                target, link.marker, link.intent_at - timedelta(minutes=5)
            )
            extra = [
                ref
                for ref in found
                if ref.external_key not in (real.external_key, *link.duplicate_keys)
            ]
            for ref in extra:
                connector.set_state(
                    ref,
                    TicketState.WONT_DO,
                    duplicate_of=real,
                    comment=f"Duplicate of {real.external_key} ({real.url}): the same action "
                    "item's ticket was created twice; work continues there.",
                )
                _record_duplicate(db, link.id, ref, real, report.run_id)
                report.duplicates_closed += 1
        except ConnectorError as exc:
            report.errors.append(f"{link.external_key}: duplicate sweep: {exc.message}")


def _record_duplicate(
    db: Engine, link_id: UUID, duplicate: TicketRef, real: TicketRef, run_id: str
) -> None:
    with session_scope(db) as session:
        link = session.get(TicketLink, link_id, with_for_update=True)
        item = session.get(ActionItem, link.action_item_id) if link is not None else None
        if link is None or item is None:
            return
        link.duplicate_keys = [*link.duplicate_keys, duplicate.external_key]
        session.add(link)
        record(
            session,
            item,
            source=Source.RECONCILIATION,
            actor=f"run:{run_id}",
            kind="duplicate_closed",
            changes={"duplicate": duplicate.external_key, "url": duplicate.url},
            note=f"a second ticket carried this item's marker; closed as a duplicate of "
            f"{real.external_key}",
        )


def _differences(
    session: Session, link_id: UUID, integration: Integration, snapshot: TicketSnapshot, run_id: str
) -> list[TrackerEvent]:
    link = session.get(TicketLink, link_id)
    item = session.get(ActionItem, link.action_item_id) if link else None
    if link is None or item is None:
        return []
    key = snapshot.ref.external_key or link.external_key or ""

    def event(kind: EventKind, **fields: Any) -> TrackerEvent:
        return TrackerEvent(
            external_key=key,
            delivery_id=run_id,
            occurred_at=snapshot.updated_at,
            kind=kind,
            **fields,
        )

    events: list[TrackerEvent] = []
    if _state_of(item.status) != _coarse(snapshot.state):
        events.append(
            event(
                EventKind.STATE_CHANGED,
                state=snapshot.state,
                raw_status=snapshot.raw_status,
                resolution=snapshot.resolution,
                labels=tuple(snapshot.labels),
            )
        )
    options = IntegrationOptions.model_validate(integration.options)
    label = (options.verification_label or "").lower()
    # Applied after the state event above, so a ticket closed and labelled at once verifies.
    done = snapshot.state == TicketState.DONE and item.status != ActionItemStatus.VERIFIED
    if label and done and label in {x.lower() for x in snapshot.labels}:
        events.append(event(EventKind.LABEL_ADDED, label=options.verification_label))
    if snapshot.due_date is not None and snapshot.due_date != item.due_date:
        events.append(event(EventKind.DUE_DATE_CHANGED, due_date=snapshot.due_date))
    if snapshot.assignee is not None:
        owner = session.get(Person, item.owner_person_id) if item.owner_person_id else None
        if (
            owner is None
            or account_on(owner, integration.kind, integration.name) != snapshot.assignee
        ):
            events.append(event(EventKind.ASSIGNEE_CHANGED, assignee=snapshot.assignee))
    return events


def _coarse(state: TicketState) -> TicketState:
    return TicketState.OPEN if state == TicketState.IN_PROGRESS else state


def _state_of(status: str) -> TicketState:
    """The ticket state an item in `status` implies."""
    if status in (ActionItemStatus.CLOSED, ActionItemStatus.VERIFIED):
        return TicketState.DONE
    if status == ActionItemStatus.WONT_DO:
        return TicketState.WONT_DO
    return TicketState.OPEN
