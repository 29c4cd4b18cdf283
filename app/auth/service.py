"""Issue, check and revoke API tokens. Tokens are random; only their hash is stored."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from uuid import UUID

from sqlmodel import Session, select

from app.auth.models import ApiToken
from app.db import utcnow
from app.enums import SCOPE_RANK, Scope
from app.errors import Forbidden, NotFound, Unauthorized

TOKEN_PREFIX = "ft_"  # noqa: S105 - a prefix that makes leaked tokens greppable, not a secret


@dataclass(frozen=True)
class Caller:
    """Who is calling: recorded as the actor of every change they make."""

    token_id: UUID
    name: str
    scope: Scope

    @property
    def actor(self) -> str:
        return f"token:{self.name}"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create(session: Session, *, name: str, scope: Scope) -> tuple[ApiToken, str]:
    """Create a token and return it with its plain text, which is never stored."""
    plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(name=name, scope=scope.value, token_hash=hash_token(plain), prefix=plain[:10])
    session.add(token)
    session.flush()
    return token, plain


def list_tokens(session: Session) -> list[ApiToken]:
    return list(session.exec(select(ApiToken).order_by(ApiToken.created_at)))  # type: ignore[arg-type]


def revoke(session: Session, token_id_or_name: str) -> ApiToken:
    query = select(ApiToken).where(ApiToken.revoked_at.is_(None))  # type: ignore[union-attr]
    try:
        query = query.where(ApiToken.id == UUID(token_id_or_name))
    except ValueError:
        query = query.where(ApiToken.name == token_id_or_name)
    tokens = list(session.exec(query))
    if not tokens:
        raise NotFound(f"No active token with id or name {token_id_or_name!r}")
    for token in tokens:
        token.revoked_at = utcnow()
        session.add(token)
    session.flush()
    return tokens[0]


def authenticate(session: Session, authorization: str | None, required: Scope) -> Caller:
    if not authorization:
        raise Unauthorized(
            "Missing or malformed Authorization header; send 'Authorization: Bearer <token>'"
        )
    scheme, _, plain = authorization.partition(" ")
    if scheme.lower() != "bearer" or not plain.strip():
        raise Unauthorized("Authorization header must be 'Bearer <token>'")
    caller = identify(session, plain)
    if caller is None:
        raise Unauthorized("The bearer token is unknown or revoked")
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
    return Caller(token_id=token.id, name=token.name, scope=Scope(token.scope))
