from datetime import datetime
from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from app.validation import Name, Slug

Email = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")
]
AccountKey = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
AccountId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class TeamCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    slug: Slug
    name: Name


class TeamUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name | None = None


class TeamRead(BaseModel):
    id: UUID
    slug: str
    name: str
    created_at: datetime


class PersonCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    handle: Slug
    display_name: Name
    email: Email | None = None
    team: Slug | None = None
    tracker_accounts: dict[AccountKey, AccountId] = Field(
        {},
        description='Account id per tracker kind ("github", "jira", "linear") or per integration name',
    )


class PersonUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    display_name: Name | None = None
    email: Email | None = None
    team: Slug | None = None
    tracker_accounts: dict[AccountKey, AccountId] | None = None


class PersonRead(BaseModel):
    id: UUID
    handle: str
    display_name: str
    email: str | None
    team: str | None
    tracker_accounts: dict[str, str]
    created_at: datetime


class TeamList(BaseModel):
    items: list[TeamRead]


class PersonList(BaseModel):
    items: list[PersonRead]
    next_cursor: str | None
