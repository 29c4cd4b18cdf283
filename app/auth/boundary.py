"""The team boundary: which postmortems, items, teams and people a caller may read and write.

A team-scoped token sees its teams' records only; an org-wide token sees every team's, except
restricted postmortems, which only their team's tokens and admins see. Whatever lies outside
the boundary answers exactly as if it did not exist (404 with the usual message), so a caller
cannot learn that another team's record is there.

Single records are guarded by `guard`, which every token dependency (app/auth/deps.py) calls
once the caller is known: it reads the path parameters routes share (`postmortem_id`,
`item_id`, `team_id`, `person_id`), so a new route under those paths is inside the boundary
without doing anything. It runs in the authentication step rather than as an app-wide
dependency so that routes that take no token (the trackers' webhooks) pay nothing for it.
Lists and figures narrow their queries with the conditions below.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

from fastapi import Request
from sqlalchemy import ColumnElement, false, true
from sqlmodel import Session, col, select

from app.action_items.models import ActionItem
from app.auth import service as auth_service
from app.auth.service import Caller
from app.errors import Forbidden, InvalidInput, NotFound, field_error
from app.people.models import Person, Team
from app.postmortems.models import Postmortem


def caller_of(request: Request, session: Session) -> Caller | None:
    """The caller behind this request's bearer token, looked up once per request."""
    if "caller" in request.state._state:
        cached: Caller | None = request.state.caller
        return cached
    caller = None
    scheme, _, plain = (request.headers.get("authorization") or "").partition(" ")
    if scheme.lower() == "bearer" and plain.strip():
        caller = auth_service.identify(session, plain)
    request.state.caller = caller
    return caller


def can_see(caller: Caller, postmortem: Postmortem) -> bool:
    if caller.team_ids is not None:
        return postmortem.team_id in caller.team_ids
    return caller.sees_restricted or not postmortem.restricted


def postmortems_where(caller: Caller | None) -> ColumnElement[bool]:
    """A condition on Postmortem rows: those the caller may see (all when `caller` is None,
    which internal callers such as the worker use)."""
    if caller is None:
        return true()
    if caller.team_ids is not None:
        if not caller.team_ids:
            return false()
        return col(Postmortem.team_id).in_(sorted(caller.team_ids))
    if caller.sees_restricted:
        return true()
    return col(Postmortem.restricted) == False  # noqa: E712 - "IS 0" would skip the index


def postmortem_ids_where(caller: Caller | None, column: Any) -> ColumnElement[bool]:
    """A condition on a `postmortem_id` column (items, timeline entries) by their postmortem.

    Org-wide tokens exclude the few restricted postmortems rather than list the visible many,
    so their queries stay on the same index ranges as before."""
    if caller is None or caller.sees_everything:
        return true()
    if caller.team_ids is not None:
        return col(column).in_(select(col(Postmortem.id)).where(postmortems_where(caller)))
    restricted = select(col(Postmortem.id)).where(col(Postmortem.restricted) == True)  # noqa: E712
    return col(column).not_in(restricted)


def teams_where(caller: Caller | None) -> ColumnElement[bool]:
    if caller is None or caller.team_ids is None:
        return true()
    return col(Team.id).in_(sorted(caller.team_ids))


def people_where(caller: Caller | None) -> ColumnElement[bool]:
    if caller is None or caller.team_ids is None:
        return true()
    return col(Person.team_id).in_(sorted(caller.team_ids))


def require_team(caller: Caller, team: Team | None, path: str) -> None:
    """A team named in a body must be one of the caller's; others read as unknown (the same
    422 as a slug that names no team), and a team-scoped caller must name one."""
    if caller.team_ids is None:
        return
    if team is None:
        raise InvalidInput(
            "A team-scoped token must name one of its teams",
            errors=[field_error(path, "required for a team-scoped token")],
        )
    if team.id not in caller.team_ids:
        raise InvalidInput(
            f"Unknown team {team.slug!r}",
            errors=[field_error(path, f"no team with slug {team.slug!r}")],
        )


def require_org_wide(caller: Caller, what: str) -> None:
    if caller.team_ids is not None:
        raise Forbidden(f"{what} needs an org-wide token; this token is scoped to teams")


def _uuid(value: Any) -> UUID | None:
    try:
        return UUID(str(value))
    except ValueError:
        return None


def _postmortem_outside(session: Session, caller: Caller, postmortem_id: UUID) -> bool:
    postmortem = session.get(Postmortem, postmortem_id)
    return postmortem is not None and not can_see(caller, postmortem)


def _item_outside(session: Session, caller: Caller, item_id: UUID) -> bool:
    item = session.get(ActionItem, item_id)
    return item is not None and _postmortem_outside(session, caller, item.postmortem_id)


def _team_outside(session: Session, caller: Caller, team_id: UUID) -> bool:
    return caller.team_ids is not None and team_id not in caller.team_ids


def _person_outside(session: Session, caller: Caller, person_id: UUID) -> bool:
    if caller.team_ids is None:
        return False
    person = session.get(Person, person_id)
    return person is not None and person.team_id not in caller.team_ids


# Each guarded path parameter: how to tell whether its record is outside the boundary, and the
# message the record's own 404 gives.
_GUARDS: dict[str, tuple[Callable[[Session, Caller, UUID], bool], str]] = {
    "postmortem_id": (_postmortem_outside, "No postmortem with id {}"),
    "item_id": (_item_outside, "No action item with id {}"),
    "team_id": (_team_outside, "No team with id {}"),
    "person_id": (_person_outside, "No person with id {}"),
}


def guard(request: Request, session: Session, caller: Caller) -> None:
    """A record outside the caller's boundary is a 404 before the route runs. Called by every
    token dependency (app/auth/deps.py), once the caller is known."""
    params = request.path_params
    if caller.sees_everything or not any(name in params for name in _GUARDS):
        return
    for name, (outside, message) in _GUARDS.items():
        record_id = _uuid(params[name]) if name in params else None
        if record_id is not None and outside(session, caller, record_id):
            raise NotFound(message.format(record_id))
