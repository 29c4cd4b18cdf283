"""The meta-review: what recurs across the period's postmortems ("three of five blamed DNS")."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from uuid import UUID

from pydantic import BaseModel
from sqlmodel import Session, col, select

from app.auth import boundary
from app.auth.service import Caller
from app.conditions.models import ContributingCondition
from app.dashboard.schemas import Period
from app.postmortems.models import Postmortem, PostmortemService

KINDS = ("failure_mode", "service", "condition_category", "chain_level", "slowed_detection")


class PatternPostmortem(BaseModel):
    id: UUID
    title: str
    incident_ref: str
    started_at: datetime


class Pattern(BaseModel):
    kind: str
    value: str
    count: int
    postmortems: list[PatternPostmortem]


class Patterns(BaseModel):
    period: Period
    postmortems: int
    patterns: list[Pattern]


def _normalise(text: str) -> str:
    return " ".join(text.lower().split()).strip(" .")


def find(
    session: Session, period: Period, minimum: int = 2, caller: Caller | None = None
) -> Patterns:
    """Every value of each kind shared by at least `minimum` of the postmortems the caller may
    see, strongest first."""
    postmortems = {
        pm.id: pm
        for pm in session.exec(
            select(Postmortem).where(
                col(Postmortem.started_at) >= period.since,
                col(Postmortem.started_at) < period.until,
                boundary.postmortems_where(caller),
            )
        )
    }
    ids = list(postmortems)
    seen: dict[tuple[str, str], set[UUID]] = defaultdict(set)
    if ids:
        for pm_id, modes, category in session.exec(
            select(
                ContributingCondition.postmortem_id,
                ContributingCondition.failure_modes,
                ContributingCondition.category,
            ).where(col(ContributingCondition.postmortem_id).in_(ids))
        ):
            for mode in modes or []:
                seen[("failure_mode", mode)].add(pm_id)
            seen[("condition_category", category)].add(pm_id)
        for pm_id, name in session.exec(
            select(PostmortemService.postmortem_id, PostmortemService.name).where(
                col(PostmortemService.postmortem_id).in_(ids)
            )
        ):
            seen[("service", name)].add(pm_id)
    for pm in postmortems.values():
        for level, answer in (pm.chain_walk or {}).items():
            if (answer or {}).get("contributed") == "yes":
                seen[("chain_level", level)].add(pm.id)
        slowed = _normalise(str((pm.review or {}).get("slowed_detection") or ""))
        if slowed:
            seen[("slowed_detection", slowed)].add(pm.id)
    patterns = [
        Pattern(
            kind=kind,
            value=value,
            count=len(members),
            postmortems=[
                PatternPostmortem(
                    id=postmortems[m].id,
                    title=postmortems[m].title,
                    incident_ref=postmortems[m].incident_ref,
                    started_at=postmortems[m].started_at,
                )
                for m in sorted(
                    members, key=lambda m: (postmortems[m].started_at, postmortems[m].incident_ref)
                )
            ],
        )
        for (kind, value), members in seen.items()
        if len(members) >= minimum
    ]
    patterns.sort(key=lambda p: (-p.count, KINDS.index(p.kind), p.value))
    return Patterns(period=period, postmortems=len(postmortems), patterns=patterns)
