from datetime import datetime
from typing import Annotated
from uuid import UUID

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from app.enums import ChainLevel, ConditionCategory
from app.validation import Label, NonBlankText


def _normalise_tags(tags: list[str]) -> list[str]:
    seen: dict[str, None] = {}
    for tag in tags:
        seen.setdefault(tag.lower(), None)
    return list(seen)


Tags = Annotated[list[Label], Field(max_length=50), AfterValidator(_normalise_tags)]


class ConditionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    category: ConditionCategory
    description: NonBlankText
    failure_modes: Tags = []
    chain_level: ChainLevel | None = None


class ConditionUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    category: ConditionCategory | None = None
    description: NonBlankText | None = None
    failure_modes: Tags | None = None
    chain_level: ChainLevel | None = None


class ConditionRead(BaseModel):
    id: UUID
    postmortem_id: UUID
    category: ConditionCategory
    description: str
    failure_modes: list[str]
    chain_level: ChainLevel | None
    created_at: datetime


class ConditionList(BaseModel):
    items: list[ConditionRead]
