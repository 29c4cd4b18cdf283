from datetime import datetime
from uuid import UUID, uuid4

from sqlmodel import Column, Field, SQLModel

from app.db import UTCDateTime, utcnow


class ApiToken(SQLModel, table=True):
    """A bearer token; only its SHA-256 is kept, the token itself is shown once."""

    __tablename__ = "api_token"

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    name: str = Field(max_length=100, index=True)
    scope: str = Field(max_length=10)
    token_hash: str = Field(max_length=64, unique=True)
    prefix: str = Field(max_length=12)
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
    revoked_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
