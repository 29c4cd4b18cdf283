from typing import Annotated

from fastapi import APIRouter, Query

from app.audit import service as audit_service
from app.audit.schemas import AuditEventList
from app.auth.deps import Admin
from app.db import SessionDep
from app.validation import Limit, ZonedDateTime

router = APIRouter(prefix="/v1/audit", tags=["audit"])


@router.get("", response_model=AuditEventList)
def list_audit(
    session: SessionDep,
    _: Admin,
    actor: Annotated[
        str | None,
        Query(
            max_length=200,
            description='"token:<name>", "cli:<os user>", a token\'s name or a token\'s id',
        ),
    ] = None,
    action: Annotated[
        str | None, Query(max_length=100, description='e.g. "postmortem.update"')
    ] = None,
    target: Annotated[
        str | None, Query(max_length=64, description="An id the action acted on")
    ] = None,
    since: Annotated[ZonedDateTime | None, Query(description="At or after (with zone)")] = None,
    until: Annotated[ZonedDateTime | None, Query(description="Before (with zone)")] = None,
    cursor: str | None = None,
    limit: Limit = 50,
) -> AuditEventList:
    """The audit log, newest first: every admin action (tokens made or revoked through the CLI,
    integrations and their credentials, routing, waivers) and every change a token made
    through the API, with who (token id, name and scope, or `cli:<os user>`), what (action,
    method, route template, target ids, and the NAMES of the body's fields, never their
    values), when, from where, the `X-Request-ID` and the status answered. Calls refused with
    403 are listed too, with status 403. Admin tokens only."""
    events, next_cursor = audit_service.list_events(
        session,
        actor=actor,
        action=action,
        target=target,
        since=since,
        until=until,
        cursor=cursor,
        limit=limit,
    )
    return AuditEventList(items=audit_service.to_read(session, events), next_cursor=next_cursor)
