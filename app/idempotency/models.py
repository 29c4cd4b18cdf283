from datetime import datetime
from uuid import UUID, uuid4

from sqlalchemy import LargeBinary, UniqueConstraint
from sqlmodel import Column, Field, SQLModel

from app.db import UTCDateTime, utcnow


class IdempotencyRecord(SQLModel, table=True):
    """The first response to a POST sent with an Idempotency-Key, replayed for repeats.

    Written only for a known, unrevoked token, and forgotten after the configured expiry."""

    __tablename__ = "idempotency_record"
    __table_args__ = (UniqueConstraint("token_id", "key", name="uq_idempotency_token_key"),)

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    # Keys are scoped per token.
    token_id: UUID = Field(foreign_key="api_token.id", ondelete="CASCADE")
    key: str = Field(max_length=255)
    request_hash: str = Field(max_length=64)
    # None while the first request is still running.
    status_code: int | None = Field(default=None)
    content_type: str | None = Field(default=None, max_length=100)
    body: bytes | None = Field(default=None, sa_column=Column(LargeBinary))
    # The first answer was marked Cache-Control: no-store (it may hold a secret shown once), so
    # only its status is kept and a repeat is refused instead of replayed.
    withheld: bool = Field(default=False)
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False, index=True)
    )
