"""Action items added to or changed on a published postmortem meet the checks that publishing
enforced, before they are opened and ticketed.

Publishing refuses while any check fails at severity error (`postmortems.service.publish`). After
publishing (status published or complete) the same rules hold, item by item:

- A committed item added (or committed) later opens, and gets its ticket, only while no unwaived
  error finding points into it (`action_items[3].owner`, ...) or at the list of items
  (`action_items`, e.g. more committed items than the policy allows). Otherwise it stays a draft
  with no ticket, the answer lists its findings and the history says why.
- Such a held draft opens, through the state machine and with a history row saying why, as soon
  as a later edit fixes its findings or they are waived (`flows.waivers.waive`). Withdrawing a
  waiver later does not close an item that has opened.
- An edit to an item that is already open (or further along) is refused with a 422 listing the
  findings when it would bring an unwaived error finding: a new one, or one at a field the edit
  changes (moving a due date from one past day to another). Findings it leaves alone, such as a
  due date passed since publishing, do not block the edit. Nothing is saved when it is refused.

Waived findings never block, as at publish. A draft item is not committed work until it opens: it
does not count towards the postmortem's completion (`postmortems.completion`).
"""

from __future__ import annotations

import copy
import re
from typing import Any
from uuid import UUID

from sqlmodel import Session

from app.action_items import service as action_items_service
from app.action_items.history import record
from app.action_items.models import ActionItem
from app.action_items.schemas import (
    ActionItemChecked,
    ActionItemCreate,
    ActionItemUpdate,
    ItemFinding,
)
from app.action_items.state import transition
from app.auth.service import Caller
from app.checks import service as checks_service
from app.checks import waivers as check_waivers
from app.enums import ActionItemStatus, PostmortemStatus
from app.errors import InvalidInput
from app.postmortems import service as postmortems_service
from app.postmortems.models import Postmortem
from app.postmortems.schemas import CheckReport, Finding
from app.settings import CheckPolicy
from app.sync import jobs

LIVE = frozenset({PostmortemStatus.PUBLISHED.value, PostmortemStatus.COMPLETE.value})
# Findings on the list of items as a whole (max-committed-items, committed-item-present).
ITEMS_PATH = "action_items"
_FIELD = re.compile(r"^action_items\[\d+\]\.(?P<field>[A-Za-z_]\w*)")
# Rules whose findings are on the postmortem (its links, timeline, review times), never on an
# item, left out when only items are judged: runbook-link reads every timeline entry and takes
# seconds on a timeline of a few thousand entries. GET .../checks still runs every rule.
NEVER_ON_ITEMS = ("runbook-link", "timeline-reconstructed", "review-lag")


def is_live(postmortem: Postmortem) -> bool:
    """Published or complete: its committed items are meant to be open and ticketed."""
    return postmortem.status in LIVE


def findings_on(report: CheckReport, index: int, *, committed: bool = True) -> list[Finding]:
    """The report's findings that point into the item at `index`, and, for a committed item,
    those on the list of items as a whole."""
    return [
        f
        for f in report.findings
        if check_waivers.item_index(f.path) == index or (committed and f.path == ITEMS_PATH)
    ]


def item_report(session: Session, postmortem: Postmortem, policy: CheckPolicy) -> CheckReport:
    """The checks as they bear on items: every rule but those in NEVER_ON_ITEMS."""
    disabled = [*policy.disabled_rules, *NEVER_ON_ITEMS]
    return checks_service.run(
        session, postmortem, policy.model_copy(update={"disabled_rules": disabled})
    )


def blocking(findings: list[Finding]) -> list[Finding]:
    """The ones that keep an item from opening: errors no waiver covers."""
    return [f for f in findings if f.severity == "error" and not f.waived]


def add(
    session: Session,
    postmortem: Postmortem,
    data: ActionItemCreate,
    caller: Caller,
    policy: CheckPolicy,
) -> ActionItemChecked:
    """Add an item. On a published or complete postmortem a committed item opens and is queued
    for its ticket when the checks pass; with an unwaived error finding it stays a draft."""
    item = action_items_service.create(session, postmortem, data, caller)
    if not is_live(postmortem):
        return _read(session, item, None)
    report = item_report(session, postmortem, policy)
    findings = findings_on(
        report, _index(session, postmortem.id, item.id), committed=item.committed
    )
    if item.committed:
        open_cleared(session, postmortem, report, caller, trigger="added to a published postmortem")
        if item.status == ActionItemStatus.DRAFT.value:
            _record_held(session, item, caller, blocking(findings))
    return _read(session, item, findings)


def update(
    session: Session,
    item_id: UUID,
    data: ActionItemUpdate,
    caller: Caller,
    policy: CheckPolicy,
    *,
    if_match: str | None,
) -> ActionItemChecked:
    """Edit an item; on a published or complete postmortem, keep the checks true (see the
    module docstring)."""
    postmortem_id = action_items_service.get(session, item_id).postmortem_id
    # The postmortem first, then the item, as publishing and waiving lock them: one evaluation
    # of its drafts at a time.
    postmortem = postmortems_service.get(session, postmortem_id, for_update=True)
    if not is_live(postmortem):
        item = action_items_service.update(session, item_id, data, caller, if_match=if_match)
        return _read(session, item, None)
    item = action_items_service.get(session, item_id, for_update=True)
    index = _index(session, postmortem.id, item.id)
    guarded = item.status != ActionItemStatus.DRAFT.value
    before: set[tuple[str, str]] = set()
    if guarded:
        earlier = item_report(session, postmortem, policy)
        before = {(f.rule, f.path) for f in blocking(findings_on(earlier, index))}
    content = _content(item)
    was_committed = item.committed

    item = action_items_service.update(session, item_id, data, caller, if_match=if_match)
    report = item_report(session, postmortem, policy)
    findings = findings_on(report, index, committed=item.committed)
    if guarded:
        changed = {name for name, value in _content(item).items() if content[name] != value}
        brought = [f for f in blocking(findings) if _brought_by(f, before, changed)]
        if brought:
            # Raised after the flush: the request's transaction is rolled back, so nothing of
            # the edit (content, version, history, jobs) is kept.
            raise _refusal(item, postmortem, brought)
    trigger = "committed" if item.committed and not was_committed else "edited"
    open_cleared(session, postmortem, report, caller, trigger=trigger)
    if trigger == "committed" and item.status == ActionItemStatus.DRAFT.value:
        _record_held(session, item, caller, blocking(findings))
    return _read(session, item, findings)


def open_cleared(
    session: Session, postmortem: Postmortem, report: CheckReport, caller: Caller, *, trigger: str
) -> list[ActionItem]:
    """Open every committed draft of a published postmortem that the checks no longer hold
    back, and queue its ticket, in the caller's transaction. `report` must be current."""
    if not is_live(postmortem):
        return []
    on_list = blocking([f for f in report.findings if f.path == ITEMS_PATH])
    opened = []
    for index, candidate in enumerate(action_items_service.items_of(session, postmortem.id)):
        if not candidate.committed or candidate.status != ActionItemStatus.DRAFT.value:
            continue
        if on_list or blocking(findings_on(report, index, committed=False)):
            continue
        item = session.get(ActionItem, candidate.id, with_for_update=True, populate_existing=True)
        if item is None or item.status != ActionItemStatus.DRAFT.value or not item.committed:
            continue
        transition(
            session,
            item,
            ActionItemStatus.OPEN,
            action_items_service.api_cause(caller),
            note=f"{trigger}: the checks pass, so it opens on the published postmortem",
        )
        jobs.enqueue(session, jobs.CREATE, action_item_id=item.id)
        opened.append(item)
    return opened


def _brought_by(finding: Finding, before: set[tuple[str, str]], changed: set[str]) -> bool:
    """Whether the edit brought this blocking finding: it is new, or it sits at a field the
    edit changed. Findings on the whole list count only when the edit (re)committed the item:
    editing one item's text makes a waiver of the list stale without adding to the list."""
    if finding.path == ITEMS_PATH:
        return "committed" in changed and (finding.rule, finding.path) not in before
    if (finding.rule, finding.path) not in before:
        return True
    match = _FIELD.match(finding.path)
    return bool(changed) if match is None else match.group("field") in changed


def _refusal(item: ActionItem, postmortem: Postmortem, findings: list[Finding]) -> InvalidInput:
    return InvalidInput(
        f"This change would give the {item.status} action item {len(findings)} error finding(s) "
        "of the checks, which held when the postmortem was published; nothing was changed. Fix "
        "the fields named, or waive a finding the item has now through "
        f"POST /v1/postmortems/{postmortem.id}/checks/waivers",
        errors=[{"path": f.path, "message": f"[{f.rule}] {f.message}"} for f in findings],
        extra={"findings": [f.model_dump(mode="json") for f in findings]},
    )


def _record_held(
    session: Session, item: ActionItem, caller: Caller, findings: list[Finding]
) -> None:
    record(
        session,
        item,
        source="api",
        actor=caller.actor,
        kind="held_by_checks",
        changes={"findings": [{"rule": f.rule, "path": f.path} for f in findings]},
        note=f"Stays a draft with no ticket: {len(findings)} error finding(s) of the checks; it "
        "opens when an edit fixes them or they are waived",
    )


def _content(item: ActionItem) -> dict[str, Any]:
    """What an edit can change, with the owner under the name the findings use."""
    values = {
        name: copy.deepcopy(getattr(item, name)) for name in action_items_service.CONTENT_FIELDS
    }
    values["owner"] = (item.owner_person_id, item.owner_team_id)
    return values


def _index(session: Session, postmortem_id: UUID, item_id: UUID) -> int:
    """The item's place in the postmortem's items: the index the findings' paths use."""
    ids = [i.id for i in action_items_service.items_of(session, postmortem_id)]
    return ids.index(item_id)


def _read(session: Session, item: ActionItem, findings: list[Finding] | None) -> ActionItemChecked:
    read = action_items_service.to_read(session, [item])[0]
    held = (
        findings is not None
        and item.committed
        and item.status == ActionItemStatus.DRAFT.value
        and bool(blocking(findings))
    )
    return ActionItemChecked(
        **read.model_dump(),
        findings=None
        if findings is None
        else [
            ItemFinding(
                rule=f.rule,
                severity=f.severity,
                path=f.path,
                message=f.message,
                waived=f.waived,
                waiver_id=f.waiver.id if f.waiver else None,
            )
            for f in findings
        ],
        held_by_checks=held,
    )
