from datetime import datetime
from uuid import UUID, uuid4

from sqlalchemy import LargeBinary, UniqueConstraint
from sqlmodel import Column, Field, SQLModel

from app.db import UTCDateTime, utcnow


class IdempotencyRecord(SQLModel, table=True):
    """The first response to a POST sent with an Idempotency-Key, replayed for repeats."""

    __tablename__ = "idempotency_record"
    __table_args__ = (UniqueConstraint("caller", "key", name="uq_idempotency_caller_key"),)

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    # Hash of the bearer token: keys are scoped per caller.
    caller: str = Field(max_length=64)
    key: str = Field(max_length=255)
    request_hash: str = Field(max_length=64)
    # None while the first request is still running.
    status_code: int | None = Field(default=None)
    content_type: str | None = Field(default=None, max_length=100)
    body: bytes | None = Field(default=None, sa_column=Column(LargeBinary))
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False, index=True)
    )
