"""The outcome test of a recurrence: was the team better equipped this time than last time?

For a postmortem that repeats earlier ones (`recurrence_of`), each earlier incident is compared
with this one on four measures, in minutes: to detect, to mitigate and to resolve (each from the
incident's start), and the gap from the first alert to the right action. Nothing is stored; the
postmortem read, its Markdown, the dashboard's recurrences and the quarterly review all ask here.

The alert-to-right-action gap is measured as the responder timeline already measures it (minutes
from the first alert entry, else detection, to a decision point). The right action is the last
first action or rollback taken at or before mitigation (resolution when no mitigation time is
recorded): earlier actions did not stop the incident, and later ones came after it was stopped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, Field
from sqlmodel import Session, col, func, select

from app.enums import DecisionKind, TimelineKind
from app.postmortems.models import Postmortem, PostmortemRecurrence
from app.timeline.models import DecisionPoint, TimelineEntry

Verdict = Literal["better", "worse", "same", "unknown"]
OverallVerdict = Literal["better", "worse", "mixed", "same", "unknown"]
MeasureName = Literal["detect", "mitigate", "resolve", "alert_to_right_action"]

MEASURES: tuple[MeasureName, ...] = ("detect", "mitigate", "resolve", "alert_to_right_action")
MEASURE_LABELS: dict[MeasureName, str] = {
    "detect": "Time to detect",
    "mitigate": "Time to mitigate",
    "resolve": "Time to resolve",
    "alert_to_right_action": "Alert to right action",
}
RIGHT_ACTION_KINDS = (DecisionKind.FIRST_ACTION.value, DecisionKind.ROLLBACK.value)


class MeasureComparison(BaseModel):
    measure: MeasureName
    now_minutes: float | None = Field(description="This incident")
    then_minutes: float | None = Field(description="The earlier incident")
    difference_minutes: float | None = Field(description="now - then: negative is faster")
    verdict: Verdict = Field(description="Lower is better; unknown when either time is missing")


class OutcomeComparison(BaseModel):
    """This incident against one earlier incident it repeats."""

    postmortem_id: UUID
    incident_ref: str
    earlier_id: UUID
    earlier_incident_ref: str
    earlier_title: str
    verdict: OverallVerdict = Field(
        description="better: some measures better and none worse; worse: the reverse; mixed: "
        "both; same: every known measure the same; unknown: no measure known on both sides"
    )
    measures: list[MeasureComparison]


@dataclass
class _Incident:
    id: UUID
    incident_ref: str
    title: str
    started_at: datetime
    detected_at: datetime | None
    mitigated_at: datetime | None
    resolved_at: datetime | None
    first_alert_at: datetime | None = None
    actions: list[datetime] = field(default_factory=list)

    def minutes(self) -> dict[MeasureName, float | None]:
        return {
            "detect": _minutes(self.started_at, self.detected_at),
            "mitigate": _minutes(self.started_at, self.mitigated_at),
            "resolve": _minutes(self.started_at, self.resolved_at),
            "alert_to_right_action": self._right_action_gap(),
        }

    def _right_action_gap(self) -> float | None:
        alert = self.first_alert_at or self.detected_at
        stopped = self.mitigated_at or self.resolved_at
        if alert is None or stopped is None:
            return None
        taken = [at for at in self.actions if at <= stopped]
        return _minutes(alert, max(taken)) if taken else None


def _minutes(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return round((end - start).total_seconds() / 60, 1)


def _verdict(now: float | None, then: float | None) -> Verdict:
    if now is None or then is None:
        return "unknown"
    if now < then:
        return "better"
    if now > then:
        return "worse"
    return "same"


def _overall(verdicts: list[Verdict]) -> OverallVerdict:
    known = {v for v in verdicts if v != "unknown"}
    if not known:
        return "unknown"
    if "better" in known and "worse" in known:
        return "mixed"
    if "better" in known:
        return "better"
    if "worse" in known:
        return "worse"
    return "same"


def compare(now: _Incident, then: _Incident) -> OutcomeComparison:
    now_minutes, then_minutes = now.minutes(), then.minutes()
    measures = []
    for name in MEASURES:
        a, b = now_minutes[name], then_minutes[name]
        measures.append(
            MeasureComparison(
                measure=name,
                now_minutes=a,
                then_minutes=b,
                difference_minutes=round(a - b, 1) if a is not None and b is not None else None,
                verdict=_verdict(a, b),
            )
        )
    return OutcomeComparison(
        postmortem_id=now.id,
        incident_ref=now.incident_ref,
        earlier_id=then.id,
        earlier_incident_ref=then.incident_ref,
        earlier_title=then.title,
        verdict=_overall([m.verdict for m in measures]),
        measures=measures,
    )


def _incidents(session: Session, ids: set[UUID]) -> dict[UUID, _Incident]:
    wanted = list(ids)
    incidents = {
        pm.id: _Incident(
            id=pm.id,
            incident_ref=pm.incident_ref,
            title=pm.title,
            started_at=pm.started_at,
            detected_at=pm.detected_at,
            mitigated_at=pm.mitigated_at,
            resolved_at=pm.resolved_at,
        )
        for pm in session.exec(select(Postmortem).where(col(Postmortem.id).in_(wanted)))
    }
    for pm_id, first in session.exec(
        select(TimelineEntry.postmortem_id, func.min(TimelineEntry.at))
        .where(
            col(TimelineEntry.postmortem_id).in_(wanted),
            TimelineEntry.kind == TimelineKind.ALERT.value,
        )
        .group_by(col(TimelineEntry.postmortem_id))
    ):
        incidents[pm_id].first_alert_at = first
    for pm_id, at in session.exec(
        select(DecisionPoint.postmortem_id, DecisionPoint.at).where(
            col(DecisionPoint.postmortem_id).in_(wanted),
            col(DecisionPoint.decision_kind).in_(RIGHT_ACTION_KINDS),
        )
    ):
        incidents[pm_id].actions.append(at)
    return incidents


def of_postmortems(
    session: Session, postmortem_ids: Sequence[UUID]
) -> dict[UUID, list[OutcomeComparison]]:
    """For each postmortem, one comparison per earlier incident it repeats, oldest first."""
    result: dict[UUID, list[OutcomeComparison]] = {i: [] for i in postmortem_ids}
    if not postmortem_ids:
        return result
    pairs = list(
        session.exec(
            select(PostmortemRecurrence.postmortem_id, PostmortemRecurrence.earlier_id).where(
                col(PostmortemRecurrence.postmortem_id).in_(list(postmortem_ids))
            )
        )
    )
    if not pairs:
        return result
    incidents = _incidents(session, {i for pair in pairs for i in pair})
    pairs.sort(key=lambda p: (incidents[p[1]].started_at, str(p[1])))
    for pm_id, earlier_id in pairs:
        result[pm_id].append(compare(incidents[pm_id], incidents[earlier_id]))
    return result


def of_postmortem(session: Session, postmortem_id: UUID) -> list[OutcomeComparison]:
    return of_postmortems(session, [postmortem_id])[postmortem_id]


def minutes_text(value: float | None) -> str:
    return "n/a" if value is None else f"{value:g} min"


def now_vs_then(measure: MeasureComparison) -> str:
    """One measure in a sentence-sized cell: "12 min vs 30 min (better)"."""
    return (
        f"{minutes_text(measure.now_minutes)} vs {minutes_text(measure.then_minutes)} "
        f"({measure.verdict})"
    )
