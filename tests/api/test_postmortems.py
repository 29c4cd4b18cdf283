"""Postmortems through the real app and database: create, read, edit, delete, list, refuse."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
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
from tests.problems import MISSING, PROBLEM, error_paths, problem


def listed(client: TestClient, **params: Any) -> list[dict[str, Any]]:
    response = client.get("/v1/postmortems", params=params)
    assert response.status_code == 200, response.text
    return response.json()["items"]  # type: ignore[no-any-return]


def times(start: datetime) -> dict[str, str]:
    """Incident times in order, starting at `start`."""
    return {
        "started_at": iso(start),
        "detected_at": iso(start + timedelta(minutes=4)),
        "mitigated_at": iso(start + timedelta(minutes=30)),
        "resolved_at": iso(start + timedelta(minutes=40)),
    }


def when(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def create_body(**overrides: Any) -> dict[str, Any]:
    """A postmortem body without action items (so no owner needs to exist)."""
    return postmortem_body(**{"action_items": [], **overrides})


# --- authentication -----------------------------------------------------------------------


def _endpoints(pm_id: str) -> list[tuple[str, str, dict[str, Any] | None]]:
    return [
        ("GET", "/v1/postmortems", None),
        ("POST", "/v1/postmortems", create_body()),
        ("GET", f"/v1/postmortems/{pm_id}", None),
        ("PATCH", f"/v1/postmortems/{pm_id}", {"title": "Renamed"}),
        ("DELETE", f"/v1/postmortems/{pm_id}", None),
        ("GET", f"/v1/postmortems/{pm_id}/checks", None),
        ("POST", f"/v1/postmortems/{pm_id}/publish", None),
        ("GET", f"/v1/postmortems/{pm_id}/markdown", None),
    ]


def test_every_postmortem_endpoint_refuses_a_missing_token(
    client: TestClient, anon_client: TestClient
) -> None:
    pm = make_postmortem(client, action_items=[])
    for method, path, body in _endpoints(pm["id"]):
        response = anon_client.request(method, path, json=body)
        problem(response, 401)
    assert client.get(f"/v1/postmortems/{pm['id']}").json()["version"] == 1
    assert len(listed(client)) == 1


def test_a_wrong_token_is_refused_like_a_missing_one(
    client: TestClient, anon_client: TestClient
) -> None:
    pm = make_postmortem(client, action_items=[])
    for header in ("Bearer ft_not-a-real-token", "Basic dXNlcjpwdw==", "Bearer "):
        response = anon_client.get(f"/v1/postmortems/{pm['id']}", headers={"Authorization": header})
        problem(response, 401)


def test_a_read_token_reads_but_cannot_write(
    client: TestClient, app: Any, make_token: Callable[..., str]
) -> None:
    pm = make_postmortem(client, action_items=[])
    with TestClient(app, headers={"Authorization": f"Bearer {make_token('read')}"}) as reader:
        for method, path, body in _endpoints(pm["id"]):
            response = reader.request(method, path, json=body)
            if method == "GET":
                assert response.status_code == 200, (method, path, response.text)
            else:
                problem(response, 403)
    after = client.get(f"/v1/postmortems/{pm['id']}").json()
    assert (after["title"], after["status"], after["version"]) == (pm["title"], "draft", 1)
    assert len(listed(client)) == 1


def test_a_write_token_can_create_and_edit(
    client: TestClient, app: Any, make_token: Callable[..., str]
) -> None:
    with TestClient(
        app, headers={"Authorization": f"Bearer {make_token('write', 'writer')}"}
    ) as writer:
        created = writer.post("/v1/postmortems", json=create_body())
        assert created.status_code == 201, created.text
        assert created.json()["created_by"] == "token:writer"
        edited = writer.patch(f"/v1/postmortems/{created.json()['id']}", json={"title": "New"})
        assert edited.status_code == 200, edited.text


# --- create and read ----------------------------------------------------------------------


def test_create_stores_the_nested_records_and_get_returns_the_same_detail(
    client: TestClient,
) -> None:
    make_team(client, "payments")
    make_person(client, "alice")
    body = postmortem_body(
        team="payments",
        services=["checkout", "api"],
        tags=["Config-Push", "config-push", "DNS"],
        timeline=[
            {
                "at": iso(INCIDENT_START + timedelta(minutes=9)),
                "author": "Bob",
                "kind": "action",
                "text": "rolled back",
            },
            {
                "at": iso(INCIDENT_START + timedelta(minutes=4)),
                "author": "alertmanager",
                "kind": "alert",
                "text": "5xx > 5%",
            },
        ],
        action_items=[
            action_item_body(),
            action_item_body(title="Old clients retry hard", committed=False, owner=None),
        ],
    )
    created = client.post("/v1/postmortems", json=body)
    assert created.status_code == 201, created.text
    pm = created.json()
    assert created.headers["location"] == f"/v1/postmortems/{pm['id']}"
    assert created.headers["etag"] == '"1"'
    assert (pm["status"], pm["version"], pm["team"]) == ("draft", 1, "payments")
    assert pm["services"] == ["api", "checkout"]
    assert pm["tags"] == ["config-push", "dns"]
    assert [e["text"] for e in pm["timeline"]] == ["5xx > 5%", "rolled back"]
    assert [p["responder"] for p in pm["decision_points"]] == ["Bob Oncall"]
    assert [c["description"] for c in pm["conditions"]] == [
        c["description"] for c in body["conditions"]
    ]
    assert [(i["title"], i["committed"], i["owner"]) for i in pm["action_items"]] == [
        (body["action_items"][0]["title"], True, "alice"),
        ("Old clients retry hard", False, None),
    ]
    assert all(child["postmortem_id"] == pm["id"] for child in pm["timeline"])

    fetched = client.get(f"/v1/postmortems/{pm['id']}")
    assert fetched.status_code == 200
    assert fetched.json() == pm


def test_times_given_with_an_offset_are_stored_as_the_same_instant(client: TestClient) -> None:
    pm = make_postmortem(
        client,
        action_items=[],
        started_at="2026-11-02T10:00:00+01:00",
        detected_at="2026-11-02T04:04:00-05:00",
    )
    stored = client.get(f"/v1/postmortems/{pm['id']}").json()
    assert when(stored["started_at"]) == INCIDENT_START
    assert when(stored["detected_at"]) == INCIDENT_START + timedelta(minutes=4)


def test_get_sends_the_version_as_etag(client: TestClient) -> None:
    pm = make_postmortem(client, action_items=[])
    url = f"/v1/postmortems/{pm['id']}"
    first = client.get(url)
    assert first.headers["etag"] == f'"{first.json()["version"]}"' == '"1"'
    client.patch(url, json={"summary": "changed"})
    second = client.get(url)
    assert second.headers["etag"] == '"2"'
    assert second.json()["version"] == 2


def test_a_bad_nested_owner_refuses_the_whole_create_and_writes_nothing(
    client: TestClient,
) -> None:
    make_person(client, "alice")
    body = postmortem_body(
        action_items=[action_item_body(), action_item_body(owner="nobody-by-that-name")]
    )
    response = client.post("/v1/postmortems", json=body)
    assert error_paths(response) == ["body.action_items[1].owner"]
    assert listed(client) == []
    assert client.get("/v1/action-items").json()["items"] == []
    # The incident is still free: the refused create left no row behind.
    retry = client.post("/v1/postmortems", json={**body, "action_items": [action_item_body()]})
    assert retry.status_code == 201, retry.text


def test_an_unknown_team_refuses_the_create(client: TestClient) -> None:
    response = client.post("/v1/postmortems", json=create_body(team="ghosts"))
    assert error_paths(response) == ["body.team"]
    assert listed(client) == []


def test_a_second_postmortem_for_the_same_incident_is_a_conflict(client: TestClient) -> None:
    first = make_postmortem(client, action_items=[])
    again = client.post(
        "/v1/postmortems", json=create_body(incident_ref=f"  {first['incident_ref']} ")
    )
    body = problem(again, 409)
    assert body["existing_id"] == first["id"]
    assert [e["path"] for e in body["errors"]] == ["body.incident_ref"]
    assert [p["id"] for p in listed(client)] == [first["id"]]


def test_renaming_the_incident_to_one_already_taken_is_a_conflict(client: TestClient) -> None:
    first = make_postmortem(client, action_items=[])
    second = make_postmortem(client, action_items=[])
    url = f"/v1/postmortems/{second['id']}"
    problem(client.patch(url, json={"incident_ref": first["incident_ref"]}), 409)
    assert client.get(url).json()["incident_ref"] == second["incident_ref"]
    # Keeping its own ref is not a conflict.
    kept = client.patch(url, json={"incident_ref": second["incident_ref"]})
    assert kept.status_code == 200, kept.text


@pytest.mark.parametrize(
    ("method", "suffix"),
    [
        ("GET", ""),
        ("PATCH", ""),
        ("DELETE", ""),
        ("GET", "/checks"),
        ("POST", "/publish"),
        ("GET", "/markdown"),
        ("GET", "/related"),
        ("GET", "/action-items"),
    ],
)
def test_an_unknown_postmortem_is_a_404_problem(
    client: TestClient, method: str, suffix: str
) -> None:
    make_postmortem(client, action_items=[])
    response = client.request(
        method, f"/v1/postmortems/{MISSING}{suffix}", json={} if method == "PATCH" else None
    )
    body = problem(response, 404)
    assert MISSING in body["detail"]


def test_an_id_that_is_not_a_uuid_is_a_422_naming_the_path_parameter(client: TestClient) -> None:
    assert error_paths(client.get("/v1/postmortems/not-a-uuid")) == ["path.postmortem_id"]


# --- input validation ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "path"),
    [
        ({"severity": "SEV9"}, "body.severity"),
        ({"severity": 2}, "body.severity"),
        ({"title": 42}, "body.title"),
        ({"title": ""}, "body.title"),
        ({"title": "   "}, "body.title"),
        ({"started_at": "the morning"}, "body.started_at"),
        ({"services": "checkout"}, "body.services"),
        ({"services": ["check out"]}, "body.services[0]"),
        ({"tags": [7]}, "body.tags[0]"),
        ({"tags": ["a,b"]}, "body.tags[0]"),
        ({"incident_url": "ftp://example.com"}, "body.incident_url"),
        ({"links": [{"kind": "runbook", "url": "not a url"}]}, "body.links[0].url"),
        ({"review": {"possible_elsewhere": "maybe"}}, "body.review.possible_elsewhere"),
        ({"chain_walk": {"L2": {"contributed": "sort of"}}}, "body.chain_walk.L2.contributed"),
        ({"timeline": "none"}, "body.timeline"),
        (
            {
                "timeline": [
                    {"at": iso(INCIDENT_START), "author": "x", "kind": "rumour", "text": "t"}
                ]
            },
            "body.timeline[0].kind",
        ),
        ({"recurrence_of": ["INC-1"]}, "body.recurrence_of[0]"),
        (
            {"conditions": [{"category": "root_cause", "description": "dns"}]},
            "body.conditions[0].category",
        ),
        (
            {
                "decision_points": [
                    {"at": iso(INCIDENT_START), "responder": "Bob", "decision_kind": "panic"}
                ]
            },
            "body.decision_points[0].decision_kind",
        ),
        (
            {"action_items": [action_item_body(due_date="next week")]},
            "body.action_items[0].due_date",
        ),
    ],
)
def test_a_wrongly_typed_field_is_a_422_naming_it(
    client: TestClient, overrides: dict[str, Any], path: str
) -> None:
    response = client.post("/v1/postmortems", json=create_body(**overrides))
    assert path in error_paths(response)
    assert listed(client) == []


@pytest.mark.parametrize("field", ["title", "incident_ref", "severity", "started_at"])
def test_a_missing_required_field_is_a_422_naming_it(client: TestClient, field: str) -> None:
    body = create_body()
    del body[field]
    assert error_paths(client.post("/v1/postmortems", json=body)) == [f"body.{field}"]


@pytest.mark.parametrize(
    ("overrides", "path"),
    [
        ({"started_at": "2026-11-02T09:00:00"}, "body.started_at"),
        ({"detected_at": "2026-11-02T09:04:00"}, "body.detected_at"),
        ({"review_held_at": "2026-11-05T09:00:00"}, "body.review_held_at"),
        (
            {
                "timeline": [
                    {"at": "2026-11-02T09:04:00", "author": "a", "kind": "alert", "text": "t"}
                ]
            },
            "body.timeline[0].at",
        ),
        (
            {
                "decision_points": [
                    {"at": "2026-11-02T09:10:00", "responder": "Bob", "decision_kind": "rollback"}
                ]
            },
            "body.decision_points[0].at",
        ),
    ],
)
def test_a_datetime_without_a_zone_is_refused(
    client: TestClient, overrides: dict[str, Any], path: str
) -> None:
    response = client.post("/v1/postmortems", json=create_body(**overrides))
    assert path in error_paths(response)
    assert listed(client) == []


@pytest.mark.parametrize(
    ("overrides", "path"),
    [
        ({"root_cause": "dns"}, "body.root_cause"),
        ({"status": "published"}, "body.status"),
        (
            {
                "timeline": [
                    {
                        "at": iso(INCIDENT_START),
                        "author": "a",
                        "kind": "alert",
                        "text": "t",
                        "recorded_at": iso(INCIDENT_START),
                    }
                ]
            },
            "body.timeline[0].recorded_at",
        ),
        (
            {"conditions": [{"category": "technical", "description": "d", "root": True}]},
            "body.conditions[0].root",
        ),
        ({"action_items": [action_item_body(status="verified")]}, "body.action_items[0].status"),
        ({"chain_walk": {"L6": {"contributed": "yes"}}}, "body.chain_walk.L6"),
        (
            {"links": [{"kind": "runbook", "url": "https://x.example", "owner": "a"}]},
            "body.links[0].owner",
        ),
    ],
)
def test_an_unknown_field_is_refused_rather_than_ignored(
    client: TestClient, overrides: dict[str, Any], path: str
) -> None:
    response = client.post("/v1/postmortems", json=create_body(**overrides))
    assert path in error_paths(response)
    assert listed(client) == []


def test_incident_times_running_backwards_are_refused_on_create(client: TestClient) -> None:
    body = create_body(mitigated_at=iso(INCIDENT_START + timedelta(minutes=2)))
    response = client.post("/v1/postmortems", json=body)
    problem(response, 422)
    assert "mitigated_at" in response.json()["detail"]
    assert listed(client) == []


@pytest.mark.parametrize(
    ("content", "status"),
    [
        # Not JSON at all: malformed (400).
        (b"{not json", 400),
        (b"title=Checkout", 400),
        # JSON, or nothing, that is not a postmortem: invalid input (422).
        (b"", 422),
        (b"[1, 2]", 422),
        (b"null", 422),
        (b'"a postmortem"', 422),
    ],
)
def test_a_body_that_is_not_a_json_object_is_refused_where_it_is_wrong(
    client: TestClient, content: bytes, status: int
) -> None:
    response = client.post(
        "/v1/postmortems", content=content, headers={"content-type": "application/json"}
    )
    paths = error_paths(response, status)
    assert paths and all(p.startswith("body") for p in paths)
    assert listed(client) == []


def test_a_form_encoded_body_is_a_422(client: TestClient) -> None:
    response = client.post("/v1/postmortems", data={"title": "Checkout"})
    problem(response, 422)


def test_a_body_that_is_not_utf8_is_a_client_error_not_a_crash(client: TestClient) -> None:
    response = client.post(
        "/v1/postmortems", content=b"\xff\xfe{\x00", headers={"content-type": "application/json"}
    )
    assert response.status_code in (400, 422), response.text
    assert response.headers["content-type"].startswith(PROBLEM)


def test_a_patch_body_that_is_not_json_is_a_400(client: TestClient) -> None:
    pm = make_postmortem(client, action_items=[])
    response = client.patch(
        f"/v1/postmortems/{pm['id']}",
        content=b"title: new",
        headers={"content-type": "application/json"},
    )
    problem(response, 400)
    assert client.get(f"/v1/postmortems/{pm['id']}").json()["version"] == 1


def test_a_body_over_one_mebibyte_is_refused_with_413(client: TestClient) -> None:
    body = create_body(summary="x" * (1024 * 1024))
    response = client.post("/v1/postmortems", json=body)
    assert "1048576" in problem(response, 413)["detail"]
    assert listed(client) == []


def test_a_chunked_body_over_the_limit_is_refused_too(client: TestClient) -> None:
    raw = json.dumps(create_body(summary="x" * 1_200_000)).encode()

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(raw), 64 * 1024):
            yield raw[start : start + 64 * 1024]

    response = client.post(
        "/v1/postmortems", content=chunks(), headers={"content-type": "application/json"}
    )
    problem(response, 413)
    assert listed(client) == []


def test_a_body_just_under_the_limit_reaches_validation(client: TestClient) -> None:
    body = create_body(summary="x" * 1_000_000)
    # Too long for a summary (a 422 from validation), but not refused for its size.
    assert error_paths(client.post("/v1/postmortems", json=body)) == ["body.summary"]


def test_an_oversized_patch_is_refused_and_changes_nothing(client: TestClient) -> None:
    pm = make_postmortem(client, action_items=[])
    url = f"/v1/postmortems/{pm['id']}"
    problem(client.patch(url, json={"summary": "y" * 1_100_000}), 413)
    assert client.get(url).json()["summary"] == pm["summary"]


# --- edit -----------------------------------------------------------------------------------


def test_patch_changes_only_the_fields_sent_and_bumps_the_version(client: TestClient) -> None:
    pm = make_postmortem(client, action_items=[])
    url = f"/v1/postmortems/{pm['id']}"
    response = client.patch(
        url,
        json={
            "title": "  Checkout pool exhausted  ",
            "severity": "SEV1",
            "user_impact": "All checkouts failed.",
            "incident_url": "https://incidents.example.com/INC-9",
            "review": {"surprises": "The pool had no floor"},
            "chain_walk": {"L4": {"contributed": "yes", "note": "no canary"}},
        },
    )
    assert response.status_code == 200, response.text
    assert response.headers["etag"] == '"2"'
    stored = client.get(url).json()
    assert stored["title"] == "Checkout pool exhausted"
    assert (stored["severity"], stored["user_impact"]) == ("SEV1", "All checkouts failed.")
    assert stored["incident_url"] == "https://incidents.example.com/INC-9"
    assert stored["review"]["surprises"] == "The pool had no floor"
    assert stored["chain_walk"]["L4"] == {"contributed": "yes", "note": "no canary"}
    assert stored["version"] == 2
    # Untouched fields keep their values.
    assert (stored["summary"], stored["services"], stored["incident_ref"]) == (
        pm["summary"],
        pm["services"],
        pm["incident_ref"],
    )
    assert stored["started_at"] == pm["started_at"]
    assert when(stored["updated_at"]) > when(pm["updated_at"])


def test_patch_replaces_services_and_tags_rather_than_merging(client: TestClient) -> None:
    pm = make_postmortem(client, action_items=[], services=["checkout", "cart"], tags=["dns"])
    url = f"/v1/postmortems/{pm['id']}"
    response = client.patch(
        url, json={"services": ["search", "api", "search"], "tags": ["Retry-Library", "cache"]}
    )
    assert response.status_code == 200, response.text
    stored = client.get(url).json()
    assert stored["services"] == ["api", "search"]
    assert stored["tags"] == ["cache", "retry-library"]
    assert [p["id"] for p in listed(client, service="checkout")] == []
    assert [p["id"] for p in listed(client, tag="retry-library")] == [pm["id"]]

    client.patch(url, json={"services": [], "tags": []})
    cleared = client.get(url).json()
    assert (cleared["services"], cleared["tags"]) == ([], [])


def test_patch_sets_changes_and_clears_the_team(client: TestClient) -> None:
    make_team(client, "payments")
    make_team(client, "search")
    pm = make_postmortem(client, action_items=[], team="payments")
    url = f"/v1/postmortems/{pm['id']}"
    assert client.patch(url, json={"team": "search"}).json()["team"] == "search"
    assert [p["id"] for p in listed(client, team="search")] == [pm["id"]]
    assert listed(client, team="payments") == []
    assert error_paths(client.patch(url, json={"team": "nobody"})) == ["body.team"]
    assert client.get(url).json()["team"] == "search"
    assert client.patch(url, json={"team": None}).json()["team"] is None


def test_status_moves_between_draft_and_in_review_but_not_to_published(
    client: TestClient,
) -> None:
    pm = make_postmortem(client, action_items=[])
    url = f"/v1/postmortems/{pm['id']}"
    assert client.patch(url, json={"status": "in_review"}).json()["status"] == "in_review"
    assert client.get(url).json()["status"] == "in_review"
    assert client.patch(url, json={"status": "draft"}).json()["status"] == "draft"
    assert error_paths(client.patch(url, json={"status": "published"})) == ["body.status"]
    assert error_paths(client.patch(url, json={"status": "complete"})) == ["body.status"]
    assert client.get(url).json()["status"] == "draft"


def test_a_published_postmortem_cannot_go_back_to_draft(client: TestClient) -> None:
    make_person(client, "alice")
    pm = make_postmortem(client)
    url = f"/v1/postmortems/{pm['id']}"
    assert client.post(f"{url}/publish").status_code == 200
    problem(client.patch(url, json={"status": "draft"}), 409)
    assert client.get(url).json()["status"] == "published"


@pytest.mark.parametrize(
    ("change", "paths"),
    [
        # Detected before the stored start.
        ({"detected_at": iso(INCIDENT_START - timedelta(minutes=1))}, {"body.detected_at"}),
        # Started after the stored detection: the stored detection is now out of order.
        ({"started_at": iso(INCIDENT_START + timedelta(minutes=5))}, {"body.detected_at"}),
        # Resolved before the stored mitigation.
        ({"resolved_at": iso(INCIDENT_START + timedelta(minutes=20))}, {"body.resolved_at"}),
        ({"review_held_at": iso(INCIDENT_START - timedelta(days=1))}, {"body.review_held_at"}),
    ],
)
def test_patch_checks_incident_times_against_the_stored_ones(
    client: TestClient, change: dict[str, str], paths: set[str]
) -> None:
    pm = make_postmortem(client, action_items=[])
    url = f"/v1/postmortems/{pm['id']}"
    assert set(error_paths(client.patch(url, json=change))) == paths
    stored = client.get(url).json()
    assert stored["version"] == 1
    assert {k: stored[k] for k in change} == {k: pm[k] for k in change}


def test_patch_accepts_times_moved_together_and_a_cleared_optional_time(
    client: TestClient,
) -> None:
    pm = make_postmortem(client, action_items=[])
    url = f"/v1/postmortems/{pm['id']}"
    later = INCIDENT_START + timedelta(hours=2)
    moved = client.patch(url, json=times(later))
    assert moved.status_code == 200, moved.text
    assert when(client.get(url).json()["started_at"]) == later
    # With detection cleared, mitigation is checked against the start instead.
    cleared = client.patch(url, json={"detected_at": None})
    assert cleared.status_code == 200, cleared.text
    assert client.get(url).json()["detected_at"] is None
    assert error_paths(
        client.patch(url, json={"mitigated_at": iso(later - timedelta(minutes=1))})
    ) == ["body.mitigated_at"]


@pytest.mark.parametrize(
    "field",
    ["title", "incident_ref", "severity", "started_at", "services", "tags", "summary", "review"],
)
def test_patch_refuses_null_for_a_field_that_must_have_a_value(
    client: TestClient, field: str
) -> None:
    pm = make_postmortem(client, action_items=[])
    url = f"/v1/postmortems/{pm['id']}"
    assert error_paths(client.patch(url, json={field: None})) == [f"body.{field}"]
    stored = client.get(url).json()
    assert stored["version"] == 1
    assert stored[field] == pm[field]


def test_patch_refuses_unknown_fields_and_wrong_types(client: TestClient) -> None:
    pm = make_postmortem(client, action_items=[])
    url = f"/v1/postmortems/{pm['id']}"
    assert error_paths(client.patch(url, json={"root_cause": "dns"})) == ["body.root_cause"]
    assert error_paths(client.patch(url, json={"severity": "urgent"})) == ["body.severity"]
    assert error_paths(client.patch(url, json={"started_at": "2026-11-02T08:00:00"})) == [
        "body.started_at"
    ]
    assert client.get(url).json()["version"] == 1


def test_patch_with_a_stale_etag_is_refused(client: TestClient) -> None:
    pm = make_postmortem(client, action_items=[])
    url = f"/v1/postmortems/{pm['id']}"
    etag = client.get(url).headers["etag"]
    assert client.patch(url, json={"summary": "first writer"}).status_code == 200
    stale = client.patch(url, json={"summary": "second writer"}, headers={"If-Match": etag})
    assert problem(stale, 412)["current_version"] == 2
    assert client.get(url).json()["summary"] == "first writer"


def test_patch_with_the_current_etag_is_applied(client: TestClient) -> None:
    pm = make_postmortem(client, action_items=[])
    url = f"/v1/postmortems/{pm['id']}"
    etag = client.get(url).headers["etag"]
    response = client.patch(url, json={"summary": "edited"}, headers={"If-Match": etag})
    assert response.status_code == 200, response.text
    next_etag = response.headers["etag"]
    assert next_etag != etag
    # The ETag a write returns is good for the next write, weak form included.
    again = client.patch(url, json={"summary": "again"}, headers={"If-Match": f"W/{next_etag}"})
    assert again.status_code == 200, again.text
    assert client.patch(url, json={"summary": "any"}, headers={"If-Match": "*"}).status_code == 200


@pytest.mark.parametrize("header", ["banana", '"v2"', '""'])
def test_patch_with_a_garbage_if_match_is_a_422(client: TestClient, header: str) -> None:
    pm = make_postmortem(client, action_items=[])
    url = f"/v1/postmortems/{pm['id']}"
    response = client.patch(url, json={"summary": "x"}, headers={"If-Match": header})
    assert error_paths(response) == ["header.If-Match"]
    assert client.get(url).json()["version"] == 1


# --- delete ---------------------------------------------------------------------------------


def test_deleting_a_draft_removes_it_and_everything_in_it(client: TestClient) -> None:
    make_person(client, "alice")
    pm = make_postmortem(client)
    url = f"/v1/postmortems/{pm['id']}"
    response = client.delete(url)
    assert response.status_code == 204
    assert response.content == b""
    problem(client.get(url), 404)
    problem(client.get(f"/v1/action-items/{pm['action_items'][0]['id']}"), 404)
    problem(client.delete(url), 404)
    assert listed(client) == []


def test_a_postmortem_in_review_can_be_deleted(client: TestClient) -> None:
    pm = make_postmortem(client, action_items=[])
    url = f"/v1/postmortems/{pm['id']}"
    client.patch(url, json={"status": "in_review"})
    assert client.delete(url).status_code == 204
    problem(client.get(url), 404)


def test_a_published_postmortem_cannot_be_deleted(client: TestClient) -> None:
    make_person(client, "alice")
    pm = make_postmortem(client)
    url = f"/v1/postmortems/{pm['id']}"
    assert client.post(f"{url}/publish").status_code == 200
    problem(client.delete(url), 409)
    assert client.get(url).json()["status"] == "published"


# --- list -----------------------------------------------------------------------------------


@pytest.fixture
def three_postmortems(client: TestClient) -> dict[str, str]:
    """Three incidents a day apart, created in the order a, b, c."""
    make_team(client, "payments")
    make_team(client, "search")
    a = make_postmortem(
        client,
        action_items=[],
        incident_ref="INC-A-1",
        team="payments",
        severity="SEV1",
        services=["checkout", "api"],
        tags=["dns"],
        title="Discounts at 50% failed",
        summary="The pool_size setting hit zero.",
        **times(INCIDENT_START),
    )
    b = make_postmortem(
        client,
        action_items=[],
        incident_ref="INC-B-2",
        team="search",
        severity="SEV2",
        services=["search", "api"],
        tags=["DNS-cache"],
        title="Discounts at 500 shops failed",
        summary="The pool size setting hit zero.",
        user_impact="Some shops could not apply discounts.",
        **times(INCIDENT_START + timedelta(days=1)),
    )
    c = make_postmortem(
        client,
        action_items=[],
        incident_ref="INC-C-3",
        severity="SEV3",
        services=["batch"],
        tags=["retry-library"],
        title="Nightly export stalled",
        summary="A job wrote to C:\\new and waited.",
        user_impact="Reports were a day late.",
        **times(INCIDENT_START + timedelta(days=2)),
    )
    client.patch(f"/v1/postmortems/{b['id']}", json={"status": "in_review"})
    return {"a": a["id"], "b": b["id"], "c": c["id"]}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, "cba"),
        ({"team": "payments"}, "a"),
        ({"team": "search"}, "b"),
        ({"team": "nobody"}, ""),
        ({"service": "api"}, "ba"),
        ({"service": "batch"}, "c"),
        ({"service": "API"}, ""),
        ({"severity": "SEV1"}, "a"),
        ({"severity": "SEV3"}, "c"),
        ({"status": "draft"}, "ca"),
        ({"status": "in_review"}, "b"),
        ({"status": "published"}, ""),
        ({"tag": "dns"}, "a"),
        ({"tag": "DNS"}, "a"),
        ({"tag": "dns-cache"}, "b"),
        ({"since": iso(INCIDENT_START + timedelta(days=1))}, "cb"),
        ({"until": iso(INCIDENT_START + timedelta(days=1))}, "a"),
        ({"since": "2026-11-03T10:00:00+01:00"}, "cb"),
        (
            {"since": iso(INCIDENT_START), "until": iso(INCIDENT_START + timedelta(days=2))},
            "ba",
        ),
        ({"since": iso(INCIDENT_START + timedelta(days=3))}, ""),
        ({"q": "discounts"}, "ba"),
        ({"q": "DISCOUNTS AT"}, "ba"),
        ({"q": "50%"}, "a"),
        ({"q": "%"}, "a"),
        ({"q": "pool_size"}, "a"),
        ({"q": "_"}, "a"),
        ({"q": "C:\\new"}, "c"),
        ({"q": "\\"}, "c"),
        ({"q": "day late"}, "c"),
        ({"q": "inc-b"}, "b"),
        ({"q": "no such words"}, ""),
        ({"service": "api", "severity": "SEV2"}, "b"),
        ({"team": "payments", "status": "in_review"}, ""),
    ],
)
def test_the_list_holds_only_the_postmortems_matching_every_filter(
    client: TestClient,
    three_postmortems: dict[str, str],
    params: dict[str, str],
    expected: str,
) -> None:
    ids = [p["id"] for p in listed(client, **params)]
    assert ids == [three_postmortems[name] for name in expected]


@pytest.mark.parametrize(
    "params",
    [
        {"severity": "SEV9"},
        {"status": "archived"},
        {"since": "2026-11-02T09:00:00"},
        {"until": "last tuesday"},
        {"limit": 0},
        {"limit": 201},
        {"limit": "ten"},
        {"q": "x" * 201},
    ],
)
def test_bad_list_parameters_are_a_422_naming_them(
    client: TestClient, params: dict[str, Any]
) -> None:
    response = client.get("/v1/postmortems", params=params)
    assert error_paths(response) == [f"query.{next(iter(params))}"]


def _walk(client: TestClient, limit: int, **params: Any) -> list[list[str]]:
    pages: list[list[str]] = []
    cursor: str | None = None
    while True:
        query = {**params, "limit": limit, **({"cursor": cursor} if cursor else {})}
        response = client.get("/v1/postmortems", params=query)
        assert response.status_code == 200, response.text
        page = response.json()
        pages.append([p["id"] for p in page["items"]])
        cursor = page["next_cursor"]
        if cursor is None:
            return pages
        assert len(pages) < 20, "pagination does not end"


def test_pages_cover_every_postmortem_once_newest_first(client: TestClient) -> None:
    made = [make_postmortem(client, action_items=[])["id"] for _ in range(7)]
    pages = _walk(client, limit=3)
    assert [len(p) for p in pages] == [3, 3, 1]
    seen = [pm_id for page in pages for pm_id in page]
    assert len(seen) == len(set(seen)) == 7
    assert seen == list(reversed(made))
    assert [p["id"] for p in listed(client)] == seen


def test_an_exact_page_ends_without_a_cursor(client: TestClient) -> None:
    for _ in range(3):
        make_postmortem(client, action_items=[])
    assert [len(p) for p in _walk(client, limit=3)] == [3]


def test_a_cursor_is_a_position_not_an_offset(client: TestClient) -> None:
    made = [make_postmortem(client, action_items=[])["id"] for _ in range(7)]
    first = client.get("/v1/postmortems", params={"limit": 3}).json()
    assert [p["id"] for p in first["items"]] == made[:-4:-1]
    # Changes before the cursor's position neither repeat nor skip rows on the next page.
    assert client.delete(f"/v1/postmortems/{made[-1]}").status_code == 204
    make_postmortem(client, action_items=[])
    second = client.get("/v1/postmortems", params={"limit": 3, "cursor": first["next_cursor"]})
    assert [p["id"] for p in second.json()["items"]] == made[-4:-7:-1]


def test_a_cursor_keeps_the_filter_it_was_given_with(client: TestClient) -> None:
    sev1 = []
    for n in range(7):
        pm = make_postmortem(client, action_items=[], severity="SEV1" if n % 2 == 0 else "SEV2")
        if n % 2 == 0:
            sev1.append(pm["id"])
    pages = _walk(client, limit=2, severity="SEV1")
    assert [len(p) for p in pages] == [2, 2]
    assert [pm_id for page in pages for pm_id in page] == list(reversed(sev1))


def _encoded(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage!",
        "%%%",
        "YQ",
        _encoded(None),
        _encoded(5),
        _encoded("ab"),
        _encoded({"at": 1, "id": 2}),
        _encoded(["yesterday", MISSING]),
        _encoded([12, MISSING]),
        _encoded(["2026-11-02T09:00:00+00:00", "not-a-uuid"]),
        _encoded(["2026-11-02T09:00:00+00:00", 5]),
        # Well-formed but not issued by the service: no zone, or a time before year 1 in UTC.
        _encoded(["2026-11-02T09:00:00", MISSING]),
        _encoded(["0001-01-01T00:00:00+05:00", MISSING]),
    ],
)
def test_a_malformed_cursor_is_a_422(client: TestClient, cursor: str) -> None:
    make_postmortem(client, action_items=[])
    response = client.get("/v1/postmortems", params={"cursor": cursor, "limit": 1})
    assert error_paths(response) == ["query.cursor"]
