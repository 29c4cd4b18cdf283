"""Dates and times in queries and bodies are ISO-8601 strings only: a number (or a string of
digits, or a boolean) is refused with 422 naming where, never read as a Unix time."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.factories import action_item_body, make_person, make_postmortem, postmortem_body

NOT_TIMES: list[Any] = ["0.5", "1700000000", "true", "0"]


def problem_paths(response: Any) -> list[str]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    return [error["path"] for error in response.json()["errors"]]


@pytest.mark.parametrize("value", NOT_TIMES)
def test_a_number_as_since_is_refused(client: TestClient, value: str) -> None:
    assert problem_paths(client.get("/v1/postmortems", params={"since": value})) == ["query.since"]
    paths = problem_paths(client.get("/v1/dashboard/summary", params={"until": value}))
    assert paths == ["query.until"]


def test_an_iso_since_is_read(client: TestClient) -> None:
    since = client.get("/v1/postmortems", params={"since": "2026-01-01T00:00:00Z"})
    assert since.status_code == 200
    naive = client.get("/v1/postmortems", params={"since": "2026-01-01T00:00:00"})
    assert problem_paths(naive) == ["query.since"]


@pytest.mark.parametrize("value", [0, 1700000000, 0.5, True, "1700000000"])
def test_numbers_in_bodies_are_refused(client: TestClient, value: Any) -> None:
    make_person(client)
    response = client.post("/v1/postmortems", json=postmortem_body(started_at=value))
    assert problem_paths(response) == ["body.started_at"]
    assert "ISO-8601" in response.json()["errors"][0]["message"]
    item = action_item_body(due_date=value)
    response = client.post("/v1/postmortems", json=postmortem_body(action_items=[item]))
    assert problem_paths(response) == ["body.action_items[0].due_date"]
    assert client.get("/v1/postmortems").json()["items"] == []


def test_a_timeline_entry_time_must_be_a_string(client: TestClient) -> None:
    make_person(client)
    postmortem = make_postmortem(client, action_items=[], timeline=[], decision_points=[])
    body = {"at": 1767225600, "author": "alertmanager", "kind": "alert", "text": "5xx"}
    response = client.post(f"/v1/postmortems/{postmortem['id']}/timeline", json=body)
    assert problem_paths(response) == ["body.at"]


def test_a_due_date_is_a_plain_day(client: TestClient) -> None:
    make_person(client)
    item = action_item_body(due_date="2099-03-01T00:00:00Z")
    response = client.post("/v1/postmortems", json=postmortem_body(action_items=[item]))
    assert problem_paths(response) == ["body.action_items[0].due_date"]
    item = action_item_body(due_date="2099-03-01")
    response = client.post("/v1/postmortems", json=postmortem_body(action_items=[item]))
    assert response.status_code == 201, response.text
    assert response.json()["action_items"][0]["due_date"] == "2099-03-01"
