"""Action items: ownership, states, history and the lists a team lead reads."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from tests.factories import action_item_body, make_late, make_person, make_postmortem, make_team


def published(client: TestClient, **overrides: Any) -> dict[str, Any]:
    pm = make_postmortem(client, **overrides)
    assert client.post(f"/v1/postmortems/{pm['id']}/publish").status_code == 200
    return client.get(f"/v1/postmortems/{pm['id']}").json()  # type: ignore[no-any-return]


def test_owner_is_a_person_or_kept_as_a_team_for_the_checks(client: TestClient) -> None:
    make_team(client, "payments")
    make_person(client, "alice")
    pm = make_postmortem(client, action_items=[])
    url = f"/v1/postmortems/{pm['id']}/action-items"
    person = client.post(url, json=action_item_body(owner="alice")).json()
    team = client.post(url, json=action_item_body(owner="payments")).json()
    assert (person["owner"], person["owner_kind"]) == ("alice", "person")
    assert (team["owner"], team["owner_kind"]) == ("payments", "team")
    unknown = client.post(url, json=action_item_body(owner="ghost"))
    assert unknown.status_code == 422
    assert unknown.json()["errors"] == [
        {"path": "body.owner", "message": "no person with handle 'ghost'"}
    ]


def test_edit_is_recorded_with_old_and_new_values(client: TestClient) -> None:
    make_person(client, "alice")
    make_person(client, "bob")
    item = make_postmortem(client)["action_items"][0]
    url = f"/v1/action-items/{item['id']}"
    due = (date.today() + timedelta(days=40)).isoformat()
    response = client.patch(
        url, json={"owner": "bob", "due_date": due}, headers={"If-Match": '"1"'}
    )
    assert response.status_code == 200, response.text
    assert response.headers["etag"] == '"2"'
    events = client.get(f"{url}/history").json()["events"]
    assert events[-1]["kind"] == "edited"
    assert events[-1]["changes"] == {
        "owner": ["alice", "bob"],
        "due_date": [item["due_date"], due],
    }
    assert events[-1]["actor"] == "token:admin-tests" and events[-1]["source"] == "api"
    assert client.patch(url, json={"title": "x"}, headers={"If-Match": '"1"'}).status_code == 412
    assert client.patch(url, json={"title": None}).status_code == 422
    assert client.patch(url, json={"priority": "p0"}).status_code == 422


def test_only_drafts_can_be_deleted(client: TestClient) -> None:
    make_person(client, "alice")
    draft = make_postmortem(client)["action_items"][0]
    assert client.delete(f"/v1/action-items/{draft['id']}").status_code == 204
    assert client.get(f"/v1/action-items/{draft['id']}").status_code == 404
    opened = published(client)["action_items"][0]
    assert opened["status"] == "open"
    assert client.delete(f"/v1/action-items/{opened['id']}").status_code == 409


def test_state_machine_close_verify_reopen(client: TestClient) -> None:
    make_person(client, "alice")
    item = published(client)["action_items"][0]
    url = f"/v1/action-items/{item['id']}"
    assert (
        client.post(f"{url}/verify", json={"evidence": "x"}).status_code == 409
    )  # open: not closed yet
    closed = client.post(f"{url}/close", json={"resolution": "done", "note": "shipped"})
    assert closed.json()["status"] == "closed" and closed.json()["closed_at"]
    verified = client.post(
        f"{url}/verify",
        json={"evidence": "drill passed", "evidence_url": "https://ci.example.com/1"},
    )
    body = verified.json()
    assert (body["status"], body["verified_by"]) == ("verified", "admin-tests")
    assert body["verification_evidence"] == "drill passed\nhttps://ci.example.com/1"
    assert client.post(f"{url}/reopen", json={}).status_code == 422  # a reason is required
    reopened = client.post(
        f"{url}/reopen", json={"reason": "the gate was bypassed in the next incident"}
    ).json()
    assert reopened["status"] == "reopened"
    assert reopened["verified_at"] is None and reopened["verified_by"] is None
    events = client.get(f"{url}/history").json()["events"]
    moves = [(e["from_status"], e["to_status"]) for e in events if e["kind"] == "status_changed"]
    assert moves == [
        ("draft", "open"),
        ("open", "closed"),
        ("closed", "verified"),
        ("verified", "reopened"),
    ]
    assert events[-1]["note"] == "the gate was bypassed in the next incident"
    assert events[-1]["changes"]["verification_cleared"]["verified_by"] == "admin-tests"
    assert events[1]["note"] == "postmortem published"


def test_wont_do_cannot_be_verified_and_aware_items_have_no_states(client: TestClient) -> None:
    make_person(client, "alice")
    pm = published(
        client,
        action_items=[
            action_item_body(),
            action_item_body(title="Old clients retry", committed=False, owner=None),
        ],
    )
    committed, aware = sorted(pm["action_items"], key=lambda i: i["committed"], reverse=True)
    client.post(f"/v1/action-items/{committed['id']}/close", json={"resolution": "wont_do"})
    assert (
        client.post(
            f"/v1/action-items/{committed['id']}/verify", json={"evidence": "x"}
        ).status_code
        == 409
    )
    assert aware["status"] == "draft"
    assert client.post(f"/v1/action-items/{aware['id']}/close", json={}).status_code == 409


def test_a_committed_item_added_after_publishing_opens_at_once(client: TestClient) -> None:
    make_person(client, "alice")
    pm = published(client)
    added = client.post(
        f"/v1/postmortems/{pm['id']}/action-items", json=action_item_body(title="Add a pool floor")
    )
    assert added.json()["status"] == "open"
    aware = client.post(
        f"/v1/postmortems/{pm['id']}/action-items", json=action_item_body(committed=False)
    )
    assert aware.json()["status"] == "draft"
    flipped = client.patch(f"/v1/action-items/{aware.json()['id']}", json={"committed": True})
    assert flipped.json()["status"] == "open"


def test_uncommitting_an_open_item_is_refused_and_changes_nothing(client: TestClient) -> None:
    make_person(client, "alice")
    pm = published(client)
    [item] = pm["action_items"]
    url = f"/v1/action-items/{item['id']}"
    read = client.get(url)
    before, etag = read.json(), read.headers["etag"]
    history = client.get(f"{url}/history").json()["events"]
    assert (before["status"], pm["status"]) == ("open", "published")

    refused = client.patch(url, json={"committed": False}, headers={"If-Match": etag})

    assert refused.status_code == 409, refused.text
    detail = refused.json()["detail"]
    assert "won't do" in detail and f"POST /v1/action-items/{item['id']}/close" in detail
    assert '"resolution": "wont_do"' in detail
    assert client.get(url).json() == before
    assert client.get(url).headers["etag"] == etag
    assert client.get(f"{url}/history").json()["events"] == history
    assert client.get(f"/v1/postmortems/{pm['id']}").json()["status"] == "published"
    closed = client.post(f"{url}/close", json={"resolution": "wont_do"})
    assert closed.json()["status"] == "wont_do"


def test_uncommitting_a_draft_item_works(client: TestClient) -> None:
    make_person(client, "alice")
    pm = make_postmortem(client)
    [item] = pm["action_items"]
    url = f"/v1/action-items/{item['id']}"
    response = client.patch(url, json={"committed": False}, headers={"If-Match": '"1"'})
    assert response.status_code == 200, response.text
    assert (response.json()["committed"], response.json()["status"]) == (False, "draft")
    assert response.headers["etag"] == '"2"'


def test_list_filters_and_overdue(client: TestClient, engine: Engine) -> None:
    make_team(client, "payments")
    make_person(client, "alice")
    make_person(client, "bob")
    pm = published(
        client,
        team="payments",
        action_items=[action_item_body(), action_item_body(owner="bob", title="Add a pool floor")],
    )
    other = make_postmortem(
        client, action_items=[action_item_body(owner="bob", title="Alert on pool size")]
    )
    by_title = {i["title"]: i for i in pm["action_items"]}
    overdue_item = by_title["Gate deploys on the canary's 5xx rate"]
    # Time passes: the item published in time is now a day late (publish refuses a past date).
    make_late(engine, overdue_item["id"], days=1)
    overdue_item = client.get(f"/v1/action-items/{overdue_item['id']}").json()
    assert overdue_item["overdue"] is True

    def titles(**params: Any) -> list[str]:
        response = client.get("/v1/action-items", params=params)
        assert response.status_code == 200, response.text
        return sorted(i["title"] for i in response.json()["items"])

    assert titles(overdue=True) == [overdue_item["title"]]
    assert titles(overdue=False) == ["Add a pool floor", "Alert on pool size"]
    assert titles(owner="bob") == ["Add a pool floor", "Alert on pool size"]
    assert titles(team="payments") == sorted(by_title)
    assert titles(status="draft") == ["Alert on pool size"]
    assert titles(postmortem=other["id"]) == ["Alert on pool size"]
    assert titles(committed=False) == []
    client.post(f"/v1/action-items/{overdue_item['id']}/close", json={"resolution": "done"})
    assert titles(overdue=True) == []
    assert client.get("/v1/action-items", params={"status": "lost"}).status_code == 422


def test_list_pagination(client: TestClient) -> None:
    make_person(client, "alice")
    pm = make_postmortem(
        client, action_items=[action_item_body(title=f"Item {n}") for n in range(5)]
    )
    first = client.get("/v1/action-items", params={"limit": 2}).json()
    second = client.get(
        "/v1/action-items", params={"limit": 2, "cursor": first["next_cursor"]}
    ).json()
    third = client.get(
        "/v1/action-items", params={"limit": 2, "cursor": second["next_cursor"]}
    ).json()
    ids = [i["id"] for page in (first, second, third) for i in page["items"]]
    assert sorted(ids) == sorted(i["id"] for i in pm["action_items"])
    assert third["next_cursor"] is None


def test_required_text_cannot_be_patched_to_null(client: TestClient) -> None:
    make_person(client, "alice")
    item = make_postmortem(client)["action_items"][0]
    for field in ("description", "verification", "definition_of_done", "committed"):
        response = client.patch(f"/v1/action-items/{item['id']}", json={field: None})
        assert response.status_code == 422, (field, response.text)
        assert response.json()["errors"] == [
            {"path": f"body.{field}", "message": "may not be null"}
        ]
