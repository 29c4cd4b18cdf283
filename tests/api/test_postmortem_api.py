"""Postmortems through the real app and database: create, read, edit, delete, list."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.factories import (
    INCIDENT_START,
    action_item_body,
    iso,
    make_person,
    make_postmortem,
    make_team,
    postmortem_body,
)

PROBLEM = "application/problem+json"


def error_paths(response: Any) -> list[str]:
    assert response.headers["content-type"].startswith(PROBLEM), response.text
    return [e["path"] for e in response.json().get("errors", [])]


def test_create_with_everything_in_one_call_and_read_it_back(client: TestClient) -> None:
    make_team(client, "payments")
    make_person(client, "alice")
    created = client.post("/v1/postmortems", json=postmortem_body(team="payments"))
    assert created.status_code == 201, created.text
    assert created.headers["etag"] == '"1"'
    assert created.headers["location"] == f"/v1/postmortems/{created.json()['id']}"
    body = client.get(f"/v1/postmortems/{created.json()['id']}").json()
    assert body["team"] == "payments"
    assert body["services"] == ["checkout"]
    assert body["status"] == "draft"
    assert len(body["timeline"]) == 1 and len(body["decision_points"]) == 1
    assert len(body["conditions"]) == 2 and len(body["action_items"]) == 1
    assert body["action_items"][0]["owner"] == "alice"
    assert body["created_by"] == "token:admin-tests"


def test_a_bad_nested_item_writes_nothing_at_all(client: TestClient) -> None:
    body = postmortem_body(action_items=[action_item_body(owner="nobody")])
    response = client.post("/v1/postmortems", json=body)
    assert response.status_code == 422
    assert error_paths(response) == ["body.action_items[0].owner"]
    assert client.get("/v1/postmortems").json()["items"] == []


@pytest.mark.parametrize(
    ("overrides", "path"),
    [
        ({"severity": "SEV9"}, "body.severity"),
        ({"started_at": "yesterday"}, "body.started_at"),
        ({"started_at": "2026-11-02T09:00:00"}, "body.started_at"),
        ({"title": ""}, "body.title"),
        ({"services": "checkout"}, "body.services"),
        ({"links": [{"kind": "runbook", "url": "not a url"}]}, "body.links[0].url"),
        ({"chain_walk": {"L9": {}}}, "body.chain_walk.L9"),
        ({"root_cause": "dns"}, "body.root_cause"),
        (
            {
                "timeline": [
                    {"at": iso(INCIDENT_START), "author": "x", "kind": "rumour", "text": "t"}
                ]
            },
            "body.timeline[0].kind",
        ),
    ],
)
def test_bad_input_says_what_is_wrong_and_where(
    client: TestClient, overrides: dict[str, Any], path: str
) -> None:
    response = client.post("/v1/postmortems", json=postmortem_body(action_items=[], **overrides))
    assert response.status_code == 422, response.text
    assert path in error_paths(response)
    assert response.json()["detail"]


def test_incident_times_must_run_forwards(client: TestClient) -> None:
    body = postmortem_body(action_items=[], resolved_at=iso(INCIDENT_START - timedelta(hours=1)))
    response = client.post("/v1/postmortems", json=body)
    assert response.status_code == 422
    assert "resolved_at" in response.json()["detail"]


def test_non_json_and_wrongly_typed_bodies_are_422_not_500(client: TestClient) -> None:
    response = client.post(
        "/v1/postmortems", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert client.post("/v1/postmortems", json=[1, 2]).status_code == 422


def test_oversized_body_is_413(client: TestClient) -> None:
    body = postmortem_body(action_items=[], summary="x" * 1_100_000)
    response = client.post("/v1/postmortems", json=body)
    assert response.status_code == 413
    assert response.headers["content-type"].startswith(PROBLEM)


def test_one_postmortem_per_incident(client: TestClient) -> None:
    first = make_postmortem(client, action_items=[])
    again = client.post(
        "/v1/postmortems", json=postmortem_body(action_items=[], incident_ref=first["incident_ref"])
    )
    assert again.status_code == 409
    assert again.json()["existing_id"] == first["id"]


def test_unknown_ids_are_404_problems(client: TestClient) -> None:
    missing = "00000000-0000-4000-8000-000000000000"
    for method, path in [
        ("GET", f"/v1/postmortems/{missing}"),
        ("PATCH", f"/v1/postmortems/{missing}"),
        ("DELETE", f"/v1/postmortems/{missing}"),
        ("GET", f"/v1/postmortems/{missing}/checks"),
        ("POST", f"/v1/postmortems/{missing}/publish"),
        ("GET", f"/v1/postmortems/{missing}/markdown"),
    ]:
        response = client.request(method, path, json={} if method == "PATCH" else None)
        assert response.status_code == 404, (method, path, response.text)
        assert response.headers["content-type"].startswith(PROBLEM)
    assert client.get("/v1/postmortems/not-a-uuid").status_code == 422


def test_patch_changes_fields_and_replaces_lists(client: TestClient) -> None:
    make_team(client, "search")
    pm = make_postmortem(client, action_items=[])
    response = client.patch(
        f"/v1/postmortems/{pm['id']}",
        json={
            "title": "Search was slow",
            "services": ["search", "api"],
            "tags": ["DNS"],
            "team": "search",
            "review": {"surprises": "the cache was cold"},
            "status": "in_review",
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["title"], body["services"], body["tags"], body["team"]) == (
        "Search was slow",
        ["api", "search"],
        ["dns"],
        "search",
    )
    assert body["review"]["surprises"] == "the cache was cold"
    assert body["status"] == "in_review"
    assert body["version"] == 2
    assert response.headers["etag"] == '"2"'


def test_patch_checks_times_against_the_stored_ones(client: TestClient) -> None:
    pm = make_postmortem(client, action_items=[])
    response = client.patch(
        f"/v1/postmortems/{pm['id']}",
        json={"detected_at": iso(INCIDENT_START - timedelta(hours=1))},
    )
    assert response.status_code == 422
    assert "body.detected_at" in error_paths(response)
    assert client.get(f"/v1/postmortems/{pm['id']}").json()["version"] == 1


def test_patch_refuses_null_for_required_fields(client: TestClient) -> None:
    pm = make_postmortem(client, action_items=[])
    response = client.patch(f"/v1/postmortems/{pm['id']}", json={"title": None})
    assert response.status_code == 422
    assert error_paths(response) == ["body.title"]


def test_stale_if_match_is_refused_and_a_current_one_accepted(client: TestClient) -> None:
    pm = make_postmortem(client, action_items=[])
    url = f"/v1/postmortems/{pm['id']}"
    assert (
        client.patch(url, json={"summary": "one"}, headers={"If-Match": '"1"'}).status_code == 200
    )
    stale = client.patch(url, json={"summary": "two"}, headers={"If-Match": '"1"'})
    assert stale.status_code == 412
    assert stale.json()["current_version"] == 2
    assert client.get(url).json()["summary"] == "one"
    assert (
        client.patch(url, json={"summary": "three"}, headers={"If-Match": 'W/"2"'}).status_code
        == 200
    )
    assert (
        client.patch(url, json={"summary": "x"}, headers={"If-Match": "banana"}).status_code == 422
    )


def test_delete_a_draft_but_never_a_published_postmortem(client: TestClient) -> None:
    make_person(client, "alice")
    draft = make_postmortem(client)
    assert client.delete(f"/v1/postmortems/{draft['id']}").status_code == 204
    assert client.get(f"/v1/postmortems/{draft['id']}").status_code == 404
    assert client.get(f"/v1/action-items/{draft['action_items'][0]['id']}").status_code == 404

    published = make_postmortem(client)
    assert client.post(f"/v1/postmortems/{published['id']}/publish").status_code == 200
    assert client.delete(f"/v1/postmortems/{published['id']}").status_code == 409
    assert (
        client.patch(f"/v1/postmortems/{published['id']}", json={"status": "draft"}).status_code
        == 409
    )


def test_list_filters(client: TestClient) -> None:
    make_team(client, "payments")
    make_team(client, "search")
    a = make_postmortem(
        client,
        action_items=[],
        team="payments",
        severity="SEV1",
        tags=["dns"],
        services=["checkout"],
        title="Checkout down: 100% off_sale",
    )
    b = make_postmortem(
        client,
        action_items=[],
        team="search",
        severity="SEV3",
        tags=["retry-library"],
        services=["search"],
        started_at=iso(INCIDENT_START + timedelta(days=10)),
        summary="Queries queued behind a reindex.",
        user_impact="Slow search.",
        detected_at=None,
        mitigated_at=None,
        resolved_at=None,
        title="Search slow",
    )

    def ids(**params: Any) -> list[str]:
        response = client.get("/v1/postmortems", params=params)
        assert response.status_code == 200, response.text
        return [p["id"] for p in response.json()["items"]]

    assert ids(team="payments") == [a["id"]]
    assert ids(service="search") == [b["id"]]
    assert ids(severity="SEV1") == [a["id"]]
    assert ids(tag="DNS") == [a["id"]]
    assert ids(status="draft") == [b["id"], a["id"]]
    assert ids(since=iso(INCIDENT_START + timedelta(days=1))) == [b["id"]]
    assert ids(until=iso(INCIDENT_START + timedelta(days=1))) == [a["id"]]
    assert ids(q="checkout") == [a["id"]]
    assert ids(q="100%") == [a["id"]]
    assert ids(q="off_sale") == [a["id"]]
    assert ids(q="_") == [a["id"]]
    assert ids(team="nobody") == []
    assert client.get("/v1/postmortems", params={"severity": "SEV9"}).status_code == 422
    assert client.get("/v1/postmortems", params={"since": "2026-11-02T09:00:00"}).status_code == 422


def test_pagination_is_stable_and_complete(client: TestClient) -> None:
    made = [make_postmortem(client, action_items=[])["id"] for _ in range(7)]
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 3}
        if cursor:
            params["cursor"] = cursor
        page = client.get("/v1/postmortems", params=params).json()
        seen += [p["id"] for p in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
        # A postmortem created mid-way appears on no later page: the cursor is a position.
        if pages == 1:
            make_postmortem(client, action_items=[])
    assert pages == 3
    assert seen == list(reversed(made))
    assert client.get("/v1/postmortems", params={"cursor": "garbage!"}).status_code == 422
    assert client.get("/v1/postmortems", params={"limit": 0}).status_code == 422
    assert client.get("/v1/postmortems", params={"limit": 500}).status_code == 422


def test_forged_cursors_are_refused_not_crashed_on(client: TestClient) -> None:
    import base64
    import json

    def cursor(payload: object) -> str:
        return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")

    for forged in (
        cursor(["2026-11-02T09:00:00", "00000000-0000-4000-8000-000000000000"]),  # no zone
        cursor([12, "00000000-0000-4000-8000-000000000000"]),  # not a time
        cursor(["2026-11-02T09:00:00+00:00", "not-a-uuid"]),
        cursor({"at": 1}),
    ):
        response = client.get("/v1/postmortems", params={"cursor": forged})
        assert response.status_code == 422, (forged, response.text)
        assert response.json()["errors"][0]["path"] == "query.cursor"
