from uuid import UUID

from fastapi import APIRouter, Response

from app.auth import boundary
from app.auth.deps import Reader, Writer
from app.db import SessionDep
from app.people import service as people_service
from app.people.schemas import (
    PersonCreate,
    PersonList,
    PersonRead,
    PersonUpdate,
    TeamCreate,
    TeamList,
    TeamRead,
    TeamUpdate,
)
from app.validation import Limit

teams_router = APIRouter(prefix="/v1/teams", tags=["people"])
people_router = APIRouter(prefix="/v1/people", tags=["people"])


@teams_router.post("", status_code=201, response_model=TeamRead)
def create_team(data: TeamCreate, session: SessionDep, caller: Writer) -> TeamRead:
    """Create a team (a slug such as `payments` plus a display name); needs an org-wide token."""
    boundary.require_org_wide(caller, "Creating a team")
    return TeamRead.model_validate(people_service.create_team(session, data), from_attributes=True)


@teams_router.get("", response_model=TeamList)
def list_teams(session: SessionDep, caller: Reader) -> TeamList:
    """All teams, by slug (a team-scoped token's own teams)."""
    teams = people_service.list_teams(session, caller)
    return TeamList(items=[TeamRead.model_validate(t, from_attributes=True) for t in teams])


@teams_router.get("/{team_id}", response_model=TeamRead)
def get_team(team_id: UUID, session: SessionDep, _: Reader) -> TeamRead:
    """One team."""
    return TeamRead.model_validate(people_service.get_team(session, team_id), from_attributes=True)


@teams_router.patch("/{team_id}", response_model=TeamRead)
def update_team(team_id: UUID, data: TeamUpdate, session: SessionDep, _: Writer) -> TeamRead:
    """Rename a team."""
    team = people_service.update_team(session, team_id, data)
    return TeamRead.model_validate(team, from_attributes=True)


@teams_router.delete("/{team_id}", status_code=204)
def delete_team(team_id: UUID, session: SessionDep, caller: Writer) -> Response:
    """Delete a team; its people and postmortems keep existing without a team. Needs an
    org-wide token."""
    boundary.require_org_wide(caller, "Deleting a team")
    people_service.delete_team(session, team_id)
    return Response(status_code=204)


@people_router.post("", status_code=201, response_model=PersonRead)
def create_person(data: PersonCreate, session: SessionDep, caller: Writer) -> PersonRead:
    """Add a person who can own action items; `tracker_accounts` maps tracker to account id."""
    person = people_service.create_person(session, data, caller)
    return people_service.people_read(session, [person])[0]


@people_router.get("", response_model=PersonList)
def list_people(
    session: SessionDep,
    caller: Reader,
    team: str | None = None,
    cursor: str | None = None,
    limit: Limit = 50,
) -> PersonList:
    """People, newest first, optionally of one team."""
    people, next_cursor = people_service.list_people(
        session, team=team, cursor=cursor, limit=limit, caller=caller
    )
    return PersonList(items=people_service.people_read(session, people), next_cursor=next_cursor)


@people_router.get("/{person_id}", response_model=PersonRead)
def get_person(person_id: UUID, session: SessionDep, _: Reader) -> PersonRead:
    """One person."""
    return people_service.people_read(session, [people_service.get_person(session, person_id)])[0]


@people_router.patch("/{person_id}", response_model=PersonRead)
def update_person(
    person_id: UUID, data: PersonUpdate, session: SessionDep, caller: Writer
) -> PersonRead:
    """Change a person's name, email, team or tracker accounts."""
    person = people_service.update_person(session, person_id, data, caller)
    return people_service.people_read(session, [person])[0]


@people_router.delete("/{person_id}", status_code=204)
def delete_person(person_id: UUID, session: SessionDep, _: Writer) -> Response:
    """Remove a person who owns no action item."""
    people_service.delete_person(session, person_id)
    return Response(status_code=204)
