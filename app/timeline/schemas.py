from datetime import datetime
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict

from app.enums import DecisionKind, TimelineKind
from app.validation import LongText, Name, NonBlankText


class TimelineEntryCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    at: AwareDatetime
    author: Name
    kind: TimelineKind
    text: NonBlankText


class TimelineEntryUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    at: AwareDatetime | None = None
    author: Name | None = None
    kind: TimelineKind | None = None
    text: NonBlankText | None = None


class TimelineEntryRead(BaseModel):
    id: UUID
    postmortem_id: UUID
    at: datetime
    author: str
    kind: TimelineKind
    text: str
    recorded_at: datetime
    updated_at: datetime
    version: int
    written_during_incident: bool | None


class TimelineEntryRevisionRead(BaseModel):
    version: int
    at: datetime
    author: str
    kind: TimelineKind
    text: str
    written_at: datetime
    replaced_at: datetime | None
    replaced_by: str | None


class TimelineEntryHistory(BaseModel):
    entry_id: UUID
    versions: list[TimelineEntryRevisionRead]


class TimelineList(BaseModel):
    items: list[TimelineEntryRead]


class DecisionPointCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    at: AwareDatetime
    responder: Name
    decision_kind: DecisionKind
    decision: LongText = ""
    knew: LongText = ""
    unsure_of: LongText = ""
    would_have_helped: LongText = ""


class DecisionPointUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    at: AwareDatetime | None = None
    responder: Name | None = None
    decision_kind: DecisionKind | None = None
    decision: LongText | None = None
    knew: LongText | None = None
    unsure_of: LongText | None = None
    would_have_helped: LongText | None = None


class DecisionPointRead(BaseModel):
    id: UUID
    postmortem_id: UUID
    at: datetime
    responder: str
    decision_kind: DecisionKind
    decision: str
    knew: str
    unsure_of: str
    would_have_helped: str
    recorded_at: datetime
    # Minutes from the first alert (or detection) to this decision: the gap to act.
    minutes_since_alert: float | None


class DecisionPointList(BaseModel):
    items: list[DecisionPointRead]
