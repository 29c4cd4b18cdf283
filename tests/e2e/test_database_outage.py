"""The database goes away under a running service (a PostgreSQL of its own, stopped and started
again): requests meanwhile get 503 with Retry-After and save nothing, and the service is whole
again once the database is back, without a restart."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app import migrate
from app.auth import service as auth_service
from app.db import session_scope
from app.enums import Scope
from app.main import create_app
from app.settings import Settings, SyncPolicy
from bench.throwaway_postgres import ThrowawayPostgres


@pytest.fixture(scope="module")
def postgres() -> Iterator[ThrowawayPostgres]:
    with ThrowawayPostgres() as pg:
        yield pg


def test_requests_while_the_database_is_down_get_503_and_save_nothing(
    postgres: ThrowawayPostgres, tmp_path: Path
) -> None:
    migrate.upgrade(postgres.url())
    app = create_app(
        Settings(
            database_url=postgres.url(),
            data_dir=tmp_path,
            secret_key="outage",
            sync=SyncPolicy(run_in_api_process=False),
        )
    )
    with session_scope(app.state.engine) as session:
        _, token = auth_service.create(session, name="outage", scope=Scope.ADMIN)
    with TestClient(app, headers={"Authorization": f"Bearer {token}"}) as client:
        assert client.post("/v1/teams", json={"slug": "payments", "name": "Payments"}).is_success

        postgres.down()
        try:
            for method, path, body in (
                ("GET", "/v1/teams", None),
                ("POST", "/v1/teams", {"slug": "search", "name": "Search"}),
            ):
                answer = client.request(method, path, json=body)
                assert answer.status_code == 503, (method, path, answer.text)
                assert answer.headers["Retry-After"] == "2"
                assert answer.headers["content-type"] == "application/problem+json"
                assert "nothing was saved" in answer.json()["detail"]
        finally:
            postgres.up()

        # Back without a restart: the pool's dead connections are replaced.
        listed = client.get("/v1/teams")
        assert listed.status_code == 200, listed.text
        assert [t["slug"] for t in listed.json()["items"]] == ["payments"]
        again = client.post("/v1/teams", json={"slug": "search", "name": "Search"})
        assert again.status_code == 201, again.text
    app.state.engine.dispose()
