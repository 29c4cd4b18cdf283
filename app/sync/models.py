from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import Index
from sqlmodel import JSON, Column, Field, SQLModel, Text

from app.db import UTCDateTime, utcnow


class Job(SQLModel, table=True):
    """One piece of background work: a kind, a payload, and the lane it is claimed in.

    Outbound jobs (ticket calls) are paced by their integration's rate limits; inbound jobs
    (applying a stored webhook delivery) never are. A new kind of work is a new handler in
    `app.sync.handlers`, not a new column. Written in the same transaction as the change that
    needs it.
    """

    __tablename__ = "job"
    __table_args__ = (Index("ix_job_due", "lane", "status", "available_at"),)

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    # "ticket.create" | "ticket.update" | "ticket.set_state" | "webhook.apply"
    kind: str = Field(max_length=30)
    # "outbound" | "inbound"
    lane: str = Field(default="outbound", max_length=10)
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    # What the job is about, for coalescing, listing and cascading deletes.
    action_item_id: UUID | None = Field(
        default=None, foreign_key="action_item.id", index=True, ondelete="CASCADE"
    )
    delivery_id: UUID | None = Field(
        default=None, foreign_key="webhook_delivery.id", index=True, ondelete="CASCADE"
    )
    integration_id: UUID | None = Field(default=None, index=True)
    # pending -> leased -> done; or dead after too many failures (retried through the API)
    status: str = Field(default="pending", max_length=10)
    attempts: int = Field(default=0)
    available_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
    leased_until: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    lease_owner: str | None = Field(default=None, max_length=100)
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
    updated_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
