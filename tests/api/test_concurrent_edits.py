"""Concurrent writers over real HTTP: no lost update goes unnoticed, nothing half-written, no 500."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx
from fastapi.testclient import TestClient

from tests.factories import make_person, make_postmortem, postmortem_body

THREADS = 8


def test_same_if_match_lets_exactly_one_writer_win(
    live_server: str, client: TestClient, make_token: Callable[..., str]
) -> None:
    make_person(client, "alice")
    item = make_postmortem(client)["action_items"][0]
    headers = {"Authorization": f"Bearer {make_token('write', 'editor')}", "If-Match": '"1"'}

    def edit(n: int) -> int:
        response = httpx.patch(
            f"{live_server}/v1/action-items/{item['id']}",
            json={"verification": f"drill {n}"},
            headers=headers,
            timeout=30,
        )
        return response.status_code

    with ThreadPoolExecutor(THREADS) as pool:
        statuses = list(pool.map(edit, range(THREADS)))
    assert sorted(statuses) == [200] + [412] * (THREADS - 1), statuses
    assert client.get(f"/v1/action-items/{item['id']}").json()["version"] == 2


def test_writers_without_if_match_all_land_and_all_are_recorded(
    live_server: str, client: TestClient, make_token: Callable[..., str]
) -> None:
    make_person(client, "alice")
    item = make_postmortem(client)["action_items"][0]
    headers = {"Authorization": f"Bearer {make_token('write', 'editor')}"}

    def edit(n: int) -> int:
        return httpx.patch(
            f"{live_server}/v1/action-items/{item['id']}",
            json={"description": f"edit {n}"},
            headers=headers,
            timeout=30,
        ).status_code

    with ThreadPoolExecutor(THREADS) as pool:
        statuses = list(pool.map(edit, range(THREADS)))
    assert statuses == [200] * THREADS
    final = client.get(f"/v1/action-items/{item['id']}").json()
    assert final["version"] == 1 + THREADS
    edits = [
        e
        for e in client.get(f"/v1/action-items/{item['id']}/history").json()["events"]
        if e["kind"] == "edited"
    ]
    assert len(edits) == THREADS
    # Each edit saw the one before it: the chain of old -> new values is unbroken.
    chain = [e["changes"]["description"] for e in edits]
    assert all(chain[i][1] == chain[i + 1][0] for i in range(len(chain) - 1))


def test_racing_creates_for_one_incident_make_one_postmortem(
    live_server: str, client: TestClient, make_token: Callable[..., str]
) -> None:
    headers = {"Authorization": f"Bearer {make_token('write', 'bots')}"}
    body = postmortem_body(action_items=[], incident_ref="INC-RACE")

    def create(_: int) -> int:
        return httpx.post(
            f"{live_server}/v1/postmortems", json=body, headers=headers, timeout=30
        ).status_code

    with ThreadPoolExecutor(THREADS) as pool:
        statuses = list(pool.map(create, range(THREADS)))
    assert sorted(statuses) == [201] + [409] * (THREADS - 1), statuses
    assert len(client.get("/v1/postmortems").json()["items"]) == 1
