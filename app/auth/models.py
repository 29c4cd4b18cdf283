from datetime import datetime
from uuid import UUID, uuid4

from sqlalchemy import UniqueConstraint
from sqlmodel import JSON, Column, Field, SQLModel

from app.db import UTCDateTime, utcnow

NAME_MAX_LENGTH = 100


class ApiToken(SQLModel, table=True):
    """A bearer token; only its SHA-256 is kept, the token itself is shown once."""

    __tablename__ = "api_token"
    # Names identify tokens in `tokens revoke` and in every actor string ("token:ci-bot"), so
    # no two tokens share one, revoked ones included.
    __table_args__ = (UniqueConstraint("name", name="uq_api_token_name"),)

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    name: str = Field(max_length=NAME_MAX_LENGTH)
    scope: str = Field(max_length=10)
    token_hash: str = Field(max_length=64, unique=True)
    prefix: str = Field(max_length=12)
    # None: an org-wide token. Otherwise the ids (as strings) of the teams it may read and write.
    team_ids: list[str] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
    revoked_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
