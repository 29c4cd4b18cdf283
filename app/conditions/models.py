from datetime import datetime
from uuid import UUID, uuid4

from sqlmodel import JSON, Column, Field, SQLModel, Text

from app.db import UTCDateTime, empty_list, utcnow


class ContributingCondition(SQLModel, table=True):
    """One of the many conditions that made the incident possible; there is no root-cause field."""

    __tablename__ = "contributing_condition"

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    postmortem_id: UUID = Field(foreign_key="postmortem.id", index=True, ondelete="CASCADE")
    category: str = Field(max_length=20)
    description: str = Field(sa_column=Column(Text, nullable=False))
    failure_modes: list[str] = Field(
        default_factory=empty_list, sa_column=Column(JSON, nullable=False)
    )
    chain_level: str | None = Field(default=None, max_length=2)
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
