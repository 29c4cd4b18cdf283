"""Idempotency-Key: a repeated POST returns the first answer and creates nothing twice."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import httpx
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, update
from sqlalchemy.engine import Engine
from sqlmodel import select

from app.auth import service as auth_service
from app.db import session_scope, utcnow
from app.idempotency import store as idempotency_store
from app.idempotency.models import IdempotencyRecord
from app.settings import Settings
from app.sync.worker import Worker
from tests.e2e.sync_support import connect_tracker
from tests.factories import postmortem_body
from tests.fake_trackers.jira import API_TOKEN, FakeJira


def count_postmortems(client: TestClient) -> int:
    return len(client.get("/v1/postmortems").json()["items"])


def test_same_key_and_body_replays_the_first_answer(client: TestClient) -> None:
    body = postmortem_body(action_items=[])
    headers = {"Idempotency-Key": "create-inc-1"}
    first = client.post("/v1/postmortems", json=body, headers=headers)
    second = client.post("/v1/postmortems", json=body, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert second.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert count_postmortems(client) == 1


def test_same_key_with_another_body_is_refused(client: TestClient) -> None:
    headers = {"Idempotency-Key": "k1"}
    assert (
        client.post(
            "/v1/postmortems", json=postmortem_body(action_items=[]), headers=headers
        ).status_code
        == 201
    )
    other = client.post("/v1/postmortems", json=postmortem_body(action_items=[]), headers=headers)
    assert other.status_code == 422
    assert other.json()["errors"][0]["path"] == "header.Idempotency-Key"
    assert count_postmortems(client) == 1


def test_keys_belong_to_their_caller(
    app: FastAPI, client: TestClient, make_token: Callable[..., str]
) -> None:
    headers = {"Idempotency-Key": "shared-key"}
    client.post("/v1/postmortems", json=postmortem_body(action_items=[]), headers=headers)
    with TestClient(
        app, headers={"Authorization": f"Bearer {make_token('write', 'other')}"}
    ) as other:
        response = other.post(
            "/v1/postmortems", json=postmortem_body(action_items=[]), headers=headers
        )
    assert response.status_code == 201
    assert count_postmortems(client) == 2


def test_an_error_answer_is_replayed_too(client: TestClient) -> None:
    headers = {"Idempotency-Key": "bad-one"}
    body = postmortem_body(action_items=[], severity="SEV9")
    first = client.post("/v1/postmortems", json=body, headers=headers)
    second = client.post("/v1/postmortems", json=body, headers=headers)
    assert first.status_code == second.status_code == 422
    assert first.json() == second.json()


def test_malformed_keys_are_refused(client: TestClient) -> None:
    for key in ["x" * 256, "has space"]:
        response = client.post(
            "/v1/teams", json={"slug": "t", "name": "T"}, headers={"Idempotency-Key": key}
        )
        assert response.status_code == 400
    assert client.get("/v1/teams").json()["items"] == []


def test_concurrent_repeats_create_exactly_once(
    live_server: str, make_token: Callable[..., str], client: TestClient
) -> None:
    body = postmortem_body(action_items=[])
    headers = {"Authorization": f"Bearer {make_token('write', 'racer')}", "Idempotency-Key": "race"}

    def send() -> int:
        return httpx.post(
            f"{live_server}/v1/postmortems", json=body, headers=headers, timeout=30
        ).status_code

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda _: send(), range(8)))
    assert set(statuses) <= {201, 409}, statuses
    assert 201 in statuses
    assert count_postmortems(client) == 1


def count_records(engine: Engine) -> int:
    with session_scope(engine, read_only=True) as session:
        return int(session.exec(select(func.count()).select_from(IdempotencyRecord)).one())


def age_records(engine: Engine, hours: float) -> None:
    with session_scope(engine) as session:
        session.execute(
            update(IdempotencyRecord).values(created_at=utcnow() - timedelta(hours=hours))
        )


def test_an_unknown_token_leaves_no_record(anon_client: TestClient, engine: Engine) -> None:
    headers = {"Authorization": "Bearer ft_not-a-token", "Idempotency-Key": "guess"}
    for _ in range(3):
        response = anon_client.post(
            "/v1/postmortems", json=postmortem_body(action_items=[]), headers=headers
        )
        assert response.status_code == 401
        assert "idempotent-replayed" not in response.headers
    assert count_records(engine) == 0


def test_a_revoked_token_gets_no_stored_reply(
    app: FastAPI, engine: Engine, make_token: Callable[..., str]
) -> None:
    body = postmortem_body(action_items=[])
    headers = {"Authorization": f"Bearer {make_token('write', 'leaver')}", "Idempotency-Key": "k"}
    with TestClient(app) as anon:
        assert anon.post("/v1/postmortems", json=body, headers=headers).status_code == 201
        with session_scope(engine) as session:
            auth_service.revoke(session, "leaver")
        repeat = anon.post("/v1/postmortems", json=body, headers=headers)
    assert repeat.status_code == 401
    assert "idempotent-replayed" not in repeat.headers
    assert "Checkout" not in repeat.text


def test_keys_belong_to_the_token_not_to_the_header_spelling(client: TestClient) -> None:
    body = postmortem_body(action_items=[])
    token = client.headers["Authorization"].split(" ", 1)[1]
    first = client.post("/v1/postmortems", json=body, headers={"Idempotency-Key": "spelling"})
    again = client.post(
        "/v1/postmortems",
        json=body,
        headers={"Idempotency-Key": "spelling", "Authorization": f"bearer  {token}"},
    )
    assert again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()


def test_an_expired_key_is_new_again(
    client: TestClient, engine: Engine, settings: Settings
) -> None:
    body = postmortem_body(action_items=[])
    headers = {"Idempotency-Key": "daily-import"}
    assert client.post("/v1/postmortems", json=body, headers=headers).status_code == 201
    age_records(engine, settings.limits.idempotency_key_hours - 0.1)
    assert (
        "idempotent-replayed" in client.post("/v1/postmortems", json=body, headers=headers).headers
    )
    age_records(engine, settings.limits.idempotency_key_hours + 0.1)
    # Run afresh, not replayed: the app itself now refuses a second postmortem for the incident.
    fresh = client.post("/v1/postmortems", json=body, headers=headers)
    assert fresh.status_code == 409, fresh.text
    assert "already has a postmortem" in fresh.json()["detail"]
    assert "idempotent-replayed" not in fresh.headers
    assert count_postmortems(client) == 1
    assert count_records(engine) == 1


def test_purge_deletes_only_expired_records(client: TestClient, engine: Engine) -> None:
    for key in ("old-1", "old-2"):
        client.post("/v1/teams", json={"slug": key, "name": key}, headers={"Idempotency-Key": key})
    age_records(engine, 30)
    client.post(
        "/v1/teams", json={"slug": "new", "name": "New"}, headers={"Idempotency-Key": "new"}
    )
    assert idempotency_store.purge_expired(engine, timedelta(hours=24)) == 2
    with session_scope(engine, read_only=True) as session:
        assert [r.key for r in session.exec(select(IdempotencyRecord)).all()] == ["new"]


def test_the_sync_worker_purges_expired_records(
    client: TestClient, engine: Engine, settings: Settings
) -> None:
    client.post("/v1/teams", json={"slug": "t", "name": "T"}, headers={"Idempotency-Key": "t"})
    age_records(engine, settings.limits.idempotency_key_hours + 1)
    worker = Worker(engine, settings)
    runner = threading.Thread(target=worker.run_forever, daemon=True)
    runner.start()
    try:
        deadline = time.monotonic() + 10
        while count_records(engine) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        worker.stop()
        runner.join(timeout=10)
    assert count_records(engine) == 0


def test_an_answer_marked_no_store_is_not_kept(
    client: TestClient, engine: Engine, fake_jira: FakeJira
) -> None:
    integration = connect_tracker(
        client,
        "jira",
        fake_jira.base_url,
        {"email": "bot@example.com", "api_token": API_TOKEN},
        "OPS",
    )
    url = f"/v1/integrations/{integration['id']}/webhook"
    first = client.post(url, headers={"Idempotency-Key": "setup"})
    assert first.status_code == 200
    assert first.headers["cache-control"] == "no-store"
    repeat = client.post(url, headers={"Idempotency-Key": "setup"})
    assert repeat.status_code == 409
    assert "no-store" in repeat.json()["detail"]
    assert "status 200" in repeat.json()["detail"]
    with session_scope(engine, read_only=True) as session:
        [record] = session.exec(
            select(IdempotencyRecord).where(IdempotencyRecord.key == "setup")
        ).all()
    assert (record.status_code, record.withheld, record.body) == (200, True, None)
