from datetime import datetime
from uuid import UUID, uuid4

from sqlalchemy import Index
from sqlmodel import Column, Field, SQLModel, Text

from app.db import UTCDateTime, utcnow


class OutboxEntry(SQLModel, table=True):
    """A sync job, written in the same transaction as the change that needs it."""

    __tablename__ = "outbox_entry"
    __table_args__ = (Index("ix_outbox_due", "status", "available_at"),)

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    # "ticket.create" | "ticket.update" | "webhook.process"
    operation: str = Field(max_length=30)
    action_item_id: UUID | None = Field(
        default=None, foreign_key="action_item.id", index=True, ondelete="CASCADE"
    )
    delivery_id: UUID | None = Field(
        default=None, foreign_key="webhook_delivery.id", index=True, ondelete="CASCADE"
    )
    integration_id: UUID | None = Field(default=None, index=True)
    # pending -> leased -> done; or dead after too many failures (retried by POST .../sync)
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
