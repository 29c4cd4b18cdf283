from datetime import datetime
from uuid import UUID, uuid4

from sqlalchemy import Index
from sqlmodel import Column, Field, SQLModel, Text

from app.db import UTCDateTime, utcnow


class TimelineEntry(SQLModel, table=True):
    """A rough, as-it-happened note. `recorded_at` is when it reached the service, set by the
    server; `written_at`, when given, is when it was written (the chat message or note it came
    from), never later than `recorded_at`."""

    __tablename__ = "timeline_entry"
    # The dashboard's "written during the incident" share reads a period's entries off this
    # index alone.
    __table_args__ = (
        Index(
            "ix_timeline_entry_period",
            "incident_started_at",
            "postmortem_id",
            "recorded_at",
            "incident_resolved_at",
        ),
    )

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    postmortem_id: UUID = Field(foreign_key="postmortem.id", index=True, ondelete="CASCADE")
    # Copies of the postmortem's started_at and resolved_at, kept in step by the postmortem
    # service, so that a period's entries, and whether each was written after resolution, are
    # one index range.
    incident_started_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    incident_resolved_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    author: str = Field(max_length=200)
    kind: str = Field(max_length=20)
    text: str = Field(sa_column=Column(Text, nullable=False))
    recorded_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
    written_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    # "api" for entries sent one by one (or with the postmortem), "import" for a channel import.
    source: str = Field(default="api", max_length=20)
    updated_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
    version: int = Field(default=1)


class TimelineEntryRevision(SQLModel, table=True):
    """A prior version of a timeline entry, kept so nobody silently cleans the timeline up."""

    __tablename__ = "timeline_entry_revision"

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    entry_id: UUID = Field(foreign_key="timeline_entry.id", index=True, ondelete="CASCADE")
    version: int
    at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    author: str = Field(max_length=200)
    kind: str = Field(max_length=20)
    text: str = Field(sa_column=Column(Text, nullable=False))
    written_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    replaced_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
    replaced_by: str = Field(max_length=120)


class DecisionPoint(SQLModel, table=True):
    """The responder timeline: what was known, unsure and missing at each decision."""

    __tablename__ = "decision_point"

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    postmortem_id: UUID = Field(foreign_key="postmortem.id", index=True, ondelete="CASCADE")
    at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    responder: str = Field(max_length=200)
    decision_kind: str = Field(max_length=30)
    decision: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    knew: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    unsure_of: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    would_have_helped: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    recorded_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
