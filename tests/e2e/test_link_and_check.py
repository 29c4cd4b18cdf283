"""Adopting an existing ticket, and checking an integration's credentials against the tracker."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from app.settings import Settings
from tests.e2e.sync_support import (
    connect_tracker,
    drain,
    job_rows,
    owner,
    publish_items,
    worker_for,
)
from tests.factories import make_person
from tests.fake_trackers.github import BOT, TOKEN, FakeGitHub


def github(client: TestClient, fake: FakeGitHub, token: str = TOKEN) -> dict[str, Any]:
    owner(client, github="alice-gh")
    return connect_tracker(client, "github", fake.base_url, {"token": token}, "acme/api")


def test_integration_test_reports_identity_or_the_reason(
    client: TestClient, fake_github: FakeGitHub
) -> None:
    integration = github(client, fake_github)
    assert client.post(f"/v1/integrations/{integration['id']}/test").json() == {
        "ok": True,
        "identity": BOT,
        "error": None,
        "retryable": None,
    }
    client.patch(
        f"/v1/integrations/{integration['id']}", json={"credentials": {"token": "revoked"}}
    )
    result = client.post(f"/v1/integrations/{integration['id']}/test").json()
    assert result["ok"] is False and result["retryable"] is False and "401" in result["error"]


def test_linking_an_existing_ticket_adopts_it_instead_of_creating(
    client: TestClient, engine: Engine, settings: Settings, fake_github: FakeGitHub
) -> None:
    github(client, fake_github)
    existing = fake_github.add_issue("acme/api", "Already filed by hand", "", creator="alice-gh")
    [item] = publish_items(client)
    linked = client.post(
        f"/v1/action-items/{item['id']}/link", json={"ticket": existing["html_url"]}
    )
    assert linked.status_code == 200, linked.text
    assert (linked.json()["ticket_key"], linked.json()["sync_state"]) == ("acme/api#1", "synced")
    drain(worker_for(engine, settings))
    assert len(fake_github.issues) == 1, "no second ticket was created"
    assert [row[1] for row in job_rows(engine)] == ["done"]
    again = client.post(f"/v1/action-items/{item['id']}/link", json={"ticket": "acme/api#1"})
    assert again.status_code == 409
    missing = client.post(
        f"/v1/action-items/{item['id']}/link",
        json={"ticket": f"acme/api#{uuid.uuid4().int % 1000 + 50}"},
    )
    assert missing.status_code in (409, 422)


def test_webhook_is_registered_in_github_with_a_stored_secret(
    client: TestClient, fake_github: FakeGitHub
) -> None:
    integration = github(client, fake_github)
    assert integration["has_webhook_secret"] is False
    setup = client.post(f"/v1/integrations/{integration['id']}/webhook").json()
    assert setup["registered"] is True and setup["tracker_webhook_id"] == "700"
    assert setup["url"].endswith(f"/v1/webhooks/{integration['id']}")
    [hook] = fake_github.hooks
    assert hook["events"] == ["issues", "issue_comment"]
    assert hook["config"]["url"] == setup["url"] and hook["config"]["content_type"] == "json"
    assert hook["config"]["secret"], "the generated secret went to GitHub"
    assert client.get(f"/v1/integrations/{integration['id']}").json()["has_webhook_secret"] is True
    assert hook["config"]["secret"] not in client.get(f"/v1/integrations/{integration['id']}").text


def test_webhook_registration_refused_by_the_tracker_says_what_to_do(
    client: TestClient, fake_github: FakeGitHub
) -> None:
    integration = github(client, fake_github)
    client.patch(
        f"/v1/integrations/{integration['id']}", json={"default_project": "acme/elsewhere"}
    )
    refused = client.post(f"/v1/integrations/{integration['id']}/webhook")
    assert refused.status_code == 422
    assert "Settings > Webhooks" in refused.json()["detail"]


def test_an_account_for_the_integration_wins_over_the_tracker_kind(
    client: TestClient, engine: Engine, settings: Settings, fake_github: FakeGitHub
) -> None:
    integration = connect_tracker(
        client, "github", fake_github.base_url, {"token": TOKEN}, "acme/api"
    )
    make_person(
        client,
        "alice",
        tracker_accounts={"github": "alice-public", integration["name"]: "alice-corp"},
    )
    publish_items(client)
    drain(worker_for(engine, settings))
    [issue] = fake_github.issues.values()
    assert [a["login"] for a in issue["assignees"]] == ["alice-corp"]
