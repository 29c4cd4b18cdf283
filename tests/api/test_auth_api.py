"""Bearer tokens with scopes read < write < admin, stored only as hashes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
import sqlalchemy as sa
from alembic import command
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from app import migrate
from app.auth import service as auth_service
from app.auth.models import ApiToken
from app.db import UTCDateTime, make_engine, session_scope
from app.enums import Scope
from app.errors import Conflict, InvalidInput, NotFound
from tests.conftest import _create_pg, _pg_url
from tests.factories import postmortem_body

READS = ["/v1/postmortems", "/v1/action-items", "/v1/people", "/v1/teams"]
WRITES = [
    ("/v1/postmortems", postmortem_body(action_items=[])),
    ("/v1/teams", {"slug": "t", "name": "T"}),
    ("/v1/people", {"handle": "h", "display_name": "H"}),
]


def test_health_needs_no_token(anon_client: TestClient) -> None:
    assert anon_client.get("/healthz").json() == {"status": "ok"}
    assert anon_client.get("/readyz").json() == {"status": "ready"}


@pytest.mark.parametrize("header", [None, "Basic dXNlcjpwYXNz", "Bearer", "Bearer ft_unknown"])
def test_missing_malformed_or_unknown_tokens_are_401(
    anon_client: TestClient, header: str | None
) -> None:
    headers = {"Authorization": header} if header else {}
    for path in READS:
        response = anon_client.get(path, headers=headers)
        assert response.status_code == 401, (path, header)
        assert response.headers["content-type"].startswith("application/problem+json")


def test_revoked_tokens_stop_working(
    app: FastAPI, engine: Engine, make_token: Callable[..., str]
) -> None:
    token = make_token("read", "soon-gone")
    with TestClient(app, headers={"Authorization": f"Bearer {token}"}) as c:
        assert c.get("/v1/postmortems").status_code == 200
        with session_scope(engine) as session:
            auth_service.revoke(session, "soon-gone")
        assert c.get("/v1/postmortems").status_code == 401


def test_read_can_read_but_not_write(app: FastAPI, make_token: Callable[..., str]) -> None:
    with TestClient(app, headers={"Authorization": f"Bearer {make_token('read')}"}) as c:
        for path in READS:
            assert c.get(path).status_code == 200
        for path, body in WRITES:
            response = c.post(path, json=body)
            assert response.status_code == 403
            assert "'write' scope" in response.json()["detail"]
        assert c.get("/v1/integrations").status_code == 403


def test_write_can_write_but_not_administer(app: FastAPI, make_token: Callable[..., str]) -> None:
    with TestClient(app, headers={"Authorization": f"Bearer {make_token('write')}"}) as c:
        for path, body in WRITES:
            assert c.post(path, json=body).status_code == 201, path
        assert c.get("/v1/integrations").status_code == 403


def test_tokens_are_stored_as_hashes(engine: Engine, make_token: Callable[..., str]) -> None:
    token = make_token("admin", "hash-check")
    with engine.connect() as conn:
        rows: list[Any] = conn.execute(
            text("SELECT * FROM api_token WHERE name = 'hash-check'")
        ).all()
    assert len(rows) == 1
    assert all(token not in str(value) for value in rows[0])


def _tokens(engine: Engine) -> dict[str, ApiToken]:
    with session_scope(engine) as session:
        return {token.name: token for token in auth_service.list_tokens(session)}


def test_token_names_are_unique_even_after_revoking(engine: Engine) -> None:
    with session_scope(engine) as session:
        auth_service.create(session, name="ci-bot", scope=Scope.WRITE)
    with pytest.raises(Conflict, match="'ci-bot' already exists"), session_scope(engine) as s:
        auth_service.create(s, name=" ci-bot ", scope=Scope.READ)
    with session_scope(engine) as session:
        auth_service.revoke(session, "ci-bot")
    with pytest.raises(Conflict, match="'ci-bot' already exists"), session_scope(engine) as s:
        auth_service.create(s, name="ci-bot", scope=Scope.READ)
    assert list(_tokens(engine)) == ["ci-bot"]


def test_the_database_refuses_a_second_token_with_the_same_name(engine: Engine) -> None:
    with session_scope(engine) as session:
        auth_service.create(session, name="twin", scope=Scope.READ)
    with pytest.raises(IntegrityError), session_scope(engine) as session:
        session.add(ApiToken(name="twin", scope="read", token_hash="0" * 64, prefix="ft_x"))
        session.flush()
    assert list(_tokens(engine)) == ["twin"]


@pytest.mark.parametrize(
    "name",
    [
        "",
        "   ",
        "x" * 101,
        "6188b447-c2ba-427f-8175-2ff2dc48588d",
        "c2b68a5d4b584dc78f441583934a3d6a",
    ],
)
def test_token_names_must_be_present_short_and_not_shaped_like_an_id(
    engine: Engine, name: str
) -> None:
    with pytest.raises(InvalidInput), session_scope(engine) as session:
        auth_service.create(session, name=name, scope=Scope.READ)
    assert _tokens(engine) == {}


@pytest.mark.parametrize("by", ["name", "id"])
def test_revoke_revokes_exactly_the_named_token(engine: Engine, by: str) -> None:
    with session_scope(engine) as session:
        target, _ = auth_service.create(session, name="target", scope=Scope.READ)
        auth_service.create(session, name="bystander", scope=Scope.READ)
    with session_scope(engine) as session:
        revoked = auth_service.revoke(session, "target" if by == "name" else str(target.id))
    assert revoked.id == target.id
    tokens = _tokens(engine)
    assert tokens["target"].revoked_at is not None
    assert tokens["bystander"].revoked_at is None


def test_revoking_an_unknown_or_already_revoked_token_is_refused(engine: Engine) -> None:
    with session_scope(engine) as session:
        auth_service.create(session, name="once", scope=Scope.READ)
        auth_service.revoke(session, "once")
    revoked_at = _tokens(engine)["once"].revoked_at
    with pytest.raises(Conflict, match="already revoked"), session_scope(engine) as session:
        auth_service.revoke(session, "once")
    with pytest.raises(NotFound, match="No token"), session_scope(engine) as session:
        auth_service.revoke(session, "never")
    with pytest.raises(NotFound), session_scope(engine) as session:
        auth_service.revoke(session, str(uuid4()))
    assert _tokens(engine)["once"].revoked_at == revoked_at


def test_revoke_refuses_a_name_that_is_another_tokens_id(engine: Engine) -> None:
    with session_scope(engine) as session:
        first, _ = auth_service.create(session, name="first", scope=Scope.READ)
        # Older data may hold such a name; the service no longer accepts one.
        session.add(ApiToken(name=str(first.id), scope="read", token_hash="1" * 64, prefix="ft_y"))
    with pytest.raises(Conflict, match="matches 2 tokens"), session_scope(engine) as session:
        auth_service.revoke(session, str(first.id))
    assert all(token.revoked_at is None for token in _tokens(engine).values())


# The migration to unique names, run on a database of its own at the revision before it.

api_token = sa.table(
    "api_token",
    sa.column("id", sa.Uuid()),
    sa.column("name", sa.String()),
    sa.column("scope", sa.String()),
    sa.column("token_hash", sa.String()),
    sa.column("prefix", sa.String()),
    sa.column("created_at", UTCDateTime()),
    sa.column("revoked_at", UTCDateTime()),
)
LONG = "n" * 100
T0 = datetime(2026, 1, 1, tzinfo=UTC)
# (name, revoked?) oldest first; "ci-2" already exists, so later "ci" tokens skip that name.
LEGACY = [
    ("ci", False),
    ("ci", True),
    ("solo", False),
    ("ci", False),
    ("ci-2", True),
    (LONG, False),
    (LONG, True),
]
EXPECTED = ["ci", "ci-3", "solo", "ci-4", "ci-2", LONG, LONG[:98] + "-2"]


def _fresh_database(backend: str, tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'legacy.db'}" if backend == "sqlite" else _pg_url(_create_pg())


def test_migration_renames_duplicate_token_names_and_keeps_every_token(
    backend: str, tmp_path: Path
) -> None:
    url = _fresh_database(backend, tmp_path)
    migrate.upgrade(url, "0009")
    ids = [uuid4() for _ in LEGACY]
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            for n, (token_id, (name, revoked)) in enumerate(zip(ids, LEGACY, strict=True)):
                created = T0 + timedelta(minutes=n)
                conn.execute(
                    api_token.insert().values(
                        id=token_id,
                        name=name,
                        scope="read",
                        token_hash=f"{n:064d}",
                        prefix=f"ft_{n}",
                        created_at=created,
                        revoked_at=created + timedelta(days=1) if revoked else None,
                    )
                )
        migrate.upgrade(url, "0010")

        # The table as 0010 left it: the model has columns of later migrations.
        with engine.connect() as conn:
            tokens = {row.id: row for row in conn.execute(sa.select(api_token))}
        assert [tokens[token_id].name for token_id in ids] == EXPECTED
        assert [tokens[token_id].revoked_at is not None for token_id in ids] == [
            revoked for _, revoked in LEGACY
        ]
        assert [tokens[token_id].token_hash for token_id in ids] == [
            f"{n:064d}" for n in range(len(LEGACY))
        ]
        with pytest.raises(IntegrityError), engine.begin() as conn:
            conn.execute(
                api_token.insert().values(
                    id=uuid4(),
                    name="solo",
                    scope="read",
                    token_hash="x" * 64,
                    prefix="ft_x",
                    created_at=T0,
                )
            )

        command.downgrade(migrate.alembic_config(url), "0009")
        with engine.begin() as conn:
            conn.execute(
                api_token.insert().values(
                    id=uuid4(),
                    name="solo",
                    scope="read",
                    token_hash="x" * 64,
                    prefix="ft_x",
                    created_at=T0,
                )
            )
            count = conn.execute(sa.select(sa.func.count()).select_from(api_token)).scalar_one()
        assert count == len(LEGACY) + 1
    finally:
        engine.dispose()
