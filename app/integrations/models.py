from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from sqlmodel import JSON, Column, Field, SQLModel, Text

from app.db import UTCDateTime, empty_list, utcnow


class Integration(SQLModel, table=True):
    """One connected tracker workspace. Credentials and webhook secret are encrypted at rest."""

    __tablename__ = "integration"

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    kind: str = Field(max_length=10)
    name: str = Field(max_length=100, unique=True)
    base_url: str | None = Field(default=None, max_length=2000)
    credentials_sealed: str = Field(sa_column=Column(Text, nullable=False))
    webhook_secret_sealed: str | None = Field(default=None, sa_column=Column(Text))
    # As the tracker's profile says (connectors/<kind>/profile.py): GitHub "owner/repo", Jira
    # project key, Linear team id.
    default_project: str = Field(max_length=200)
    default_issue_type: str | None = Field(default=None, max_length=100)
    labels: list[str] = Field(default_factory=empty_list, sa_column=Column(JSON, nullable=False))
    options: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    is_default: bool = Field(default=False)
    max_concurrency: int = Field(default=2)
    # Set when the tracker asked us to slow down: no job for it starts before then.
    paused_until: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
    updated_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )


class TeamRoute(SQLModel, table=True):
    """Which integration and project a team's action items go to."""

    __tablename__ = "team_route"

    team_id: UUID = Field(foreign_key="team.id", primary_key=True, ondelete="CASCADE")
    integration_id: UUID = Field(foreign_key="integration.id", index=True, ondelete="CASCADE")
    project: str | None = Field(default=None, max_length=200)
    issue_type: str | None = Field(default=None, max_length=100)
