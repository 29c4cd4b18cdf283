"""Linear and GitHub webhooks are created through their APIs; Jira (API token) gets exact
manual steps, and the secret to paste is shown once, in the answer that generated it."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from fastapi.testclient import TestClient

from connectors import registry
from connectors.base import TrackerKind
from tests.e2e.sync_support import connect_tracker
from tests.e2e.webhook_support import send_jira
from tests.fake_trackers.github import TOKEN as GITHUB_TOKEN
from tests.fake_trackers.github import FakeGitHub
from tests.fake_trackers.jira import API_TOKEN, FakeJira
from tests.fake_trackers.linear import API_KEY, TEAM_ID, FakeLinear
from tests.fake_trackers.server import Fault

# An event the service does not use: stored and answered 202 once the signature checks out.
JIRA_IGNORED = {"webhookEvent": "jira:issue_created", "timestamp": 1767225600000}


def connect_jira(client: TestClient, fake_jira: FakeJira, **extra: Any) -> dict[str, Any]:
    return connect_tracker(
        client,
        "jira",
        fake_jira.base_url,
        {"email": "bot@example.com", "api_token": API_TOKEN},
        "OPS",
        **extra,
    )


def test_linear_webhook_is_created_for_issues_and_comments(
    client: TestClient, fake_linear: FakeLinear
) -> None:
    integration = connect_tracker(
        client,
        "linear",
        fake_linear.base_url,
        {"api_key": API_KEY},
        TEAM_ID,
        webhook_secret="chosen-secret",
    )
    setup = client.post(f"/v1/integrations/{integration['id']}/webhook").json()
    assert setup["registered"] is True
    assert setup["events"] == list(registry.profile(TrackerKind.LINEAR).webhook.events)
    [hook] = fake_linear.webhooks
    assert (hook["teamId"], hook["resourceTypes"], hook["secret"]) == (
        TEAM_ID,
        ["Issue", "Comment"],
        "chosen-secret",
    )
    assert hook["url"] == setup["url"]
    assert setup["secret"] is None


def test_a_secret_generated_for_a_registered_hook_is_never_shown(
    client: TestClient, fake_linear: FakeLinear
) -> None:
    integration = connect_tracker(
        client, "linear", fake_linear.base_url, {"api_key": API_KEY}, TEAM_ID
    )
    response = client.post(f"/v1/integrations/{integration['id']}/webhook")
    [hook] = fake_linear.webhooks
    assert response.json()["registered"] is True
    assert response.json()["secret"] is None
    assert hook["secret"] not in response.text


def test_jira_with_an_api_token_gets_manual_steps(client: TestClient, fake_jira: FakeJira) -> None:
    integration = connect_jira(client, fake_jira)
    setup = client.post(f"/v1/integrations/{integration['id']}/webhook").json()
    assert setup["registered"] is False
    assert setup["signature_header"] == "X-Hub-Signature"
    assert setup["events"] == ["jira:issue_updated", "jira:issue_deleted", "comment_created"]
    assert "Jira administration" in setup["instructions"]
    assert setup["secret_configured"] is True


def test_jira_secret_is_shown_once_and_is_the_one_that_verifies(
    client: TestClient, fake_jira: FakeJira, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    integration = connect_jira(client, fake_jira)
    first = client.post(f"/v1/integrations/{integration['id']}/webhook")
    secret = first.json()["secret"]
    assert secret
    assert first.headers["cache-control"] == "no-store"
    assert "shown only this once" in first.json()["instructions"]

    # What the admin pastes into Jira is what the service checks deliveries against.
    assert send_jira(client, integration["id"], JIRA_IGNORED, secret=secret).status_code == 202
    assert send_jira(client, integration["id"], JIRA_IGNORED, secret="guess").status_code == 401

    again = client.post(f"/v1/integrations/{integration['id']}/webhook")
    assert again.status_code == 200
    assert again.json()["secret"] is None
    assert again.json()["secret_configured"] is True
    assert "never shown again" in again.json()["instructions"]
    for response in (
        again,
        client.get(f"/v1/integrations/{integration['id']}"),
        client.get("/v1/integrations"),
    ):
        assert secret not in response.text
    assert secret not in caplog.text


def test_a_new_jira_secret_after_clearing_the_old_one(
    client: TestClient, fake_jira: FakeJira
) -> None:
    integration = connect_jira(client, fake_jira)
    old = client.post(f"/v1/integrations/{integration['id']}/webhook").json()["secret"]
    cleared = client.patch(f"/v1/integrations/{integration['id']}", json={"webhook_secret": None})
    assert cleared.json()["has_webhook_secret"] is False
    new = client.post(f"/v1/integrations/{integration['id']}/webhook").json()["secret"]
    assert new and new != old
    assert send_jira(client, integration["id"], JIRA_IGNORED, secret=old).status_code == 401
    assert send_jira(client, integration["id"], JIRA_IGNORED, secret=new).status_code == 202


def test_jira_secret_the_admin_chose_is_not_echoed(client: TestClient, fake_jira: FakeJira) -> None:
    integration = connect_jira(client, fake_jira, webhook_secret="admin-chose-this")
    response = client.post(f"/v1/integrations/{integration['id']}/webhook")
    assert response.json()["secret"] is None
    assert "admin-chose-this" not in response.text
    assert "already has" in response.json()["instructions"]


def test_an_answer_kept_for_an_idempotency_key_carries_no_secret(
    client: TestClient, fake_jira: FakeJira
) -> None:
    integration = connect_jira(client, fake_jira)
    url = f"/v1/integrations/{integration['id']}/webhook"
    kept = client.post(url, headers={"Idempotency-Key": "setup-1"})
    assert kept.status_code == 200
    assert kept.json()["secret"] is None
    assert kept.json()["secret_configured"] is False
    assert "without Idempotency-Key" in kept.json()["instructions"]
    assert client.get(f"/v1/integrations/{integration['id']}").json()["has_webhook_secret"] is False
    shown = client.post(url).json()["secret"]
    assert shown
    replayed = client.post(url, headers={"Idempotency-Key": "setup-1"})
    assert shown not in replayed.text


def test_github_refusing_the_hook_keeps_no_secret_and_says_how_by_hand(
    client: TestClient, fake_github: FakeGitHub
) -> None:
    integration = connect_tracker(
        client, "github", fake_github.base_url, {"token": GITHUB_TOKEN}, "acme/api"
    )
    fake_github.inject(
        Fault(
            "status",
            method="POST",
            path_part="/hooks",
            status=403,
            body={"message": "Resource not accessible by integration"},
        )
    )
    response = client.post(f"/v1/integrations/{integration['id']}/webhook")
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert "Settings > Webhooks" in detail
    assert f"PATCH /v1/integrations/{integration['id']}" in detail
    assert client.get(f"/v1/integrations/{integration['id']}").json()["has_webhook_secret"] is False
