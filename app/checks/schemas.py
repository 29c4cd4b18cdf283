from datetime import datetime
from typing import Annotated
from uuid import UUID

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

RuleId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
FindingPath = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]


def _not_blank(value: str) -> str:
    if not value:
        raise ValueError("must not be blank: say why the team accepts this finding")
    return value


Reason = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=2000), AfterValidator(_not_blank)
]


class CheckWaiverCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rule: RuleId = Field(description="The finding's rule, as the checks report it")
    path: FindingPath = Field(description="The finding's path, e.g. `action_items[0].title`")
    reason: Reason = Field(
        description="Why the team accepts this finding; shown wherever the waiver is"
    )


class CheckWaiverRead(BaseModel):
    id: UUID
    postmortem_id: UUID
    rule: str
    path: str
    reason: str
    by: str
    at: datetime
    action_item_id: UUID | None = Field(
        description="The action item the path named when the waiver was made"
    )
    stale: bool = Field(
        description="The waived text has changed since the waiver was made, so it no longer "
        "applies; withdrawn waivers are never stale"
    )
    applies: bool = Field(description="The waiver currently waives a finding of the checks")
    applied_at_publish: bool = Field(
        description="The postmortem was published while this waiver applied"
    )
    withdrawn_by: str | None
    withdrawn_at: datetime | None


class CheckWaiverList(BaseModel):
    items: list[CheckWaiverRead]
