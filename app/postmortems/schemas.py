from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from app.action_items.schemas import ActionItemCreate, ActionItemRead
from app.conditions.schemas import ConditionCreate, ConditionRead, Tags
from app.enums import Contributed, LinkKind, PostmortemStatus, Severity
from app.postmortems.outcome import OutcomeComparison
from app.timeline.schemas import (
    DecisionPointCreate,
    DecisionPointRead,
    TimelineEntryCreate,
    TimelineEntryRead,
)
from app.validation import LongText, Slug, Url, ZonedDateTime

IncidentRef = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
ServiceName = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        min_length=1,
        max_length=100,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]*$",
    ),
]
Services = Annotated[list[ServiceName], Field(max_length=50)]

INCIDENT_TIMES = ("started_at", "detected_at", "mitigated_at", "resolved_at")


class Link(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: LinkKind
    url: Url
    title: Annotated[str, StringConstraints(max_length=300)] = ""


class ChainLevelAnswer(BaseModel):
    model_config = ConfigDict(extra="forbid")
    contributed: Contributed = Contributed.UNKNOWN
    note: LongText = ""


class ChainWalk(BaseModel):
    """For each level (L1 strategy .. L5 operation): did it produce or fail to catch the incident?"""

    model_config = ConfigDict(extra="forbid")
    L1: ChainLevelAnswer = ChainLevelAnswer()
    L2: ChainLevelAnswer = ChainLevelAnswer()
    L3: ChainLevelAnswer = ChainLevelAnswer()
    L4: ChainLevelAnswer = ChainLevelAnswer()
    L5: ChainLevelAnswer = ChainLevelAnswer()


class CaughtEarlier(BaseModel):
    model_config = ConfigDict(extra="forbid")
    detect: LongText = ""
    contain: LongText = ""
    resolve: LongText = ""


ReviewerName = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]


class ReviewLeads(BaseModel):
    """Who led the review."""

    model_config = ConfigDict(extra="forbid")
    incident_commander: ReviewerName = ""
    scribe: ReviewerName = ""


class ReviewAnswers(BaseModel):
    """The review questions, answered in the team's words."""

    model_config = ConfigDict(extra="forbid")
    surprises: LongText = Field(
        "", description="What surprised us; what did we believe that was wrong"
    )
    conditions: LongText = Field("", description="What conditions made this possible")
    slowed_detection: LongText = ""
    slowed_diagnosis: LongText = ""
    slowed_resolution: LongText = ""
    possible_elsewhere: Contributed = Field(
        Contributed.UNKNOWN, description="Is this failure mode possible elsewhere"
    )
    elsewhere_note: LongText = ""
    caught_earlier: CaughtEarlier = CaughtEarlier()
    knowledge_gaps: LongText = Field("", description="Who knew things that others didn't")
    knew_enough_to_resolve: LongText = Field(
        "",
        description="At what point did we know enough to resolve it, and what happened between "
        "then and resolution",
    )
    for_category_not_to_happen: LongText = Field(
        "", description="What would need to be true for this category not to happen"
    )
    led_by: ReviewLeads = ReviewLeads()


def check_chronology(values: dict[str, Any]) -> list[tuple[str, str]]:
    """Pairs of (field, message) where incident times run backwards."""
    problems = []
    previous: tuple[str, datetime] | None = None
    for name in INCIDENT_TIMES:
        value = values.get(name)
        if value is None:
            continue
        if previous is not None and value < previous[1]:
            problems.append(
                (
                    name,
                    f"{name} ({value.isoformat()}) is before {previous[0]} ({previous[1].isoformat()})",
                )
            )
        previous = (name, value)
    review = values.get("review_held_at")
    started = values.get("started_at")
    if review is not None and started is not None and review < started:
        problems.append(("review_held_at", "review_held_at is before the incident started"))
    return problems


class PostmortemCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: Title
    incident_ref: IncidentRef = Field(
        description="The incident's id in the incident tool; one postmortem per incident"
    )
    incident_url: Url | None = None
    severity: Severity
    started_at: ZonedDateTime
    detected_at: ZonedDateTime | None = None
    mitigated_at: ZonedDateTime | None = None
    resolved_at: ZonedDateTime | None = None
    review_held_at: ZonedDateTime | None = None
    summary: LongText = ""
    user_impact: LongText = ""
    services: Services = []
    team: Slug | None = None
    restricted: bool = Field(
        False,
        description="Visible only to its team's tokens and to admins; left out of other "
        "callers' lists, patterns, related postmortems and the wall",
    )
    tags: Tags = []
    links: Annotated[list[Link], Field(max_length=50)] = []
    chain_walk: ChainWalk = ChainWalk()
    review: ReviewAnswers = ReviewAnswers()
    timeline: Annotated[list[TimelineEntryCreate], Field(max_length=2000)] = []
    decision_points: Annotated[list[DecisionPointCreate], Field(max_length=200)] = []
    conditions: Annotated[list[ConditionCreate], Field(max_length=100)] = []
    action_items: Annotated[list[ActionItemCreate], Field(max_length=100)] = []
    recurrence_of: Annotated[list[UUID], Field(max_length=20)] = Field(
        [], description="Earlier postmortems this incident is a recurrence of"
    )

    @model_validator(mode="after")
    def _times_in_order(self) -> "PostmortemCreate":
        problems = check_chronology(self.model_dump(include={*INCIDENT_TIMES, "review_held_at"}))
        if problems:
            raise ValueError("; ".join(message for _, message in problems))
        return self


class PostmortemUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: Title | None = None
    incident_ref: IncidentRef | None = None
    incident_url: Url | None = None
    severity: Severity | None = None
    started_at: ZonedDateTime | None = None
    detected_at: ZonedDateTime | None = None
    mitigated_at: ZonedDateTime | None = None
    resolved_at: ZonedDateTime | None = None
    review_held_at: ZonedDateTime | None = None
    summary: LongText | None = None
    user_impact: LongText | None = None
    services: Services | None = None
    team: Slug | None = None
    restricted: bool | None = Field(
        None, description="Visible only to its team's tokens and to admins"
    )
    tags: Tags | None = None
    links: Annotated[list[Link], Field(max_length=50)] | None = None
    chain_walk: ChainWalk | None = None
    review: ReviewAnswers | None = None
    status: Literal["draft", "in_review"] | None = Field(
        None, description="Move between draft and in review; publishing has its own call"
    )
    recurrence_of: Annotated[list[UUID], Field(max_length=20)] | None = None


class ReaderCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reader: Slug | None = Field(
        None, description="Handle of the person who read it; default: the calling token's name"
    )


class ReaderRead(BaseModel):
    reader: str
    read_at: datetime = Field(description="The first time this reader acknowledged reading it")
    outside_team: bool | None = Field(
        description="Not on the postmortem's team; null when the reader is no known person or "
        "the postmortem has no team"
    )


class OutsideRead(BaseModel):
    reader: str
    read_at: datetime


class PostmortemRead(BaseModel):
    id: UUID
    title: str
    incident_ref: str
    incident_url: str | None
    severity: Severity
    status: PostmortemStatus
    summary: str
    user_impact: str
    team: str | None
    restricted: bool = Field(description="Visible only to its team's tokens and to admins")
    services: list[str]
    tags: list[str]
    started_at: datetime
    detected_at: datetime | None
    mitigated_at: datetime | None
    resolved_at: datetime | None
    review_held_at: datetime | None
    review_lag_hours: float | None = Field(description="Hours from resolution to the review")
    links: list[Link]
    chain_walk: ChainWalk
    review: ReviewAnswers
    created_by: str
    created_at: datetime
    updated_at: datetime
    published_at: datetime | None
    completed_at: datetime | None
    recurrence_of: list[UUID]
    reads: int = Field(description="People who acknowledged reading it, each counted once")
    read_outside_team: list[OutsideRead] = Field(
        description="Readers from outside the postmortem's team, first read first"
    )
    version: int


class PostmortemDetail(PostmortemRead):
    timeline: list[TimelineEntryRead] = Field(
        description="The first entries of the timeline in incident order, at most 50 (the "
        "Markdown export has all of them); the rest from GET /v1/postmortems/{id}/timeline "
        "with `timeline_next_cursor` as `cursor`"
    )
    timeline_total: int = Field(description="Entries in the whole timeline")
    timeline_next_cursor: str | None = Field(
        description="Cursor for GET /v1/postmortems/{id}/timeline after the embedded entries; "
        "null when the whole timeline is embedded"
    )
    decision_points: list[DecisionPointRead]
    conditions: list[ConditionRead]
    action_items: list[ActionItemRead]
    outcome: list[OutcomeComparison] = Field(
        description="Against each earlier incident this one repeats: was the team better "
        "equipped this time (minutes to detect, mitigate, resolve, and alert to right action)"
    )


class PostmortemList(BaseModel):
    items: list[PostmortemRead]
    next_cursor: str | None


class FindingWaiver(BaseModel):
    """The waiver that applies to a finding: why, who and when."""

    id: UUID
    reason: str
    by: str
    at: datetime


class Finding(BaseModel):
    rule: str
    severity: Literal["error", "warning", "info"]
    path: str
    message: str
    waived: bool = Field(
        False, description="A waiver applies: the finding is shown but counts for nothing"
    )
    waiver: FindingWaiver | None = None


class CheckReport(BaseModel):
    postmortem_id: UUID
    publishable: bool
    counts: dict[str, int]
    findings: list[Finding]
