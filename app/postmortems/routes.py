from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Header, Query, Response
from fastapi.responses import PlainTextResponse

from app.action_items import service as action_items_service
from app.action_items.schemas import ActionItemChecked, ActionItemCreate, ActionItemList
from app.auth.deps import Reader, Writer
from app.concurrency import etag
from app.db import SessionDep
from app.enums import ChainLevel, PostmortemStatus, Severity
from app.export import markdown
from app.flows import items_after_publish
from app.postmortems import reads, related
from app.postmortems import service as postmortems_service
from app.postmortems.related import RelatedList
from app.postmortems.schemas import (
    CheckReport,
    PostmortemCreate,
    PostmortemDetail,
    PostmortemList,
    PostmortemRead,
    PostmortemUpdate,
    ReaderCreate,
    ReaderRead,
)
from app.settings import SettingsDep
from app.validation import Limit, ZonedDateTime

router = APIRouter(prefix="/v1/postmortems", tags=["postmortems"])
IfMatch = Annotated[
    str | None, Header(description="ETag from a previous read; refuses stale writes with 412")
]


@router.post("", status_code=201, response_model=PostmortemDetail)
def create_postmortem(
    data: PostmortemCreate,
    session: SessionDep,
    caller: Writer,
    settings: SettingsDep,
    response: Response,
) -> PostmortemDetail:
    """Create a postmortem for one incident, optionally with its timeline, responder timeline,
    conditions and action items in the same call (all or nothing)."""
    postmortem = postmortems_service.create(
        session, data, caller, max_timeline_entries=settings.max_timeline_entries
    )
    response.headers["ETag"] = etag(postmortem.version)
    response.headers["Location"] = f"/v1/postmortems/{postmortem.id}"
    return postmortems_service.detail(session, postmortem, settings.checks)


@router.get("", response_model=PostmortemList)
def list_postmortems(
    session: SessionDep,
    caller: Reader,
    team: str | None = None,
    service: str | None = None,
    severity: Severity | None = None,
    status: PostmortemStatus | None = None,
    tag: str | None = None,
    chain_level: Annotated[
        ChainLevel | None, Query(description="The chain walk says this level contributed")
    ] = None,
    since: Annotated[
        ZonedDateTime | None, Query(description="Incident started at or after")
    ] = None,
    until: Annotated[ZonedDateTime | None, Query(description="Incident started before")] = None,
    q: Annotated[
        str | None,
        Query(max_length=200, description="Text in title, summary, impact or incident ref"),
    ] = None,
    cursor: str | None = None,
    limit: Limit = 50,
) -> PostmortemList:
    """Postmortems, newest first. `since`/`until` bound the incident start; `q` searches text;
    `chain_level` keeps those whose chain walk says that level contributed.
    Pass `next_cursor` back as `cursor` for the next page."""
    rows, next_cursor = postmortems_service.list_postmortems(
        session,
        team=team,
        service=service,
        severity=severity.value if severity else None,
        status=status.value if status else None,
        tag=tag,
        since=since,
        until=until,
        q=q,
        cursor=cursor,
        limit=limit,
        chain_level=chain_level.value if chain_level else None,
        caller=caller,
    )
    return PostmortemList(items=postmortems_service.to_read(session, rows), next_cursor=next_cursor)


@router.get("/{postmortem_id}", response_model=PostmortemDetail)
def get_postmortem(
    postmortem_id: UUID, session: SessionDep, _: Reader, settings: SettingsDep, response: Response
) -> PostmortemDetail:
    """The whole postmortem with its decision points, conditions and action items, and the
    first 50 entries of its timeline (`timeline_total` counts them all; the rest from
    GET /v1/postmortems/{id}/timeline with `timeline_next_cursor`)."""
    postmortem = postmortems_service.get(session, postmortem_id)
    response.headers["ETag"] = etag(postmortem.version)
    return postmortems_service.detail(session, postmortem, settings.checks)


@router.patch("/{postmortem_id}", response_model=PostmortemRead)
def update_postmortem(
    postmortem_id: UUID,
    data: PostmortemUpdate,
    session: SessionDep,
    caller: Writer,
    response: Response,
    if_match: IfMatch = None,
) -> PostmortemRead:
    """Change fields of a postmortem; send `If-Match` to refuse the write if someone else saved first."""
    postmortem = postmortems_service.update(session, postmortem_id, data, caller, if_match=if_match)
    response.headers["ETag"] = etag(postmortem.version)
    return postmortems_service.to_read(session, [postmortem])[0]


@router.delete("/{postmortem_id}", status_code=204)
def delete_postmortem(postmortem_id: UUID, session: SessionDep, _: Writer) -> Response:
    """Delete a draft or in-review postmortem. Published ones stay on the record."""
    postmortems_service.delete_postmortem(session, postmortem_id)
    return Response(status_code=204)


@router.get("/{postmortem_id}/checks", response_model=CheckReport)
def check_postmortem(
    postmortem_id: UUID, session: SessionDep, _: Reader, settings: SettingsDep
) -> CheckReport:
    """Run every check: findings have a rule, a severity (errors block publishing), a path and a message."""
    return postmortems_service.checks(session, postmortem_id, settings.checks)


@router.post("/{postmortem_id}/publish", response_model=PostmortemRead)
def publish_postmortem(
    postmortem_id: UUID, session: SessionDep, caller: Writer, settings: SettingsDep
) -> PostmortemRead:
    """Publish: refused with 409 and the error findings while any check fails with severity error.
    Committed action items open."""
    postmortem = postmortems_service.publish(session, postmortem_id, caller, settings.checks)
    return postmortems_service.to_read(session, [postmortem])[0]


@router.post(
    "/{postmortem_id}/reads",
    status_code=201,
    response_model=ReaderRead,
    responses={200: {"model": ReaderRead, "description": "Already read: the first read, kept"}},
)
def record_read(
    postmortem_id: UUID,
    session: SessionDep,
    caller: Reader,
    response: Response,
    data: ReaderCreate | None = None,
) -> ReaderRead:
    """Acknowledge reading the published postmortem, as the person named in `reader` or else as
    the calling token. Each reader counts once: a second read answers 200 with the first."""
    reader, created = reads.record(session, postmortem_id, data or ReaderCreate(), caller)
    if not created:
        response.status_code = 200
    return ReaderRead.model_validate(reader, from_attributes=True)


@router.get("/{postmortem_id}/related", response_model=RelatedList)
def related_postmortems(
    postmortem_id: UUID,
    session: SessionDep,
    caller: Reader,
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
) -> RelatedList:
    """Earlier postmortems sharing services, tags or words with this one, closest first."""
    postmortem = postmortems_service.get(session, postmortem_id)
    return related.find(session, postmortem, limit, caller)


@router.get(
    "/{postmortem_id}/markdown",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/markdown": {"schema": {"type": "string"}}}}},
)
def export_markdown(
    postmortem_id: UUID, session: SessionDep, _: Reader, settings: SettingsDep
) -> PlainTextResponse:
    """The whole postmortem as Markdown."""
    postmortem = postmortems_service.get(session, postmortem_id)
    detail = postmortems_service.detail(session, postmortem, settings.checks, whole_timeline=True)
    report = postmortems_service.checks(session, postmortem_id, settings.checks)
    return PlainTextResponse(
        markdown.render(detail, report), media_type="text/markdown; charset=utf-8"
    )


@router.post("/{postmortem_id}/action-items", status_code=201, response_model=ActionItemChecked)
def create_action_item(
    postmortem_id: UUID,
    data: ActionItemCreate,
    session: SessionDep,
    caller: Writer,
    settings: SettingsDep,
    response: Response,
) -> ActionItemChecked:
    """Add an action item (or, with `committed: false`, a thing to remain aware of). On a
    published postmortem a committed item passes the same checks as at publish before it opens
    and gets its ticket: with an unwaived error finding it stays a draft (`held_by_checks`) and
    the answer lists its `findings`; it opens when an edit fixes them or they are waived."""
    postmortem = postmortems_service.get(session, postmortem_id, for_update=True)
    item = items_after_publish.add(session, postmortem, data, caller, settings.checks)
    postmortems_service.refresh_completion(session, postmortem_id)
    response.headers["Location"] = f"/v1/action-items/{item.id}"
    return item


@router.get("/{postmortem_id}/action-items", response_model=ActionItemList)
def list_postmortem_action_items(
    postmortem_id: UUID, session: SessionDep, _: Reader
) -> ActionItemList:
    """The action items of one postmortem, in the order they were written."""
    postmortems_service.get(session, postmortem_id)
    items = action_items_service.items_of(session, postmortem_id)
    return ActionItemList(items=action_items_service.to_read(session, items), next_cursor=None)
