from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, Field


class AuditTargetRead(BaseModel):
    kind: str = Field(description='The id\'s table ("postmortem", "action_item", "api_token")')
    id: str


class AuditEventRead(BaseModel):
    id: UUID
    at: datetime
    actor: str = Field(description='"token:<name>" for API calls, "cli:<os user>" for the CLI')
    token_id: UUID | None
    token_name: str | None
    scope: str | None = Field(description="The calling token's scope; null for the CLI")
    action: str = Field(description='What was done: "postmortem.update", "token.revoke", ...')
    method: str | None = Field(description="HTTP method; null for the CLI")
    route: str | None = Field(
        description='Route template, "/v1/postmortems/{postmortem_id}"; null for the CLI'
    )
    targets: list[AuditTargetRead] = Field(
        description="Ids acted on: the path's ids, then the rows the request created"
    )
    fields: list[str] = Field(
        description="Names of the fields the request body set; never their values"
    )
    client_address: str | None = Field(
        description="The caller's address; X-Forwarded-For counts only from trusted_proxies"
    )
    request_id: str | None = Field(description="The request's X-Request-ID, when it sent one")
    status: int | None = Field(
        description="HTTP status answered: 2xx for a change, 403 for a refused call; null for "
        "the CLI (a failed command records nothing)"
    )


class AuditEventList(BaseModel):
    items: list[AuditEventRead]
    next_cursor: str | None
