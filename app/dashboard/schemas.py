from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, Field

from app.postmortems.outcome import OutcomeComparison


class Period(BaseModel):
    since: datetime
    until: datetime


class ItemCounts(BaseModel):
    committed: int
    open: int = Field(description="draft, open or reopened")
    closed: int = Field(description="closed as done, not yet verified")
    wont_do: int
    verified: int
    overdue: int


class OldestOpen(BaseModel):
    id: UUID
    title: str
    owner: str | None
    age_days: float
    ticket_url: str | None
    postmortem_id: UUID


class Recurrences(BaseModel):
    total: int = Field(description="Period postmortems linked to an earlier one they repeat")
    earlier_complete: int = Field(
        description="The earlier postmortem was complete before this incident: the fix did not hold"
    )
    earlier_not_complete: int
    outcomes: list[OutcomeComparison] = Field(
        description="Each repeat against the earlier incident: was the team better equipped"
    )
    by_verdict: dict[str, int] = Field(
        description="How many of those comparisons came out better, worse, mixed, same, unknown"
    )


class PublishedWithWaivers(BaseModel):
    postmortems: int = Field(
        description="Period postmortems published while at least one waiver applied"
    )
    waivers: int = Field(description="Waivers that applied when those postmortems were published")


class Summary(BaseModel):
    period: Period
    postmortems: int
    postmortems_complete: int
    postmortems_not_complete: int
    action_items: ItemCounts
    oldest_unclosed: OldestOpen | None
    completion_rate: float | None = Field(description="verified / committed")
    close_rate: float | None = Field(description="(closed + verified) / committed")
    median_days_to_close: float | None
    median_days_to_verify: float | None
    median_review_lag_hours: float | None
    reviewed_within_window_share: float | None = Field(
        description="of postmortems with a resolution time"
    )
    timeline_during_incident_share: float | None = Field(
        description="of postmortems with a timeline and a resolution time"
    )
    fixes_by_chain_level: dict[str, int]
    recurrences: Recurrences
    read_outside_team_share: float | None = Field(
        description="Of the period's published postmortems whose read window has passed (or "
        "that were read in it): read by someone outside the team within the window after "
        "publishing"
    )
    published_with_waivers: PublishedWithWaivers


class Breakdown(BaseModel):
    group_by: str
    groups: dict[str, Summary]


class DashboardItem(BaseModel):
    id: UUID
    title: str
    owner: str | None
    team: str | None
    status: str
    due_date: str | None
    overdue: bool
    age_days: float
    ticket_key: str | None
    ticket_url: str | None
    sync_state: str | None
    postmortem_id: UUID


class DashboardItems(BaseModel):
    items: list[DashboardItem]
