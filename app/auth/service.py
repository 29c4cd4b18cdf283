"""Issue, check and revoke API tokens. Tokens are random; only their hash is stored."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Collection
from dataclasses import dataclass
from uuid import UUID

from sqlalchemy import or_
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from app.auth.models import NAME_MAX_LENGTH, ApiToken
from app.db import utcnow
from app.enums import SCOPE_RANK, Scope
from app.errors import Conflict, Forbidden, InvalidInput, NotFound, TokenRequired, field_error
from app.people.models import Team

TOKEN_PREFIX = "ft_"  # noqa: S105 - a prefix that makes leaked tokens greppable, not a secret


@dataclass(frozen=True)
class Caller:
    """Who is calling: recorded as the actor of every change they make."""

    token_id: UUID
    name: str
    scope: Scope
    # None for an org-wide token; otherwise the only teams whose records it may read and write.
    team_ids: frozenset[UUID] | None = None

    @property
    def actor(self) -> str:
        return f"token:{self.name}"

    @property
    def sees_everything(self) -> bool:
        """An org-wide admin: no team boundary and no restricted postmortem applies."""
        return self.team_ids is None and self.sees_restricted

    @property
    def sees_restricted(self) -> bool:
        """Admins see every postmortem; a team's tokens see their team's restricted ones."""
        return self.scope == Scope.ADMIN


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create(
    session: Session, *, name: str, scope: Scope, team_ids: Collection[UUID] | None = None
) -> tuple[ApiToken, str]:
    """Create a token and return it with its plain text, which is never stored.

    Names are unique among all tokens, revoked ones included, so that a name always means one
    token in `tokens revoke` and in the history's actor strings. With `team_ids` the token is
    scoped to those teams; admin tokens are always org-wide, because what they manage
    (integrations, tokens, parked jobs) belongs to no team.
    """
    if team_ids is not None and scope == Scope.ADMIN:
        raise InvalidInput(
            "Admin tokens are org-wide; scope a read or write token to teams instead",
            errors=[field_error("team", "not allowed with the admin scope")],
        )
    if team_ids is not None and not team_ids:
        raise InvalidInput(
            "A team-scoped token needs at least one team",
            errors=[field_error("team", "empty")],
        )
    name = name.strip()
    if not name:
        raise InvalidInput("A token needs a name", errors=[field_error("name", "empty")])
    if len(name) > NAME_MAX_LENGTH:
        raise InvalidInput(
            f"A token name has at most {NAME_MAX_LENGTH} characters",
            errors=[field_error("name", f"longer than {NAME_MAX_LENGTH} characters")],
        )
    if _is_uuid(name) is not None:
        # `tokens revoke` takes an id or a name; a name shaped like an id would be ambiguous.
        raise InvalidInput(
            "A token name cannot look like a token id",
            errors=[field_error("name", "shaped like a UUID")],
        )
    taken = (
        f"A token named {name!r} already exists (revoked tokens keep their names too); "
        "choose another name"
    )
    if session.exec(select(ApiToken.id).where(ApiToken.name == name)).first() is not None:
        raise Conflict(taken)
    plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        name=name,
        scope=scope.value,
        token_hash=hash_token(plain),
        prefix=plain[:10],
        team_ids=sorted(str(team_id) for team_id in team_ids) if team_ids is not None else None,
    )
    session.add(token)
    # Two concurrent creates can both pass the check above; the unique constraint decides, and
    # the caller's transaction is rolled back as a whole.
    try:
        session.flush()
    except IntegrityError as exc:
        raise Conflict(taken) from exc
    return token, plain


def team_ids_for(session: Session, slugs: Collection[str]) -> list[UUID]:
    """The ids of the teams with these slugs; refuses when any slug names no team."""
    wanted = sorted({slug.strip() for slug in slugs})
    found = dict(session.exec(select(Team.slug, Team.id).where(col(Team.slug).in_(wanted))).all())
    missing = [slug for slug in wanted if slug not in found]
    if missing:
        raise InvalidInput(
            f"No team with slug {', '.join(repr(slug) for slug in missing)}",
            errors=[field_error("team", f"no team with slug {slug!r}") for slug in missing],
        )
    return [found[slug] for slug in wanted]


def team_slugs_of(session: Session, token: ApiToken) -> list[str] | None:
    """The slugs of a token's teams (ids of deleted teams are left out), None if org-wide."""
    if token.team_ids is None:
        return None
    ids = [UUID(team_id) for team_id in token.team_ids]
    return sorted(session.exec(select(Team.slug).where(col(Team.id).in_(ids))).all())


def list_tokens(session: Session) -> list[ApiToken]:
    """Every token, active and revoked, oldest first."""
    query = select(ApiToken).order_by(col(ApiToken.created_at), col(ApiToken.id))
    return list(session.exec(query))


def revoke(session: Session, token_id_or_name: str) -> ApiToken:
    """Revoke the one token with this id or name.

    Refuses, revoking nothing, when nothing matches, when the token is already revoked, or when
    the argument matches more than one token (a database not yet migrated to unique names, or a
    name that equals another token's id).
    """
    wanted = token_id_or_name.strip()
    token_id = _is_uuid(wanted)
    condition = col(ApiToken.name) == wanted
    if token_id is not None:
        condition = or_(condition, col(ApiToken.id) == token_id)
    query = select(ApiToken).where(condition).order_by(col(ApiToken.created_at))
    matches = list(session.exec(query))
    if not matches:
        raise NotFound(f"No token with id or name {wanted!r}")
    if len(matches) > 1:
        ids = ", ".join(str(token.id) for token in matches)
        raise Conflict(
            f"{wanted!r} matches {len(matches)} tokens ({ids}); nothing was revoked. "
            "Revoke one of them by its id."
        )
    token = matches[0]
    if token.revoked_at is not None:
        raise Conflict(
            f"Token {token.id} ({token.name}) was already revoked at "
            f"{token.revoked_at.isoformat(timespec='seconds')}"
        )
    token.revoked_at = utcnow()
    session.add(token)
    session.flush()
    return token


def _is_uuid(value: str) -> UUID | None:
    try:
        return UUID(value)
    except ValueError:
        return None


def authenticate(
    session: Session,
    authorization: str | None,
    required: Scope,
    identified: Caller | None = None,
) -> Caller:
    """The caller behind the Authorization header, refused below the required scope.

    `identified` is the caller already looked up for this request (the team boundary does it
    first), which saves a second query."""
    if not authorization:
        raise TokenRequired(
            "Missing or malformed Authorization header; send 'Authorization: Bearer <token>'"
        )
    scheme, _, plain = authorization.partition(" ")
    if scheme.lower() != "bearer" or not plain.strip():
        raise TokenRequired("Authorization header must be 'Bearer <token>'")
    caller = identified or identify(session, plain)
    if caller is None:
        raise TokenRequired("The bearer token is unknown or revoked", invalid=True)
    if SCOPE_RANK[caller.scope] < SCOPE_RANK[required]:
        raise Forbidden(f"This call needs the '{required}' scope; the token has '{caller.scope}'")
    return caller


def identify(session: Session, plain: str) -> Caller | None:
    """Whose token this is, or None when it is unknown or revoked."""
    token = session.exec(
        select(ApiToken).where(ApiToken.token_hash == hash_token(plain.strip()))
    ).first()
    if token is None or token.revoked_at is not None:
        return None
    team_ids = (
        frozenset(UUID(team_id) for team_id in token.team_ids)
        if token.team_ids is not None
        else None
    )
    return Caller(token_id=token.id, name=token.name, scope=Scope(token.scope), team_ids=team_ids)
