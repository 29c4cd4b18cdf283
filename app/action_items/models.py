from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import BigInteger, Index, event
from sqlmodel import JSON, Column, Field, SQLModel, Text

from app.db import UTCDateTime, empty_list, utcnow


class ActionItem(SQLModel, table=True):
    """A change the team commits to (or, when not committed, something to remain aware of)."""

    __tablename__ = "action_item"
    __table_args__ = (
        Index("ix_action_item_created", "created_at", "id"),
        # Unfinished work, late first: the overdue lists, carried-over counts and the wall's
        # trend read it without the table.
        Index(
            "ix_action_item_status_due",
            "status",
            "due_date",
            "committed",
            "incident_started_at",
            "created_at",
            "postmortem_id",
        ),
        # When items were closed: which ones were still open at a given moment.
        Index("ix_action_item_closed", "closed_at", "created_at", "committed", "postmortem_id"),
        Index("ix_action_item_postmortem_status", "postmortem_id", "status"),
        # Dashboards select a period's items by when their incident started; the other columns
        # are the ones their figures read (the postmortem for the team boundary), so those
        # queries never touch the table.
        Index(
            "ix_action_item_period",
            "incident_started_at",
            "committed",
            "status",
            "chain_level",
            "due_date",
            "created_at",
            "closed_at",
            "verified_at",
            "microseconds_to_close",
            "microseconds_to_verify",
            "postmortem_id",
        ),
        # The same columns by chain level and status first: the dashboard names every level and
        # status, so a period's counts per level and status read one short range per pair,
        # already grouped, where the period index would leave every row to sort. Only the
        # dashboard filters on chain levels, so no other query is drawn to this index.
        Index(
            "ix_action_item_level_status_period",
            "chain_level",
            "status",
            "incident_started_at",
            "committed",
            "due_date",
            "created_at",
            "microseconds_to_close",
            "microseconds_to_verify",
            "postmortem_id",
        ),
    )

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    postmortem_id: UUID = Field(foreign_key="postmortem.id", ondelete="CASCADE")
    # A copy of the postmortem's started_at, kept in step by the postmortem service, so that a
    # period's items are one index range instead of a join over every item.
    incident_started_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    title: str = Field(max_length=300)
    description: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    definition_of_done: list[str] = Field(
        default_factory=empty_list, sa_column=Column(JSON, nullable=False)
    )
    verification: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    owner_person_id: UUID | None = Field(default=None, foreign_key="person.id", index=True)
    # Set when the owner was given as a team: kept so the check can say so, never a valid owner.
    owner_team_id: UUID | None = Field(default=None, foreign_key="team.id", ondelete="SET NULL")
    due_date: date | None = Field(default=None)
    chain_level: str | None = Field(default=None, max_length=2)
    purpose: str | None = Field(default=None, max_length=10)
    priority: str = Field(default="medium", max_length=10)
    committed: bool = Field(default=True)
    tracker: str | None = Field(default=None, max_length=10)
    tracker_project: str | None = Field(default=None, max_length=200)
    status: str = Field(default="draft", max_length=10)
    # A close, won't-do or reopen asked through the API and on its way to the ticket: the
    # tracker owns the ticket's state, so the status follows when the tracker confirms.
    requested_status: str | None = Field(default=None, max_length=10)
    closed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    verified_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    verified_by: str | None = Field(default=None, max_length=200)
    verification_evidence: str | None = Field(default=None, sa_column=Column(Text))
    # created_at to closed_at and to verified_at, exactly, kept in step on every write (see
    # keep_durations below): the dashboard's medians sort these integers from the period index
    # instead of computing a date difference for every row.
    microseconds_to_close: int | None = Field(default=None, sa_column=Column(BigInteger))
    microseconds_to_verify: int | None = Field(default=None, sa_column=Column(BigInteger))
    # None until the item is due for a ticket; then "pending" | "synced" | "error".
    sync_state: str | None = Field(default=None, max_length=10)
    sync_error: str | None = Field(default=None, sa_column=Column(Text))
    last_synced_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
    updated_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
    version: int = Field(default=1)


def microseconds_between(start: datetime | None, end: datetime | None) -> int | None:
    return None if start is None or end is None else (end - start) // timedelta(microseconds=1)


@event.listens_for(ActionItem, "before_insert")
@event.listens_for(ActionItem, "before_update")
def keep_durations(_mapper: Any, _connection: Any, item: ActionItem) -> None:
    """Derive the durations from the times at every ORM write, whichever code set the times
    (the status machine, imports, fixtures), so a reopen that clears closed_at clears them too."""
    item.microseconds_to_close = microseconds_between(item.created_at, item.closed_at)
    item.microseconds_to_verify = microseconds_between(item.created_at, item.verified_at)


class ActionItemEvent(SQLModel, table=True):
    """One entry of an action item's history: who or what changed it, when, from what to what."""

    __tablename__ = "action_item_event"
    __table_args__ = (Index("ix_action_item_event_item_at", "action_item_id", "at"),)

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    action_item_id: UUID = Field(foreign_key="action_item.id", ondelete="CASCADE")
    at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    # "api" | "webhook" | "reconciliation" | "system"
    source: str = Field(max_length=20)
    actor: str = Field(max_length=200)
    kind: str = Field(max_length=30)
    from_status: str | None = Field(default=None, max_length=10)
    to_status: str | None = Field(default=None, max_length=10)
    changes: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    note: str | None = Field(default=None, sa_column=Column(Text))
