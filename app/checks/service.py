"""Load a postmortem into a snapshot and run the checks on it."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from sqlmodel import Session, col, select

from app.action_items import service as action_items_service
from app.checks import waivers as check_waivers
from app.checks.rules import (
    ConditionSnapshot,
    DecisionPointSnapshot,
    ItemSnapshot,
    PostmortemSnapshot,
    TimelineNote,
    run_rules,
)
from app.conditions import service as conditions_service
from app.integrations import service as integrations_service
from app.people.models import Person
from app.people.service import account_on
from app.postmortems.models import Postmortem
from app.postmortems.schemas import CheckReport, Finding
from app.settings import CheckPolicy
from app.timeline.models import DecisionPoint, TimelineEntry


def _name_tokens(names: set[str]) -> frozenset[str]:
    """Whole names and their parts of three letters or more, lower-cased."""
    tokens: set[str] = set()
    for name in names:
        tokens.add(name.lower())
        tokens.update(part for part in re.split(r"[^\w'-]+", name.lower()) if len(part) >= 3)
    return frozenset(tokens)


def _person_names(session: Session) -> frozenset[str]:
    names: set[str] = set()
    for handle, display_name in session.exec(select(Person.handle, Person.display_name)):
        names.update((handle, display_name))
    return _name_tokens(names)


def snapshot(session: Session, postmortem: Postmortem) -> PostmortemSnapshot:
    items = action_items_service.to_read(
        session, action_items_service.items_of(session, postmortem.id)
    )
    conditions = conditions_service.of_postmortem(session, postmortem.id)
    # When each entry was written: its written_at when given, else when it reached us.
    recorded = [
        written or received
        for written, received in session.exec(
            select(TimelineEntry.written_at, TimelineEntry.recorded_at).where(
                TimelineEntry.postmortem_id == postmortem.id
            )
        )
    ]
    decision_points = len(
        list(
            session.exec(
                select(DecisionPoint.id).where(DecisionPoint.postmortem_id == postmortem.id)
            )
        )
    )
    # Names in the timelines belong there; the same names in a condition or an item are blame.
    # The rules tell tools among the authors from people, and roles from names.
    notes = [
        TimelineNote(author=author, text=text)
        for author, text in session.exec(
            select(TimelineEntry.author, TimelineEntry.text).where(
                TimelineEntry.postmortem_id == postmortem.id
            )
        )
    ]
    points = [
        DecisionPointSnapshot(
            index=i,
            responder=d.responder,
            decision=d.decision,
            knew=d.knew,
            unsure_of=d.unsure_of,
            would_have_helped=d.would_have_helped,
        )
        for i, d in enumerate(
            session.exec(
                select(DecisionPoint)
                .where(DecisionPoint.postmortem_id == postmortem.id)
                .order_by(col(DecisionPoint.at), col(DecisionPoint.id))
            )
        )
    ]
    routes = {
        item.id: (route.integration.kind, route.integration.name)
        for item in items
        if item.committed
        and (
            route := integrations_service.route_for(
                session,
                team_id=postmortem.team_id,
                tracker=item.tracker,
                project=item.tracker_project,
            )
        )
    }
    owners = {item.owner for item in items if item.owner_kind == "person" and item.owner}
    people = {
        p.handle: p for p in session.exec(select(Person).where(col(Person.handle).in_(owners)))
    }
    return PostmortemSnapshot(
        severity=postmortem.severity,
        resolved_at=postmortem.resolved_at,
        review_held_at=postmortem.review_held_at,
        chain_walk=postmortem.chain_walk or {},
        items=[
            ItemSnapshot(
                index=index,
                title=item.title,
                description=item.description,
                definition_of_done=item.definition_of_done,
                verification=item.verification,
                owner_kind=item.owner_kind,
                owner=item.owner,
                due_date=item.due_date,
                chain_level=item.chain_level.value if item.chain_level else None,
                committed=item.committed,
                tracker=routes[item.id][0] if item.id in routes else None,
                owner_has_tracker_account=_has_account(
                    people.get(item.owner or ""), routes.get(item.id)
                ),
                owner_name=_display_name(people.get(item.owner or "")),
                status=str(item.status),
            )
            for index, item in enumerate(items)
        ],
        conditions=[
            ConditionSnapshot(index=i, description=c.description) for i, c in enumerate(conditions)
        ],
        timeline_recorded_at=recorded,
        decision_point_count=decision_points,
        person_names=_person_names(session),
        now=datetime.now(UTC),
        timeline=notes,
        decision_points=points,
        link_kinds=frozenset(str(link.get("kind", "")) for link in postmortem.links or []),
        texts=[postmortem.title, postmortem.summary, postmortem.user_impact],
    )


def _display_name(person: Person | None) -> str | None:
    return person.display_name if person is not None else None


def _has_account(person: Person | None, route: tuple[str, str] | None) -> bool | None:
    if person is None or route is None:
        return None
    return account_on(person, *route) is not None


def run(session: Session, postmortem: Postmortem, policy: CheckPolicy) -> CheckReport:
    state = snapshot(session, postmortem)
    findings = [
        Finding(rule=f.rule, severity=f.severity, path=f.path, message=f.message)
        for f in run_rules(state, policy)
    ]
    # Waived findings stay in the report but count for nothing.
    findings = check_waivers.apply(session, postmortem.id, findings, state)
    counts = {
        level: sum(1 for f in findings if f.severity == level and not f.waived)
        for level in ("error", "warning", "info")
    }
    return CheckReport(
        postmortem_id=postmortem.id,
        publishable=counts["error"] == 0,
        counts=counts,
        findings=findings,
    )
