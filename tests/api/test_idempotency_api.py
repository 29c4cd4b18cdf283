"""Idempotency-Key: a repeated POST returns the first answer and creates nothing twice."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.factories import postmortem_body


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
