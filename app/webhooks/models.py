from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import JSON, Column, Field, SQLModel, Text

from app.db import UTCDateTime, utcnow


class WebhookDelivery(SQLModel, table=True):
    """The inbox: every accepted delivery, stored before we answer, once per vendor delivery id."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        UniqueConstraint("integration_id", "delivery_id", name="uq_webhook_delivery"),
        Index("ix_webhook_delivery_received", "received_at"),
    )

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    integration_id: UUID = Field(foreign_key="integration.id", ondelete="CASCADE")
    delivery_id: str = Field(max_length=200)
    event: str = Field(default="", max_length=100)
    body: str = Field(sa_column=Column(Text, nullable=False))
    headers: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    received_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
    # received -> applied | ignored | failed
    outcome: str = Field(default="received", max_length=20)
    detail: str | None = Field(default=None, sa_column=Column(Text))
    processed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    redeliveries: int = Field(default=0)
