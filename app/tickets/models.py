from datetime import datetime
from uuid import UUID, uuid4

from sqlmodel import JSON, Column, Field, SQLModel, Text

from app.db import UTCDateTime, empty_list, utcnow


class TicketLink(SQLModel, table=True):
    """An action item's one ticket. Written as an intent (with its marker) before the tracker is
    called, so that a crash between the tracker's answer and our commit can be repaired by
    looking the marker up instead of creating a second ticket."""

    __tablename__ = "ticket_link"

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    action_item_id: UUID = Field(foreign_key="action_item.id", unique=True, ondelete="CASCADE")
    integration_id: UUID = Field(foreign_key="integration.id", index=True)
    project: str = Field(max_length=200)
    issue_type: str | None = Field(default=None, max_length=100)
    marker: str = Field(max_length=64, unique=True)
    # Create calls sent so far; > 0 without an external key means "look the marker up first".
    create_attempts: int = Field(default=0)
    intent_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
    last_create_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    external_key: str | None = Field(default=None, max_length=200, index=True)
    external_id: str | None = Field(default=None, max_length=200)
    url: str | None = Field(default=None, max_length=2000)
    linked_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    adopted: bool = Field(default=False)
    last_state: str | None = Field(default=None, max_length=20)
    last_raw_status: str | None = Field(default=None, sa_column=Column(Text))
    # The tracker's own updated time of the last state applied: older events do not regress it.
    watermark: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    # The tracker's ETag of the last read, for conditional requests during reconciliation.
    etag: str | None = Field(default=None, max_length=200)
    # A verification signal (label, status, /verified comment) seen while the item was still
    # open: kept and applied when the ticket closes as done, whatever the delivery order.
    verification_signal: str | None = Field(default=None, sa_column=Column(Text))
    verification_signal_by: str | None = Field(default=None, max_length=200)
    # Other tickets found carrying this item's marker and closed as duplicates of this one.
    duplicate_keys: list[str] = Field(
        default_factory=empty_list, sa_column=Column(JSON, nullable=False)
    )
