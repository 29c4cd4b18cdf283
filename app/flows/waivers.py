"""Waive a finding of the checks, list the waivers, withdraw one.

A waiver is made only for a finding the checks report now, and only once per finding while it
applies. On a published postmortem, a waiver that clears the last finding holding back a draft
item opens it and queues its ticket; withdrawing a waiver later does not close what has opened. Waiving or withdrawing a finding on an action item is written to that item's history;
the waiver rows themselves, withdrawn ones included, are the record for the rest (postmortems
keep no history of their own).
"""

from __future__ import annotations

from uuid import UUID

from sqlmodel import Session, col, select

from app.action_items import service as action_items_service
from app.action_items.history import record
from app.action_items.models import ActionItem
from app.auth.service import Caller
from app.checks import service as checks_service
from app.checks import waivers as check_waivers
from app.checks.schemas import CheckWaiverCreate, CheckWaiverList, CheckWaiverRead
from app.checks.waivers import CheckWaiver
from app.db import utcnow
from app.errors import Conflict, InvalidInput, NotFound, field_error
from app.flows import items_after_publish
from app.postmortems import service as postmortems_service
from app.settings import CheckPolicy


def _read(waiver: CheckWaiver, *, stale: bool, applies: bool) -> CheckWaiverRead:
    return CheckWaiverRead(
        id=waiver.id,
        postmortem_id=waiver.postmortem_id,
        rule=waiver.rule,
        path=waiver.path,
        reason=waiver.reason,
        by=waiver.created_by,
        at=waiver.created_at,
        action_item_id=waiver.action_item_id,
        stale=stale,
        applies=applies,
        applied_at_publish=waiver.applied_at_publish,
        withdrawn_by=waiver.withdrawn_by,
        withdrawn_at=waiver.withdrawn_at,
    )


def _record_on_item(
    session: Session, waiver: CheckWaiver, caller: Caller, kind: str, note: str
) -> None:
    if waiver.action_item_id is None:
        return
    item = session.get(ActionItem, waiver.action_item_id)
    if item is None:
        return
    record(
        session,
        item,
        source="api",
        actor=caller.actor,
        kind=kind,
        changes={"rule": waiver.rule, "path": waiver.path, "waiver_id": str(waiver.id)},
        note=note,
    )


def _withdraw(session: Session, waiver: CheckWaiver, caller: Caller, note: str) -> None:
    waiver.withdrawn_by = caller.actor
    waiver.withdrawn_at = utcnow()
    session.add(waiver)
    _record_on_item(session, waiver, caller, "check_waiver_withdrawn", note)


def waive(
    session: Session,
    postmortem_id: UUID,
    data: CheckWaiverCreate,
    caller: Caller,
    policy: CheckPolicy,
) -> CheckWaiverRead:
    """Waive the finding at (rule, path) as the checks report it now, keeping a fingerprint of
    the text it waives. A finding the checks do not report is refused (422), so is one that a
    waiver already covers (409). A waiver of the same finding whose text has changed since is
    withdrawn and replaced."""
    # Locked, so that two waivers of one finding cannot both pass the check below.
    postmortem = postmortems_service.get(session, postmortem_id, for_update=True)
    report = checks_service.run(session, postmortem, policy)
    matching = [f for f in report.findings if f.rule == data.rule and f.path == data.path]
    if not matching:
        raise InvalidInput(
            f"The checks report no finding of rule '{data.rule}' at '{data.path}' for this "
            "postmortem now; only a current finding can be waived",
            errors=[
                field_error("rule", f"no current finding of rule '{data.rule}' at '{data.path}'"),
                field_error("path", f"no current finding at '{data.path}' for rule '{data.rule}'"),
            ],
        )
    already = next((f.waiver for f in matching if f.waiver is not None), None)
    if already is not None:
        raise Conflict(
            f"The finding of rule '{data.rule}' at '{data.path}' is already waived (waiver "
            f"{already.id} by {already.by}); withdraw that waiver to waive it again",
            extra={"waiver_id": str(already.id)},
        )
    for stale in check_waivers.active(session, postmortem.id):
        if (stale.rule, stale.path) == (data.rule, data.path):
            _withdraw(session, stale, caller, "The waived text changed; replaced by a new waiver")

    snapshot = checks_service.snapshot(session, postmortem)
    index = check_waivers.item_index(data.path)
    items = action_items_service.items_of(session, postmortem.id) if index is not None else []
    waiver = CheckWaiver(
        postmortem_id=postmortem.id,
        action_item_id=items[index].id if index is not None and index < len(items) else None,
        rule=data.rule,
        path=data.path,
        fingerprint=check_waivers.fingerprint(snapshot, data.rule, data.path, matching[0].message),
        reason=data.reason,
        created_by=caller.actor,
    )
    session.add(waiver)
    session.flush()
    _record_on_item(session, waiver, caller, "check_waived", data.reason)
    if items_after_publish.is_live(postmortem):
        # A draft added after publishing and held by this finding opens now, if nothing else
        # holds it.
        items_after_publish.open_cleared(
            session,
            postmortem,
            items_after_publish.item_report(session, postmortem, policy),
            caller,
            trigger=f"finding '{data.rule}' at '{data.path}' waived",
        )
    return _read(waiver, stale=False, applies=True)


def _waivers_of(session: Session, postmortem_id: UUID) -> list[CheckWaiver]:
    return list(
        session.exec(
            select(CheckWaiver)
            .where(CheckWaiver.postmortem_id == postmortem_id)
            .order_by(col(CheckWaiver.created_at), col(CheckWaiver.id))
        )
    )


def list_waivers(session: Session, postmortem_id: UUID, policy: CheckPolicy) -> CheckWaiverList:
    """Every waiver of the postmortem, withdrawn ones included, oldest first; each says whether
    its text has changed since (`stale`) and whether it waives a finding now (`applies`)."""
    postmortem = postmortems_service.get(session, postmortem_id)
    snapshot = checks_service.snapshot(session, postmortem)
    report = checks_service.run(session, postmortem, policy)
    applied = {f.waiver.id for f in report.findings if f.waiver is not None}
    messages = {(f.rule, f.path): f.message for f in report.findings}
    items = []
    for waiver in _waivers_of(session, postmortem.id):
        stale = waiver.withdrawn_at is None and waiver.fingerprint != check_waivers.fingerprint(
            snapshot, waiver.rule, waiver.path, messages.get((waiver.rule, waiver.path))
        )
        items.append(_read(waiver, stale=stale, applies=waiver.id in applied))
    return CheckWaiverList(items=items)


def withdraw(
    session: Session, postmortem_id: UUID, waiver_id: UUID, caller: Caller
) -> CheckWaiverRead:
    """Withdraw a waiver: the finding counts again. The row stays, with who withdrew it and
    when."""
    postmortem = postmortems_service.get(session, postmortem_id, for_update=True)
    waiver = session.get(CheckWaiver, waiver_id)
    if waiver is None or waiver.postmortem_id != postmortem.id:
        raise NotFound(f"No waiver with id {waiver_id} on postmortem {postmortem_id}")
    if waiver.withdrawn_at is not None:
        raise Conflict(
            f"Waiver {waiver_id} ('{waiver.rule}' at '{waiver.path}') was already withdrawn by "
            f"{waiver.withdrawn_by} at {waiver.withdrawn_at.isoformat()}"
        )
    _withdraw(session, waiver, caller, "Waiver withdrawn")
    session.flush()
    return _read(waiver, stale=False, applies=False)
