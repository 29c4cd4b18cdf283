from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated
from uuid import UUID

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from app.enums import DecisionKind, TimelineKind
from app.validation import LongText, Name, NonBlankText, ZonedDateTime


class TimelineSource(StrEnum):
    API = "api"
    IMPORT = "import"


def _not_after_receipt(value: datetime) -> datetime:
    now = datetime.now(UTC)
    if value > now:
        raise ValueError(
            f"{value.isoformat()} is later than the entry reached the service "
            f"({now.isoformat(timespec='seconds')}): an entry cannot be written in the future"
        )
    return value


WrittenAt = Annotated[
    ZonedDateTime,
    AfterValidator(_not_after_receipt),
    Field(
        description="When the note was written (the chat message or note it came from); never "
        "later than it reaches the service. Without it, the time it reached the service counts."
    ),
]


class TimelineEntryCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    at: ZonedDateTime
    author: Name
    kind: TimelineKind
    text: NonBlankText
    written_at: WrittenAt | None = None


class TimelineEntryUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    at: ZonedDateTime | None = None
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
    written_at: datetime | None
    source: TimelineSource
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
    next_cursor: str | None = Field(
        description="Pass back as `cursor` for the next entries; null after the last one"
    )


class TimelineImportFormat(StrEnum):
    SLACK = "slack"
    LINES = "lines"


class TimelineImportSkip(BaseModel):
    path: str = Field(description="`body[3]` for the fourth Slack message, `line 4` for a line")
    reason: str
    excerpt: str


class TimelineImportRead(BaseModel):
    format: TimelineImportFormat
    imported: int
    duplicates: int = Field(description="Messages already in the timeline (or twice in the body)")
    skipped: list[TimelineImportSkip] = Field(description="Every message or line not imported")
    items: list[TimelineEntryRead] = Field(description="The entries created, in incident order")


class DecisionPointCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    at: ZonedDateTime
    responder: Name
    decision_kind: DecisionKind
    decision: LongText = ""
    knew: LongText = ""
    unsure_of: LongText = ""
    would_have_helped: LongText = ""


class DecisionPointUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    at: ZonedDateTime | None = None
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
