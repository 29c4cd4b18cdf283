from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import BigInteger, Index, event
from sqlalchemy import false as sa_false
from sqlmodel import JSON, Column, Field, SQLModel, Text

from app.action_items.models import microseconds_between
from app.db import UTCDateTime, empty_list, utcnow


class Postmortem(SQLModel, table=True):
    """One postmortem per incident: the record of truth for what happened and what changes."""

    __tablename__ = "postmortem"
    __table_args__ = (
        Index("ix_postmortem_created", "created_at", "id"),
        # A period's postmortems by incident start, with every column the dashboard's figures
        # read, so its queries are answered from the index alone.
        Index(
            "ix_postmortem_period",
            "started_at",
            "id",
            "resolved_at",
            "review_held_at",
            "status",
            "team_id",
            "severity",
            "completed_at",
            "published_at",
            "restricted",
            "microseconds_to_review",
        ),
    )

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    title: str = Field(max_length=300)
    incident_ref: str = Field(max_length=200, unique=True)
    incident_url: str | None = Field(default=None, max_length=2000)
    severity: str = Field(max_length=8, index=True)
    status: str = Field(default="draft", max_length=16, index=True)
    summary: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    user_impact: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    team_id: UUID | None = Field(
        default=None, foreign_key="team.id", index=True, ondelete="SET NULL"
    )
    # Visible only to its own team's tokens and to admins; left out of others' cross-team views.
    restricted: bool = Field(
        default=False, index=True, sa_column_kwargs={"server_default": sa_false()}
    )
    started_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    detected_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    mitigated_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    resolved_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    review_held_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    # From resolution to the review, exact; derived at every ORM write (keep_review_lag below),
    # so the dashboard sorts these integers from the period index instead of computing a date
    # difference for every postmortem.
    microseconds_to_review: int | None = Field(default=None, sa_column=Column(BigInteger))
    # [{"kind": "runbook", "url": "...", "title": "..."}]
    links: list[dict[str, Any]] = Field(
        default_factory=empty_list, sa_column=Column(JSON, nullable=False)
    )
    # {"L1": {"contributed": "no", "note": ""}, ...}
    chain_walk: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    review: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_by: str = Field(default="", max_length=120)
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
    updated_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
    published_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    completed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    version: int = Field(default=1)


@event.listens_for(Postmortem, "before_insert")
@event.listens_for(Postmortem, "before_update")
def keep_review_lag(_mapper: Any, _connection: Any, postmortem: Postmortem) -> None:
    postmortem.microseconds_to_review = microseconds_between(
        postmortem.resolved_at, postmortem.review_held_at
    )


class PostmortemService(SQLModel, table=True):
    """A service the incident touched; a row each so that filters and breakdowns are set-based."""

    __tablename__ = "postmortem_service"

    postmortem_id: UUID = Field(foreign_key="postmortem.id", primary_key=True, ondelete="CASCADE")
    name: str = Field(max_length=100, primary_key=True, index=True)


class PostmortemTag(SQLModel, table=True):
    __tablename__ = "postmortem_tag"

    postmortem_id: UUID = Field(foreign_key="postmortem.id", primary_key=True, ondelete="CASCADE")
    name: str = Field(max_length=64, primary_key=True, index=True)


class PostmortemRecurrence(SQLModel, table=True):
    """This incident is a recurrence of an earlier one: did the earlier fix hold?"""

    __tablename__ = "postmortem_recurrence"

    postmortem_id: UUID = Field(foreign_key="postmortem.id", primary_key=True, ondelete="CASCADE")
    earlier_id: UUID = Field(
        foreign_key="postmortem.id", primary_key=True, index=True, ondelete="CASCADE"
    )


class PostmortemReader(SQLModel, table=True):
    """Someone acknowledged reading the published postmortem; one row per reader, the first read
    kept. Whether they sit outside the postmortem's team is judged when they read."""

    __tablename__ = "postmortem_reader"

    postmortem_id: UUID = Field(foreign_key="postmortem.id", primary_key=True, ondelete="CASCADE")
    reader: str = Field(max_length=120, primary_key=True)
    read_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    # None when the reader is no known person or the postmortem has no team.
    outside_team: bool | None = Field(default=None)
