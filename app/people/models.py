from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from sqlmodel import JSON, Column, Field, SQLModel

from app.db import UTCDateTime, utcnow


class Team(SQLModel, table=True):
    __tablename__ = "team"

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    slug: str = Field(max_length=64, unique=True)
    name: str = Field(max_length=200)
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )


class Person(SQLModel, table=True):
    """Someone who can own an action item. Tracker account ids make them an assignee."""

    __tablename__ = "person"

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    handle: str = Field(max_length=64, unique=True)
    display_name: str = Field(max_length=200)
    email: str | None = Field(default=None, max_length=320)
    team_id: UUID | None = Field(
        default=None, foreign_key="team.id", index=True, ondelete="SET NULL"
    )
    # {"github": "octocat", "jira": "5b10a2844c20165700ede21g", "linear": "<user uuid>"}
    tracker_accounts: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JSON, nullable=False)
    )
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
