"""One postmortem, three committed items, three trackers: each item becomes exactly one ticket
with the right assignee, due date, labels and link back, through the real client libraries."""

from __future__ import annotations

from datetime import date, timedelta

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from app.settings import Settings
from tests.e2e.sync_support import FAST_OPTIONS, drain, worker_for
from tests.factories import action_item_body, make_person, make_postmortem, make_team
from tests.fake_trackers.github import TOKEN, FakeGitHub
from tests.fake_trackers.jira import API_TOKEN, FakeJira
from tests.fake_trackers.linear import API_KEY, TEAM_ID, FakeLinear

# Due dates ahead of today: publish refuses a date already past.
DUE = [(date.today() + timedelta(days=n)).isoformat() for n in (10, 11, 12)]


def integrate(client: TestClient, body: dict[str, object]) -> None:
    response = client.post(
        "/v1/integrations", json={"labels": ["postmortem"], "options": FAST_OPTIONS, **body}
    )
    assert response.status_code == 201, response.text


def test_publish_makes_one_ticket_in_each_tracker(
    client: TestClient,
    engine: Engine,
    settings: Settings,
    fake_github: FakeGitHub,
    fake_jira: FakeJira,
    fake_linear: FakeLinear,
) -> None:
    make_team(client, "payments")
    make_person(
        client,
        "alice",
        tracker_accounts={"github": "alice-gh", "jira": "557058:alice", "linear": "user-alice"},
    )
    integrate(
        client,
        {
            "kind": "github",
            "name": "gh",
            "base_url": fake_github.base_url,
            "credentials": {"token": TOKEN},
            "default_project": "acme/api",
            "routes": [{"team": "payments"}],
        },
    )
    integrate(
        client,
        {
            "kind": "jira",
            "name": "jira",
            "base_url": fake_jira.base_url,
            "credentials": {"email": "bot@example.com", "api_token": API_TOKEN},
            "default_project": "OPS",
        },
    )
    integrate(
        client,
        {
            "kind": "linear",
            "name": "linear",
            "base_url": fake_linear.base_url,
            "credentials": {"api_key": API_KEY},
            "default_project": TEAM_ID,
        },
    )
    pm = make_postmortem(
        client,
        team="payments",
        action_items=[
            action_item_body(title="Gate config pushes on the canary", due_date=DUE[0]),
            action_item_body(title="Add a floor to the pool size", tracker="jira", due_date=DUE[1]),
            action_item_body(title="Alert on pool exhaustion", tracker="linear", due_date=DUE[2]),
        ],
    )
    assert client.post(f"/v1/postmortems/{pm['id']}/publish").status_code == 200
    assert drain(worker_for(engine, settings)) == 3

    link_back = f"/v1/postmortems/{pm['id']}"
    [gh] = fake_github.issues.values()
    assert gh["title"] == "Gate config pushes on the canary"
    assert [a["login"] for a in gh["assignees"]] == ["alice-gh"]
    assert f"**Due:** {DUE[0]}" in gh["body"] and link_back in gh["body"]
    assert [label["name"] for label in gh["labels"]] == ["postmortem"]

    [jira] = fake_jira.issues.values()
    assert jira["fields"]["summary"] == "Add a floor to the pool size"
    assert jira["fields"]["assignee"]["accountId"] == "557058:alice"
    assert jira["fields"]["duedate"] == DUE[1]
    assert "postmortem" in jira["fields"]["labels"] and link_back in str(
        jira["fields"]["description"]
    )

    [linear] = fake_linear.issues.values()
    assert linear["title"] == "Alert on pool exhaustion"
    assert linear["assignee"] == {"id": "user-alice"}
    assert linear["dueDate"] == DUE[2]
    assert [label["name"] for label in linear["labels"]["nodes"]] == ["postmortem"]
    assert link_back in linear["description"]

    items = client.get("/v1/action-items", params={"postmortem": pm["id"]}).json()["items"]
    keys = {i["title"]: i["ticket_key"] for i in items}
    assert keys == {
        "Gate config pushes on the canary": "acme/api#1",
        "Add a floor to the pool size": jira["key"],
        "Alert on pool exhaustion": linear["identifier"],
    }
    assert {i["sync_state"] for i in items} == {"synced"}
