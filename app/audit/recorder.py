"""Recording API calls in the audit log, inside the request's own transaction.

How: `AuditDep` is an app-wide FastAPI dependency (create_app passes it to `FastAPI(...)`). It
depends on `SessionDep`, and FastAPI caches a dependency per request, so it is handed the very
session the route and its auth dependency use. It is a function-scoped dependency with `yield`,
solved before the route's own parameters, so its exit code runs after the route returned and
BEFORE `get_session` (entered earlier, left later) commits. There it flushes, sees what the
request created (an `after_flush` listener on that session) and adds one `AuditEvent` to the
same transaction. So:

- a change never commits without its audit row, and an audit row never commits without its
  change: they are one transaction, and a failed commit rolls both back;
- a failed request (any exception: 4xx domain errors, validation errors, 500s) reaches the
  dependency as an exception, records nothing, and `get_session` rolls everything back.

Why not the alternatives: a middleware that writes after the response knows the outcome but
writes in a second transaction, so a crash between the two loses the row (or, written first,
records changes that then roll back), and it sees neither the session's rows nor the route
template. Global SQLAlchemy session events would see every flush but not who asked, over which
route, from where, and would also fire for the sync worker's own sessions. The dependency gets
both: the request (actor, route, address, request id, declared status) and the session.

Refused calls: a 403 (a token whose scope is too low, or any other Forbidden) is recorded too,
in its own small transaction after the request's transaction is rolled back (SQLite lets one
writer at a time, so the order matters). 401s (no or unknown token) are not: there is no one to
name, and anyone can send them.

Not recorded: GET/HEAD requests (they change nothing), and routes that take no bearer token
(the vendor-signed webhook receiver, the wall page's cookie sign-in and sign-out): the log is
of what tokens did. tests/api/test_audit.py lists these by name, so a new unauthenticated
mutating route cannot slip past unnoticed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Annotated, Any
from uuid import UUID

from fastapi import Depends, Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from sqlalchemy import event, inspect
from sqlmodel import Session

from app.audit import service as audit_service
from app.audit.service import Actor, Target
from app.auth.boundary import caller_of
from app.auth.deps import bearer
from app.db import SessionDep, session_scope
from app.settings import Settings

logger = logging.getLogger("followthrough.audit")

MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Rows a change writes as its own bookkeeping (history, outbox, inbox, replay records): not
# what the caller acted on, so not listed among an event's targets.
BOOKKEEPING_TABLES = frozenset(
    {
        "action_item_event",
        "timeline_entry_revision",
        "job",
        "idempotency_record",
        "webhook_delivery",
        "audit_event",
        "audit_target",
    }
)


def _api_route(request: Request) -> APIRoute | None:
    route = request.scope.get("route")
    return route if isinstance(route, APIRoute) else None


def _uses(dependant: Dependant, call: Any) -> bool:
    return any(sub.call is call or _uses(sub, call) for sub in dependant.dependencies)


def takes_token(route: APIRoute) -> bool:
    """The route authenticates a bearer token (through any of app.auth.deps' dependencies).
    Read once per route and kept on it: the dependency tree does not change while the app
    runs (routes are not hashable, so no cache can key on them)."""
    known: bool | None = getattr(route, "_takes_token", None)
    if known is None:
        known = _uses(route.dependant, bearer)
        route._takes_token = known  # type: ignore[attr-defined]
    return known


def _audited(request: Request) -> APIRoute | None:
    route = _api_route(request)
    return route if route is not None and takes_token(route) else None


async def _body_fields(request: Request) -> list[str]:
    """The names a recorded request's JSON body set. Only for routes that declare a body model:
    FastAPI has then read and parsed the body already (this reuses its cached parse), and its
    top-level names are the model's fields. A route that reads its body raw (a timeline
    import: a message list or text) names no fields, and its body is not parsed twice."""
    route = _audited(request)
    if request.method not in MUTATING or route is None or route.body_field is None:
        return []
    try:
        body = await request.json()
    except (ValueError, RecursionError):  # not JSON, not UTF-8, or nested past the parser
        return []
    return audit_service.field_names(body)


@dataclass
class _Changes:
    """What the request's flushes wrote, gathered while history is still there to read."""

    created: list[Target] = field(default_factory=list)
    kinds: dict[str, str] = field(default_factory=dict)
    changed: set[tuple[str, str]] = field(default_factory=set)

    def after_flush(self, session: Session, _context: Any) -> None:
        # After the flush's SQL, before its bookkeeping: new/dirty/deleted and attribute
        # history still describe what this flush wrote.
        for obj in session.new:
            identity = _identity(obj)
            if identity is not None:
                self.kinds[identity.id] = identity.kind
                if identity.kind not in BOOKKEEPING_TABLES:
                    self.created.append(identity)
        for obj in session.dirty:
            identity = _identity(obj)
            if identity is None:
                continue
            self.kinds[identity.id] = identity.kind
            watched = audit_service.SECRET_COLUMNS.get(identity.kind, frozenset())
            state = inspect(obj)
            for column in watched:
                if state.attrs[column].history.has_changes():
                    self.changed.add((identity.kind, column))
        for obj in session.deleted:
            identity = _identity(obj)
            if identity is not None:
                self.kinds[identity.id] = identity.kind


def _identity(obj: Any) -> Target | None:
    """(table, id) of a row whose primary key is a single `id` column."""
    table = getattr(obj, "__tablename__", None)
    mapper = inspect(type(obj), raiseerr=False)
    if not isinstance(table, str) or mapper is None:
        return None
    keys = [column.key for column in mapper.primary_key]
    if keys != ["id"] or getattr(obj, "id", None) is None:
        return None
    return Target(kind=table, id=_canonical(obj.id))


def _canonical(value: Any) -> str:
    if isinstance(value, UUID):
        return str(value)
    try:
        return str(UUID(str(value)))
    except ValueError:
        return str(value)


def _path_targets(request: Request, kinds: dict[str, str]) -> list[Target]:
    targets = []
    for name, value in request.path_params.items():
        target_id = _canonical(value)
        fallback = name.removesuffix("_id")
        targets.append(Target(kind=kinds.get(target_id, fallback), id=target_id))
    return targets


def _loaded_kinds(session: Session) -> dict[str, str]:
    kinds = {}
    for obj in list(session.identity_map.values()):
        identity = _identity(obj)
        if identity is not None:
            kinds[identity.id] = identity.kind
    return kinds


def _who(session: Session, request: Request) -> Actor | None:
    # Looked up once per request and shared with the team boundary and the route's own check.
    caller = caller_of(request, session)
    return Actor.of_caller(caller) if caller is not None else None


def _where(request: Request) -> dict[str, Any]:
    settings: Settings = request.app.state.settings
    peer = request.client.host if request.client else None
    return {
        "client": audit_service.client_address(
            peer, request.headers.getlist("x-forwarded-for"), settings.trusted_proxies
        ),
        "request_id": request.headers.get("x-request-id") or None,
    }


def _status_of(exc: BaseException) -> int | None:
    status = getattr(exc, "status_code", None)
    return status if isinstance(status, int) else None


def _record_change(
    request: Request,
    response: Response,
    route: APIRoute,
    session: Session,
    actor: Actor,
    fields: list[str],
    changes: _Changes,
) -> None:
    session.flush()  # whatever the route left pending passes through `changes` too
    kinds = {**_loaded_kinds(session), **changes.kinds}
    path_targets = _path_targets(request, kinds)
    action = audit_service.refine_action(
        audit_service.action_for(request.method, route.path, route.name), fields, changes.changed
    )
    audit_service.record(
        session,
        actor=actor,
        action=action,
        targets=[*path_targets, *changes.created],
        fields=fields,
        method=request.method,
        route=route.path,
        status=response.status_code or route.status_code or 200,
        **_where(request),
    )


def _record_refusal(
    request: Request, route: APIRoute, session: Session, actor: Actor | None, status: int
) -> None:
    # End the request's transaction first: it is rolled back anyway, and on SQLite it holds
    # the write lock that the refusal's own transaction needs.
    session.rollback()
    try:
        with session_scope(request.app.state.engine) as own:
            who = actor or _who(own, request)
            if who is None:
                return
            audit_service.record(
                own,
                actor=who,
                action=audit_service.action_for(request.method, route.path, route.name),
                targets=_path_targets(request, {}),
                method=request.method,
                route=route.path,
                status=status,
                **_where(request),
            )
    except Exception:
        # The refusal stands whether or not it could be written down.
        logger.exception("could not record a refused %s %s", request.method, route.path)


def record_request(
    request: Request,
    response: Response,
    session: SessionDep,
    fields: Annotated[list[str], Depends(_body_fields)],
) -> Iterator[None]:
    """Record a token's successful change, or its refused call, in the audit log."""
    route = _audited(request)
    if route is None:
        yield
        return
    mutating = request.method in MUTATING
    # Who, as the request began (a request could change its own token).
    actor = _who(session, request) if mutating else None
    changes = _Changes()
    event.listen(session, "after_flush", changes.after_flush)
    try:
        try:
            yield
        except Exception as exc:
            status = _status_of(exc)
            if status == 403:
                _record_refusal(request, route, session, actor, status)
            raise
        if mutating and actor is not None:
            _record_change(request, response, route, session, actor, fields, changes)
    finally:
        event.remove(session, "after_flush", changes.after_flush)


# Function scope: the exit code runs before get_session commits, in the same transaction.
AuditDep = Depends(record_request, scope="function")
