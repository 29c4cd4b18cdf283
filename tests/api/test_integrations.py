"""Integrations: credentials are write-only and encrypted at rest; routing sends teams somewhere."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import Engine

from tests.factories import make_team

GITHUB_TOKEN = "ghp_plaintext_secret_never_shown"


def github_integration(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "github",
        "name": "acme-github",
        "base_url": "https://github.example.com/api/v3",
        "credentials": {"token": GITHUB_TOKEN},
        "webhook_secret": "hook-secret-never-shown",
        "default_project": "acme/api",
        "labels": ["postmortem"],
    }
    body.update(overrides)
    return body


def test_credentials_are_never_returned(client: TestClient) -> None:
    created = client.post("/v1/integrations", json=github_integration())
    assert created.status_code == 201, created.text
    listed = client.get("/v1/integrations")
    one = client.get(f"/v1/integrations/{created.json()['id']}")
    for response in (created, listed, one):
        assert GITHUB_TOKEN not in response.text
        assert "hook-secret-never-shown" not in response.text
    body = one.json()
    assert body["credential_fields"] == ["token"]
    assert body["has_webhook_secret"] is True
    assert body["webhook_url"] == f"/v1/webhooks/{body['id']}"


def test_credentials_are_encrypted_at_rest(client: TestClient, engine: Engine) -> None:
    client.post("/v1/integrations", json=github_integration())
    with engine.connect() as conn:
        row = conn.execute(
            text("SELECT credentials_sealed, webhook_secret_sealed FROM integration")
        ).one()
    stored = " ".join(str(value) for value in row)
    assert GITHUB_TOKEN not in stored
    assert "hook-secret-never-shown" not in stored


def test_credentials_never_reach_the_logs(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    created = client.post("/v1/integrations", json=github_integration()).json()
    client.patch(
        f"/v1/integrations/{created['id']}", json={"credentials": {"token": GITHUB_TOKEN + "2"}}
    )
    client.post(f"/v1/integrations/{created['id']}/test")
    assert GITHUB_TOKEN not in caplog.text


@pytest.mark.parametrize(
    ("kind", "credentials", "project"),
    [
        ("github", {"token": "t"}, "acme/api"),
        ("jira", {"email": "bot@acme.test", "api_token": "t"}, "OPS"),
        ("jira", {"pat": "t"}, "OPS"),
        ("linear", {"api_key": "lin_api_x"}, "team-uuid"),
        ("linear", {"oauth_token": "t"}, "team-uuid"),
    ],
)
def test_each_tracker_takes_its_credential_shapes(
    client: TestClient, kind: str, credentials: dict[str, str], project: str
) -> None:
    body = {
        "kind": kind,
        "name": f"{kind}-x",
        "credentials": credentials,
        "default_project": project,
    }
    response = client.post("/v1/integrations", json=body)
    assert response.status_code == 201, response.text
    assert response.json()["credential_fields"] == sorted(credentials)


@pytest.mark.parametrize(
    ("overrides", "where"),
    [
        ({"credentials": {"password": "x"}}, "credentials"),
        ({"kind": "jira", "credentials": {"email": "a@b.c"}}, "credentials"),
        ({"default_project": "not a repo"}, "default_project"),
        # A path that climbs out of /repos/ must never become a project.
        ({"default_project": "../.."}, "default_project"),
        ({"routes": [{"team": "x", "project": "acme/.."}]}, "routes[0].project"),
        (
            {"kind": "jira", "credentials": {"pat": "x"}, "default_project": "ops"},
            "default_project",
        ),
        ({"routes": [{"team": "x", "project": "not a repo"}]}, "routes[0].project"),
        ({"kind": "gitlab"}, "body.kind"),
        ({"base_url": "ftp://x"}, "body.base_url"),
        ({"max_concurrency": 0}, "body.max_concurrency"),
    ],
)
def test_bad_integration_input_says_what_and_where(
    client: TestClient, overrides: dict[str, Any], where: str
) -> None:
    response = client.post("/v1/integrations", json=github_integration(**overrides))
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert where in json.dumps(response.json())
    assert client.get("/v1/integrations").json()["items"] == []


def test_wrong_credentials_name_every_accepted_shape_and_no_value(client: TestClient) -> None:
    response = client.post(
        "/v1/integrations",
        json=github_integration(kind="jira", credentials={"api_key": "lin-secret-value"}),
    )
    assert response.status_code == 422
    assert "must be exactly {api_token, email} or {pat}" in response.json()["detail"]
    assert response.json()["errors"][0]["path"] == "body.credentials"
    assert "lin-secret-value" not in response.text


def test_a_credential_value_that_does_not_fit_is_refused_without_echoing_it(
    client: TestClient,
) -> None:
    response = client.post(
        "/v1/integrations",
        json=github_integration(
            kind="jira",
            default_project="OPS",
            credentials={"email": "not-an-address", "api_token": "tok-secret-value"},
        ),
    )
    assert response.status_code == 422
    assert "email not accepted" in response.json()["detail"]
    assert "not-an-address" not in response.text
    assert "tok-secret-value" not in response.text


def test_project_must_look_like_the_trackers(client: TestClient) -> None:
    response = client.post(
        "/v1/integrations",
        json=github_integration(kind="jira", credentials={"pat": "x"}, default_project="ops"),
    )
    assert response.status_code == 422
    assert "expected a project key such as OPS" in response.json()["detail"]


def test_patch_checks_projects_against_the_tracker(client: TestClient) -> None:
    make_team(client, "payments")
    created = client.post("/v1/integrations", json=github_integration()).json()
    url = f"/v1/integrations/{created['id']}"
    response = client.patch(url, json={"default_project": "not a repo"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["path"] == "body.default_project"
    assert "owner/repo" in response.json()["detail"]
    response = client.patch(url, json={"routes": [{"team": "payments", "project": "acme"}]})
    assert response.status_code == 422
    assert response.json()["errors"][0]["path"] == "body.routes[0].project"
    assert client.get(url).json()["default_project"] == "acme/api"
    assert client.patch(url, json={"default_project": "acme/web"}).status_code == 200


def test_duplicate_name_is_a_conflict(client: TestClient) -> None:
    assert client.post("/v1/integrations", json=github_integration()).status_code == 201
    assert client.post("/v1/integrations", json=github_integration()).status_code == 409


def test_routes_send_teams_to_one_integration(client: TestClient) -> None:
    make_team(client, "payments")
    make_team(client, "search")
    first = client.post(
        "/v1/integrations",
        json=github_integration(
            routes=[{"team": "payments"}, {"team": "search", "project": "acme/search"}]
        ),
    ).json()
    assert [(r["team"], r["project"]) for r in first["routes"]] == [
        ("payments", None),
        ("search", "acme/search"),
    ]
    second = client.post(
        "/v1/integrations",
        json={
            "kind": "jira",
            "name": "acme-jira",
            "credentials": {"pat": "x"},
            "default_project": "OPS",
            "routes": [{"team": "search", "issue_type": "Bug"}],
        },
    ).json()
    assert [r["team"] for r in second["routes"]] == ["search"]
    # A team routes to one place: moving it to Jira took it from GitHub.
    assert [r["team"] for r in client.get(f"/v1/integrations/{first['id']}").json()["routes"]] == [
        "payments"
    ]


def test_route_to_unknown_team_is_refused_whole(client: TestClient) -> None:
    response = client.post("/v1/integrations", json=github_integration(routes=[{"team": "nobody"}]))
    assert response.status_code == 422
    assert response.json()["errors"][0]["path"] == "body.routes[0].team"
    assert client.get("/v1/integrations").json()["items"] == []


def test_only_one_default_integration(client: TestClient) -> None:
    a = client.post("/v1/integrations", json=github_integration(name="a", is_default=True)).json()
    b = client.post("/v1/integrations", json=github_integration(name="b", is_default=True)).json()
    assert client.get(f"/v1/integrations/{a['id']}").json()["is_default"] is False
    assert client.get(f"/v1/integrations/{b['id']}").json()["is_default"] is True


def test_patch_replaces_credentials_and_keeps_them_hidden(client: TestClient) -> None:
    created = client.post("/v1/integrations", json=github_integration()).json()
    response = client.patch(
        f"/v1/integrations/{created['id']}", json={"credentials": {"api_key": "x"}}
    )
    assert response.status_code == 422
    assert response.json()["detail"] == "credentials for github must be exactly {token}"
    response = client.patch(
        f"/v1/integrations/{created['id']}",
        json={"credentials": {"token": "new"}, "labels": ["pm"]},
    )
    assert response.status_code == 200
    assert response.json()["labels"] == ["pm"]
    assert "new" not in json.dumps(response.json()["credential_fields"])


def test_a_new_base_url_clears_credentials_and_webhook_secret(
    client: TestClient, engine: Engine
) -> None:
    created = client.post("/v1/integrations", json=github_integration()).json()
    url = f"/v1/integrations/{created['id']}"
    assert created["credentials_configured"] is True and created["notice"] is None
    moved = client.patch(url, json={"base_url": "https://elsewhere.example.net/api/v3"})
    assert moved.status_code == 200, moved.text
    body = moved.json()
    assert (body["credentials_configured"], body["credential_fields"]) == (False, [])
    assert body["has_webhook_secret"] is False
    assert "base_url changed" in body["notice"] and "Send credentials again" in body["notice"]
    with engine.connect() as conn:
        sealed = conn.execute(
            text("SELECT webhook_secret_sealed FROM integration WHERE name = 'acme-github'")
        ).scalar_one()
    assert sealed is None
    # Refused before any call: the host is not contacted with nothing or with old secrets.
    for call in ("test", "webhook"):
        refused = client.post(f"{url}/{call}")
        assert refused.status_code == 409, refused.text
        assert "no stored credentials" in refused.json()["detail"]


def test_base_url_with_its_credentials_keeps_them_and_the_same_url_clears_nothing(
    client: TestClient,
) -> None:
    created = client.post("/v1/integrations", json=github_integration()).json()
    url = f"/v1/integrations/{created['id']}"
    same = client.patch(url, json={"base_url": created["base_url"] + "/"}).json()
    assert (same["credentials_configured"], same["has_webhook_secret"]) == (True, True)
    assert same["notice"] is None
    moved = client.patch(
        url,
        json={
            "base_url": "https://elsewhere.example.net/api/v3",
            "credentials": {"token": "ghp_for_the_new_host"},
            "webhook_secret": "new-host-secret",
        },
    ).json()
    assert (moved["credentials_configured"], moved["has_webhook_secret"]) == (True, True)
    assert moved["notice"] is None
    to_cloud = client.patch(url, json={"base_url": None}).json()
    assert to_cloud["credentials_configured"] is False and to_cloud["has_webhook_secret"] is False


def test_integrations_need_admin_scope(app: Any, make_token: Callable[..., str]) -> None:
    with TestClient(app, headers={"Authorization": f"Bearer {make_token('write', 'w')}"}) as writer:
        assert writer.get("/v1/integrations").status_code == 403
        assert writer.post("/v1/integrations", json=github_integration()).status_code == 403


def test_delete_and_unknown_ids(client: TestClient) -> None:
    created = client.post("/v1/integrations", json=github_integration()).json()
    assert client.delete(f"/v1/integrations/{created['id']}").status_code == 204
    assert client.get(f"/v1/integrations/{created['id']}").status_code == 404
    assert client.post(f"/v1/integrations/{created['id']}/test").status_code == 404
