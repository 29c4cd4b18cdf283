from datetime import date, datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from app.enums import ActionItemStatus, ChainLevel, Priority, Purpose, SyncState, TrackerKind
from app.validation import IsoDate, LongText, Name, NonBlankText, Slug

Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
Criterion = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
DefinitionOfDone = Annotated[list[Criterion], Field(max_length=30)]
Project = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class ActionItemCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: Title
    description: LongText = ""
    definition_of_done: DefinitionOfDone = []
    verification: LongText = ""
    owner: Slug | None = Field(None, description="Handle of the person who owns it")
    due_date: IsoDate | None = None
    chain_level: ChainLevel | None = None
    purpose: Purpose | None = None
    priority: Priority = Priority.MEDIUM
    committed: bool = Field(
        True, description="False: a thing to remain aware of; kept, never synced"
    )
    tracker: TrackerKind | None = None
    tracker_project: Project | None = None


class ActionItemUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: Title | None = None
    description: LongText | None = None
    definition_of_done: DefinitionOfDone | None = None
    verification: LongText | None = None
    owner: Slug | None = None
    due_date: IsoDate | None = None
    chain_level: ChainLevel | None = None
    purpose: Purpose | None = None
    priority: Priority | None = None
    committed: bool | None = None
    tracker: TrackerKind | None = None
    tracker_project: Project | None = None


class ActionItemRead(BaseModel):
    id: UUID
    postmortem_id: UUID
    title: str
    description: str
    definition_of_done: list[str]
    verification: str
    owner: str | None
    owner_kind: Literal["person", "team"] | None
    due_date: date | None
    overdue: bool
    chain_level: ChainLevel | None
    purpose: Purpose | None
    priority: Priority
    committed: bool
    tracker: TrackerKind | None
    tracker_project: str | None
    status: ActionItemStatus
    requested_status: ActionItemStatus | None = Field(
        description="A close, won't-do or reopen sent to the ticket and not yet confirmed by "
        "the tracker; the status follows when it is"
    )
    closed_at: datetime | None
    verified_at: datetime | None
    verified_by: str | None
    verification_evidence: str | None
    sync_state: SyncState | None = Field(description="None until the item needs a ticket")
    sync_error: str | None
    last_synced_at: datetime | None
    ticket_key: str | None = Field(description='The ticket as its tracker names it, e.g. "OPS-42"')
    ticket_url: str | None
    created_at: datetime
    updated_at: datetime
    version: int


class ItemFinding(BaseModel):
    """A finding of the checks that points into this item (or at the list of items), as
    `GET /v1/postmortems/{id}/checks` reports it."""

    rule: str
    severity: Literal["error", "warning", "info"]
    path: str = Field(description="Where, as the checks name it: `action_items[3].due_date`")
    message: str
    waived: bool = Field(description="A waiver applies: shown, but it blocks nothing")
    waiver_id: UUID | None = None


class ActionItemChecked(ActionItemRead):
    """An item as added or changed, with what the checks say about it."""

    findings: list[ItemFinding] | None = Field(
        description="On a published or complete postmortem: the checks' findings on this item, "
        "and on the list of items (e.g. too many committed). None before publishing, when the "
        "checks run at publish (`GET /v1/postmortems/{id}/checks`)"
    )
    held_by_checks: bool = Field(
        description="A committed item on a published postmortem that stays a draft, with no "
        "ticket, while an unwaived error finding is listed; it opens and gets its ticket when "
        "a later edit fixes them or they are waived"
    )


class ActionItemList(BaseModel):
    items: list[ActionItemRead]
    next_cursor: str | None


class CloseRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    resolution: Literal["done", "wont_do"] = "done"
    note: LongText | None = None


class ReopenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: NonBlankText


class VerifyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    evidence: NonBlankText = Field(
        description="What shows the fix works: a test run, a drill, a graph"
    )
    evidence_url: (
        Annotated[str, StringConstraints(pattern=r"^https?://\S+$", max_length=2000)] | None
    ) = None
    verified_by: Name | None = Field(
        None, description="Who verified it; defaults to the token's name"
    )


class LinkRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ticket: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)
    ] = Field(description="The ticket's URL or key (acme/api#12, OPS-42, ENG-7)")
    integration_id: UUID | None = Field(
        None, description="Defaults to the integration the item routes to"
    )


class SyncReport(BaseModel):
    action_item_id: UUID
    jobs_due_now: int
    sync_state: SyncState | None


class ActionItemEventRead(BaseModel):
    id: UUID
    at: datetime
    source: str
    actor: str
    kind: str
    from_status: ActionItemStatus | None
    to_status: ActionItemStatus | None
    changes: dict[str, object]
    note: str | None


class ActionItemHistory(BaseModel):
    action_item_id: UUID
    events: list[ActionItemEventRead]
