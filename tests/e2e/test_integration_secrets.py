"""Secrets stay with the host they were given for, and an unsigned delivery proves nothing."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from app.settings import Settings
from tests.e2e.sync_support import (
    FAST_OPTIONS,
    connect_tracker,
    drain,
    owner,
    publish_items,
    worker_for,
)
from tests.e2e.webhook_support import send_jira
from tests.fake_trackers.contracts import load_json
from tests.fake_trackers.github import TOKEN as GITHUB_TOKEN
from tests.fake_trackers.github import FakeGitHub
from tests.fake_trackers.jira import API_TOKEN, FakeJira

OLD_TOKEN = "ghp_token_given_for_the_old_host"
OLD_HOOK_SECRET = "hook-secret-given-for-the-old-host"


def read(client: TestClient, item_id: str) -> dict[str, Any]:
    return client.get(f"/v1/action-items/{item_id}").json()  # type: ignore[no-any-return]


@pytest.fixture
def unsigned_jira(
    client: TestClient, engine: Engine, settings: Settings, fake_jira: FakeJira
) -> dict[str, Any]:
    """A Jira integration without a webhook secret (the default), with one ticketed item."""
    owner(client, jira="557058:alice")
    integration = connect_tracker(
        client,
        "jira",
        fake_jira.base_url,
        {"email": "bot@example.com", "api_token": API_TOKEN},
        "OPS",
    )
    assert integration["has_webhook_secret"] is False
    [item] = publish_items(client)
    worker = worker_for(engine, settings)
    drain(worker)
    key = read(client, item["id"])["ticket_key"]
    payload = load_json("jira/webhooks/jira_issue_updated.status_to_done.json")
    payload["issue"]["key"] = key
    payload["timestamp"] = int(time.time() * 1000)
    return {"integration": integration["id"], "item": item["id"], "worker": worker, "done": payload}


def test_an_unsigned_jira_delivery_without_a_secret_is_refused(
    client: TestClient, unsigned_jira: dict[str, Any]
) -> None:
    response = send_jira(client, unsigned_jira["integration"], unsigned_jira["done"], secret=None)
    assert response.status_code == 401, response.text
    detail = response.json()["detail"]
    assert "has no webhook secret" in detail
    assert f"/v1/integrations/{unsigned_jira['integration']}/webhook" in detail
    assert "webhook_secret" in detail and "allow_unsigned: true" in detail
    drain(unsigned_jira["worker"])
    assert read(client, unsigned_jira["item"])["status"] == "open"


def test_an_unsigned_jira_delivery_is_accepted_only_when_allowed(
    client: TestClient, unsigned_jira: dict[str, Any]
) -> None:
    assert (
        client.get(f"/v1/integrations/{unsigned_jira['integration']}").json()["options"][
            "allow_unsigned"
        ]
        is False
    )
    allowed = client.patch(
        f"/v1/integrations/{unsigned_jira['integration']}",
        json={"options": {**FAST_OPTIONS, "allow_unsigned": True}},
    )
    assert allowed.json()["options"]["allow_unsigned"] is True
    response = send_jira(client, unsigned_jira["integration"], unsigned_jira["done"], secret=None)
    assert response.status_code == 202, response.text
    drain(unsigned_jira["worker"])
    assert read(client, unsigned_jira["item"])["status"] == "closed"


@pytest.fixture
def other_github() -> Iterator[FakeGitHub]:
    """A second GitHub: the host an admin points the integration at."""
    fake = FakeGitHub().start()
    try:
        yield fake
    finally:
        fake.stop()


def connect_github(client: TestClient, fake_github: FakeGitHub) -> dict[str, Any]:
    return connect_tracker(
        client,
        "github",
        fake_github.base_url,
        {"token": OLD_TOKEN},
        "acme/api",
        webhook_secret=OLD_HOOK_SECRET,
    )


def carried(fake: FakeGitHub, value: str) -> bool:
    return any(
        value in " ".join(r.headers.values()) or value.encode() in r.body for r in fake.requests
    )


def test_a_new_base_url_clears_the_credentials_and_the_old_host_secrets_never_leave(
    client: TestClient,
    engine: Engine,
    settings: Settings,
    fake_github: FakeGitHub,
    other_github: FakeGitHub,
) -> None:
    integration = connect_github(client, fake_github)
    moved = client.patch(
        f"/v1/integrations/{integration['id']}", json={"base_url": other_github.base_url}
    )
    assert moved.status_code == 200, moved.text
    body = moved.json()
    assert body["base_url"] == other_github.base_url
    assert (body["credentials_configured"], body["credential_fields"]) == (False, [])
    assert body["has_webhook_secret"] is False
    assert "credentials" in body["notice"] and "webhook secret" in body["notice"]
    assert "Send credentials again" in body["notice"]
    assert client.get(f"/v1/integrations/{integration['id']}").json()["notice"] is None

    for call in ("test", "webhook"):
        refused = client.post(f"/v1/integrations/{integration['id']}/{call}")
        assert refused.status_code == 409, refused.text
        assert "no stored credentials" in refused.json()["detail"]
    owner(client, github="alice-gh")
    [item] = publish_items(client)
    drain(worker_for(engine, settings))
    assert read(client, item["id"])["ticket_key"] is None
    # Nothing at all reached the new host: no old token, no old webhook secret.
    assert other_github.requests == []


def test_credentials_sent_with_the_new_base_url_are_the_ones_used(
    client: TestClient, fake_github: FakeGitHub, other_github: FakeGitHub
) -> None:
    integration = connect_github(client, fake_github)
    moved = client.patch(
        f"/v1/integrations/{integration['id']}",
        json={"base_url": other_github.base_url, "credentials": {"token": GITHUB_TOKEN}},
    ).json()
    assert moved["credentials_configured"] is True
    assert moved["has_webhook_secret"] is False
    assert "webhook secret" in moved["notice"] and "credentials" not in moved["notice"]
    tested = client.post(f"/v1/integrations/{integration['id']}/test").json()
    assert tested["ok"] is True, tested
    setup = client.post(f"/v1/integrations/{integration['id']}/webhook").json()
    assert setup["registered"] is True
    [hook] = other_github.hooks
    assert hook["config"]["secret"] != OLD_HOOK_SECRET
    assert other_github.requests and not carried(other_github, OLD_TOKEN)
    assert not carried(other_github, OLD_HOOK_SECRET)


def test_the_same_base_url_keeps_the_credentials(
    client: TestClient, fake_github: FakeGitHub
) -> None:
    integration = connect_github(client, fake_github)
    same = client.patch(
        f"/v1/integrations/{integration['id']}", json={"base_url": fake_github.base_url + "/"}
    ).json()
    assert same["credentials_configured"] is True and same["has_webhook_secret"] is True
    assert same["notice"] is None
