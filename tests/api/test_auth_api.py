"""Bearer tokens with scopes read < write < admin, stored only as hashes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import Engine

from app.auth import service as auth_service
from app.db import session_scope
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
