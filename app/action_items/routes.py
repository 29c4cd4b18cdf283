from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Header, Query, Request, Response

from app.action_items import service as action_items_service
from app.action_items.schemas import (
    ActionItemChecked,
    ActionItemHistory,
    ActionItemList,
    ActionItemRead,
    ActionItemUpdate,
    CloseRequest,
    LinkRequest,
    ReopenRequest,
    SyncReport,
    VerifyRequest,
)
from app.auth.deps import Reader, Writer
from app.concurrency import etag
from app.db import SessionDep
from app.enums import ActionItemStatus
from app.flows import item_requests, items_after_publish
from app.settings import SettingsDep
from app.tickets import service as tickets_service
from app.validation import Limit

router = APIRouter(prefix="/v1/action-items", tags=["action items"])
IfMatch = Annotated[
    str | None, Header(description="ETag from a previous read; refuses stale writes with 412")
]


@router.get("", response_model=ActionItemList)
def list_action_items(
    session: SessionDep,
    caller: Reader,
    status: ActionItemStatus | None = None,
    owner: Annotated[str | None, Query(description="Owner's handle")] = None,
    team: Annotated[str | None, Query(description="Slug of the postmortem's team")] = None,
    overdue: bool | None = None,
    postmortem: UUID | None = None,
    committed: bool | None = None,
    cursor: str | None = None,
    limit: Limit = 50,
) -> ActionItemList:
    """Action items across postmortems, newest first."""
    items, next_cursor = action_items_service.list_items(
        session,
        status=status,
        owner=owner,
        team=team,
        overdue=overdue,
        postmortem_id=postmortem,
        committed=committed,
        cursor=cursor,
        limit=limit,
        caller=caller,
    )
    return ActionItemList(
        items=action_items_service.to_read(session, items), next_cursor=next_cursor
    )


@router.get("/{item_id}", response_model=ActionItemRead)
def get_action_item(
    item_id: UUID, session: SessionDep, _: Reader, response: Response
) -> ActionItemRead:
    """One action item."""
    item = action_items_service.get(session, item_id)
    response.headers["ETag"] = etag(item.version)
    return action_items_service.to_read(session, [item])[0]


@router.patch("/{item_id}", response_model=ActionItemChecked)
def update_action_item(
    item_id: UUID,
    data: ActionItemUpdate,
    session: SessionDep,
    caller: Writer,
    settings: SettingsDep,
    response: Response,
    if_match: IfMatch = None,
) -> ActionItemChecked:
    """Change an action item's content; every change is recorded in its history. On a published
    postmortem the checks hold: a draft held by error findings opens (and gets its ticket) once
    the edit clears them; an edit that would bring an error finding to an open item is refused
    with 422 listing the findings, and nothing changes."""
    item = items_after_publish.update(
        session, item_id, data, caller, settings.checks, if_match=if_match
    )
    response.headers["ETag"] = etag(item.version)
    return item


@router.delete("/{item_id}", status_code=204)
def delete_action_item(item_id: UUID, session: SessionDep, _: Writer) -> Response:
    """Delete a draft action item. Once open it stays: close it as won't do instead."""
    action_items_service.delete(session, item_id)
    return Response(status_code=204)


SENT_TO_TRACKER: dict[int | str, dict[str, Any]] = {
    202: {
        "model": ActionItemRead,
        "description": "The item has a ticket: the change was sent to it, and the item's status "
        "follows when the tracker confirms (`requested_status` shows what was asked)",
    }
}


@router.post("/{item_id}/close", response_model=ActionItemRead, responses=SENT_TO_TRACKER)
def close_action_item(
    item_id: UUID, data: CloseRequest, session: SessionDep, caller: Writer, response: Response
) -> ActionItemRead:
    """Close an open item as done or as won't do. The tracker owns a ticket's state: an item
    with a ticket is closed there (202) and follows when the tracker confirms; an item without
    one closes at once (200)."""
    item, sent = item_requests.close(session, item_id, data, caller)
    response.status_code = 202 if sent else 200
    return action_items_service.to_read(session, [item])[0]


@router.post("/{item_id}/reopen", response_model=ActionItemRead, responses=SENT_TO_TRACKER)
def reopen_action_item(
    item_id: UUID, data: ReopenRequest, session: SessionDep, caller: Writer, response: Response
) -> ActionItemRead:
    """Reopen a closed, won't-do or verified item; verification is cleared and the reason
    recorded. An item with a ticket is reopened there (202) and follows the tracker."""
    item, sent = item_requests.reopen(session, item_id, data, caller)
    response.status_code = 202 if sent else 200
    return action_items_service.to_read(session, [item])[0]


@router.post("/{item_id}/verify", response_model=ActionItemRead)
def verify_action_item(
    item_id: UUID, data: VerifyRequest, session: SessionDep, caller: Writer
) -> ActionItemRead:
    """Mark a closed-as-done item verified, with the evidence that the fix works."""
    item = action_items_service.verify(session, item_id, data, caller)
    return action_items_service.to_read(session, [item])[0]


@router.post("/{item_id}/link", response_model=ActionItemRead)
def link_ticket(
    item_id: UUID, data: LinkRequest, session: SessionDep, caller: Writer, request: Request
) -> ActionItemRead:
    """Adopt an existing ticket (URL or key) as this item's ticket instead of creating one."""
    item = tickets_service.link_existing(
        session,
        item_id,
        ticket=data.ticket,
        integration_id=data.integration_id,
        caller=caller,
        box=request.app.state.secret_box,
        egress=request.app.state.settings.egress,
    )
    return action_items_service.to_read(session, [item])[0]


@router.post("/{item_id}/sync", response_model=SyncReport)
def sync_action_item(item_id: UUID, session: SessionDep, _: Writer) -> SyncReport:
    """Retry the item's ticket sync now, including jobs parked after repeated failures."""
    item, due = tickets_service.request_sync(session, item_id)
    return SyncReport(action_item_id=item.id, jobs_due_now=due, sync_state=item.sync_state)


@router.get("/{item_id}/history", response_model=ActionItemHistory)
def action_item_history(item_id: UUID, session: SessionDep, _: Reader) -> ActionItemHistory:
    """Every change: who or what made it, when, and from which status to which."""
    return ActionItemHistory(
        action_item_id=item_id, events=action_items_service.history(session, item_id)
    )
