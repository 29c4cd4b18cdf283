"""Teams and people: who can own an action item and which team it belongs to."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from app.action_items.models import ActionItem
from app.auth import boundary
from app.auth.service import Caller
from app.enums import TrackerKind
from app.errors import Conflict, InvalidInput, NotFound, field_error
from app.integrations.models import Integration
from app.pagination import paginate
from app.people.models import Person, Team
from app.people.schemas import PersonCreate, PersonRead, PersonUpdate, TeamCreate, TeamUpdate


def get_team(session: Session, team_id: UUID) -> Team:
    team = session.get(Team, team_id)
    if team is None:
        raise NotFound(f"No team with id {team_id}")
    return team


def team_by_slug(session: Session, slug: str) -> Team | None:
    return session.exec(select(Team).where(Team.slug == slug)).first()


def resolve_team(session: Session, slug: str | None, path: str) -> Team | None:
    """The team named by `slug`, or a 422 that points at the field that named it."""
    if slug is None:
        return None
    team = team_by_slug(session, slug)
    if team is None:
        raise InvalidInput(
            f"Unknown team {slug!r}", errors=[field_error(path, f"no team with slug {slug!r}")]
        )
    return team


def create_team(session: Session, data: TeamCreate) -> Team:
    if team_by_slug(session, data.slug) is not None:
        raise Conflict(f"A team with slug {data.slug!r} already exists")
    team = Team(slug=data.slug, name=data.name)
    session.add(team)
    flush_unique(session, f"A team with slug {data.slug!r} already exists")
    return team


def update_team(session: Session, team_id: UUID, data: TeamUpdate) -> Team:
    team = get_team(session, team_id)
    if data.name is not None:
        team.name = data.name
    session.add(team)
    session.flush()
    return team


def list_teams(session: Session, caller: Caller | None = None) -> list[Team]:
    """Every team, by slug; a team-scoped caller's own teams only."""
    query = select(Team).where(boundary.teams_where(caller)).order_by(col(Team.slug))
    return list(session.exec(query))


def delete_team(session: Session, team_id: UUID) -> None:
    session.delete(get_team(session, team_id))
    session.flush()


def get_person(session: Session, person_id: UUID) -> Person:
    person = session.get(Person, person_id)
    if person is None:
        raise NotFound(f"No person with id {person_id}")
    return person


def person_by_handle(session: Session, handle: str) -> Person | None:
    return session.exec(select(Person).where(Person.handle == handle)).first()


def create_person(session: Session, data: PersonCreate, caller: Caller) -> Person:
    if person_by_handle(session, data.handle) is not None:
        raise Conflict(f"A person with handle {data.handle!r} already exists")
    team = resolve_team(session, data.team, "body.team")
    boundary.require_team(caller, team, "body.team")
    person = Person(
        handle=data.handle,
        display_name=data.display_name,
        email=data.email,
        team_id=team.id if team else None,
        tracker_accounts=_accounts(session, data.tracker_accounts),
    )
    session.add(person)
    flush_unique(session, f"A person with handle {data.handle!r} already exists")
    return person


def update_person(session: Session, person_id: UUID, data: PersonUpdate, caller: Caller) -> Person:
    person = get_person(session, person_id)
    fields = data.model_fields_set
    if "display_name" in fields and data.display_name is not None:
        person.display_name = data.display_name
    if "email" in fields:
        person.email = data.email
    if "team" in fields:
        team = resolve_team(session, data.team, "body.team")
        boundary.require_team(caller, team, "body.team")
        person.team_id = team.id if team else None
    if "tracker_accounts" in fields:
        person.tracker_accounts = _accounts(session, data.tracker_accounts or {})
    session.add(person)
    session.flush()
    return person


def _accounts(session: Session, accounts: dict[str, str]) -> dict[str, str]:
    """Keys are tracker kinds, or integration names when one kind has several workspaces."""
    kinds = {kind.value for kind in TrackerKind}
    names = set(session.exec(select(Integration.name)).all())
    for key in accounts:
        if key not in kinds and key not in names:
            raise InvalidInput(
                f"tracker_accounts key {key!r} is neither a tracker kind ({', '.join(sorted(kinds))}) "
                "nor the name of an integration",
                errors=[
                    field_error(f"body.tracker_accounts.{key}", "unknown tracker or integration")
                ],
            )
    return dict(accounts)


def account_on(person: Person, kind: str, integration_name: str) -> str | None:
    """The person's account on an integration: its own entry first, else the tracker kind's."""
    accounts = person.tracker_accounts or {}
    return accounts.get(integration_name) or accounts.get(kind)


def delete_person(session: Session, person_id: UUID) -> None:
    person = get_person(session, person_id)
    owns = session.exec(
        select(ActionItem.id).where(ActionItem.owner_person_id == person.id)
    ).first()
    if owns is not None:
        raise Conflict(
            f"{person.handle!r} owns action items; reassign them before removing this person"
        )
    session.delete(person)
    session.flush()


def list_people(
    session: Session,
    *,
    team: str | None,
    cursor: str | None,
    limit: int,
    caller: Caller | None = None,
) -> tuple[list[Person], str | None]:
    query = select(Person).where(boundary.people_where(caller))
    if team is not None:
        found = team_by_slug(session, team)
        if found is None:
            return [], None
        query = query.where(Person.team_id == found.id)
    return paginate(
        session, query, at_column=Person.created_at, id_column=Person.id, cursor=cursor, limit=limit
    )


def team_slugs(session: Session, team_ids: set[UUID]) -> dict[UUID, str]:
    if not team_ids:
        return {}
    rows = session.exec(select(Team.id, Team.slug).where(Team.id.in_(team_ids)))  # type: ignore[attr-defined]
    return dict(rows.all())


def person_read(person: Person, slugs: dict[UUID, str]) -> PersonRead:
    return PersonRead(
        id=person.id,
        handle=person.handle,
        display_name=person.display_name,
        email=person.email,
        team=slugs.get(person.team_id) if person.team_id else None,
        tracker_accounts=dict(person.tracker_accounts or {}),
        created_at=person.created_at,
    )


def people_read(session: Session, people: list[Person]) -> list[PersonRead]:
    slugs = team_slugs(session, {p.team_id for p in people if p.team_id})
    return [person_read(p, slugs) for p in people]


def flush_unique(session: Session, message: str) -> None:
    # Two concurrent creates can both pass the pre-check; the unique index decides, and the
    # request's transaction is rolled back as a whole.
    try:
        session.flush()
    except IntegrityError as exc:
        raise Conflict(message) from exc
