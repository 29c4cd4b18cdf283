"""Teams and people: who can own an action item, and their tracker accounts."""

from fastapi.testclient import TestClient

from tests.factories import make_person, make_postmortem, make_team


def test_team_crud(client: TestClient) -> None:
    team = make_team(client, "payments", "Payments")
    assert client.post("/v1/teams", json={"slug": "payments", "name": "Again"}).status_code == 409
    assert client.post("/v1/teams", json={"slug": "Not A Slug", "name": "x"}).status_code == 422
    renamed = client.patch(f"/v1/teams/{team['id']}", json={"name": "Payments & Billing"})
    assert renamed.json()["name"] == "Payments & Billing"
    assert [t["slug"] for t in client.get("/v1/teams").json()["items"]] == ["payments"]
    assert client.delete(f"/v1/teams/{team['id']}").status_code == 204
    assert client.get(f"/v1/teams/{team['id']}").status_code == 404


def test_deleting_a_team_keeps_its_people(client: TestClient) -> None:
    team = make_team(client, "payments")
    person = make_person(client, "alice", team="payments")
    client.delete(f"/v1/teams/{team['id']}")
    assert client.get(f"/v1/people/{person['id']}").json()["team"] is None


def test_person_crud_and_tracker_accounts(client: TestClient) -> None:
    make_team(client, "payments")
    person = make_person(
        client,
        "alice",
        team="payments",
        email="alice@example.com",
        tracker_accounts={"github": "alice-gh", "jira": "557058:alice"},
    )
    assert person["tracker_accounts"] == {"github": "alice-gh", "jira": "557058:alice"}
    assert (
        client.post("/v1/people", json={"handle": "alice", "display_name": "A"}).status_code == 409
    )
    bad = client.post(
        "/v1/people",
        json={"handle": "bob", "display_name": "B", "tracker_accounts": {"gitlab": "b"}},
    )
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["path"].startswith("body.tracker_accounts")
    no_team = client.post(
        "/v1/people", json={"handle": "bob", "display_name": "B", "team": "ghosts"}
    )
    assert no_team.status_code == 422 and no_team.json()["errors"][0]["path"] == "body.team"
    assert (
        client.post(
            "/v1/people", json={"handle": "bob", "display_name": "B", "email": "nope"}
        ).status_code
        == 422
    )
    updated = client.patch(
        f"/v1/people/{person['id']}", json={"tracker_accounts": {"linear": "u-1"}, "team": None}
    )
    assert updated.json()["tracker_accounts"] == {"linear": "u-1"}
    assert updated.json()["team"] is None


def test_someone_who_owns_items_cannot_be_removed(client: TestClient) -> None:
    alice = make_person(client, "alice")
    bob = make_person(client, "bob")
    make_postmortem(client)
    assert client.delete(f"/v1/people/{alice['id']}").status_code == 409
    assert client.delete(f"/v1/people/{bob['id']}").status_code == 204
    assert client.get(f"/v1/people/{bob['id']}").status_code == 404


def test_list_people_by_team_with_pagination(client: TestClient) -> None:
    make_team(client, "payments")
    handles = [make_person(client, f"p{n}", team="payments")["handle"] for n in range(3)]
    make_person(client, "outsider")
    first = client.get("/v1/people", params={"team": "payments", "limit": 2}).json()
    second = client.get(
        "/v1/people", params={"team": "payments", "limit": 2, "cursor": first["next_cursor"]}
    ).json()
    assert sorted(p["handle"] for p in first["items"] + second["items"]) == handles
    assert second["next_cursor"] is None
    assert client.get("/v1/people", params={"team": "nobody"}).json()["items"] == []


def test_accounts_can_be_per_integration(client: TestClient) -> None:
    client.post(
        "/v1/integrations",
        json={
            "kind": "github",
            "name": "github-enterprise",
            "credentials": {"token": "t"},
            "default_project": "acme/api",
        },
    )
    person = make_person(
        client, "alice", tracker_accounts={"github": "alice", "github-enterprise": "alice-corp"}
    )
    assert person["tracker_accounts"]["github-enterprise"] == "alice-corp"
    bad = client.post(
        "/v1/people",
        json={"handle": "bob", "display_name": "B", "tracker_accounts": {"gitlab-ce": "b"}},
    )
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["path"] == "body.tracker_accounts.gitlab-ce"
