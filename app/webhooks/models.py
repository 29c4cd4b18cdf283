from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import Index, UniqueConstraint, text
from sqlmodel import JSON, Column, Field, SQLModel, Text

from app.db import UTCDateTime, utcnow

# Deliveries we had no use for: about no ticket of ours ("foreign") or of an event type we do not
# apply ("ignored"). Retention deletes them soon (app/retention.py). Written out, not bound: a
# partial index serves a query only when the query names the same constants.
UNUSED = "outcome IN ('foreign', 'ignored')"
# Applied deliveries whose body retention has not emptied yet.
BODY_KEPT = "outcome = 'applied' AND body <> ''"


class WebhookDelivery(SQLModel, table=True):
    """The inbox: every accepted delivery, stored before we answer, once per vendor delivery id."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        UniqueConstraint("integration_id", "delivery_id", name="uq_webhook_delivery"),
        Index("ix_webhook_delivery_received", "received_at"),
        # What retention purges, oldest first. Partial: each holds only the rows still to purge,
        # so finding a batch costs the same at ten million stored deliveries as at a thousand.
        Index(
            "ix_webhook_delivery_unused",
            "processed_at",
            sqlite_where=text(UNUSED),
            postgresql_where=text(UNUSED),
        ),
        Index(
            "ix_webhook_delivery_body_kept",
            "processed_at",
            sqlite_where=text(BODY_KEPT),
            postgresql_where=text(BODY_KEPT),
        ),
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
    # received -> applied | foreign (no event concerned a ticket of ours) | failed; or ignored
    # (an event type we do not use) from the start
    outcome: str = Field(default="received", max_length=20)
    detail: str | None = Field(default=None, sa_column=Column(Text))
    processed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    redeliveries: int = Field(default=0)
