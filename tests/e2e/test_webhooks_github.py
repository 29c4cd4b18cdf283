"""GitHub deliveries (the vendor's own examples, signed as GitHub signs) drive item states."""

from __future__ import annotations

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
from tests.e2e.webhook_support import SECRET, github_payload, send_github
from tests.fake_trackers.github import TOKEN, FakeGitHub


@pytest.fixture
def setup(
    client: TestClient, engine: Engine, settings: Settings, fake_github: FakeGitHub
) -> dict[str, Any]:
    person = owner(client, github="alice-gh")
    integration = connect_tracker(
        client, "github", fake_github.base_url, {"token": TOKEN}, "acme/api", webhook_secret=SECRET
    )
    [item] = publish_items(client)
    worker = worker_for(engine, settings)
    drain(worker)
    return {
        "integration": integration["id"],
        "item": item["id"],
        "person": person["id"],
        "worker": worker,
    }


def deliver(
    client: TestClient,
    setup: dict[str, Any],
    event: str,
    name: str,
    delivery: str | None = None,
    **issue: Any,
) -> Any:
    response = send_github(
        client, setup["integration"], event, github_payload(name, "acme/api", 1, **issue), delivery
    )
    assert response.status_code == 202, response.text
    drain(setup["worker"])
    return client.get(f"/v1/action-items/{setup['item']}").json()


def later(setup_time: str = "2030-01-01T00:00:00Z") -> dict[str, str]:
    return {"updated_at": setup_time}


def test_closed_as_completed_closes_and_label_verifies(
    client: TestClient, setup: dict[str, Any]
) -> None:
    item = deliver(client, setup, "issues", "issues/closed.payload.json", **later())
    assert item["status"] == "closed"
    item = deliver(
        client,
        setup,
        "issues",
        "issues/labeled.payload.json",
        label=None,
        **later("2030-01-01T00:01:00Z"),
    )
    assert item["status"] == "closed", "the example adds 'bug', not the verification label"
    payload = github_payload(
        "issues/labeled.payload.json", "acme/api", 1, updated_at="2030-01-01T00:02:00Z"
    )
    payload["label"]["name"] = "verified"
    assert send_github(client, setup["integration"], "issues", payload).status_code == 202
    drain(setup["worker"])
    item = client.get(f"/v1/action-items/{setup['item']}").json()
    assert item["status"] == "verified"
    assert "label 'verified'" in item["verification_evidence"]
    events = client.get(f"/v1/action-items/{setup['item']}/history").json()["events"]
    assert events[-1]["source"] == "webhook" and events[-1]["actor"].startswith("delivery:")


def test_closed_as_not_planned_is_wont_do(client: TestClient, setup: dict[str, Any]) -> None:
    item = deliver(
        client, setup, "issues", "issues/closed.payload.json", state_reason="not_planned", **later()
    )
    assert item["status"] == "wont_do"


def test_reopened_and_deleted(client: TestClient, setup: dict[str, Any]) -> None:
    deliver(client, setup, "issues", "issues/closed.payload.json", **later("2030-01-01T00:00:00Z"))
    item = deliver(
        client, setup, "issues", "issues/reopened.payload.json", **later("2030-01-01T00:05:00Z")
    )
    assert item["status"] == "reopened"
    item = deliver(
        client, setup, "issues", "issues/deleted.payload.json", **later("2030-01-01T00:06:00Z")
    )
    assert (item["sync_state"], item["status"]) == ("error", "reopened")
    assert "deleted" in item["sync_error"]


def comment(body: str) -> dict[str, Any]:
    payload = github_payload("issue_comment/created.payload.json", "acme/api", 1)
    payload["comment"]["body"] = body
    return payload


def author(payload: dict[str, Any]) -> str:
    return str(payload["comment"]["user"]["login"])


def test_verified_comment_command(client: TestClient, setup: dict[str, Any]) -> None:
    deliver(client, setup, "issues", "issues/closed.payload.json", **later())
    payload = comment("/verified game day 12 Nov: gate held https://ci.example/77")
    patched = client.patch(
        f"/v1/people/{setup['person']}", json={"tracker_accounts": {"github": author(payload)}}
    )
    assert patched.status_code == 200, patched.text
    assert send_github(client, setup["integration"], "issue_comment", payload).status_code == 202
    drain(setup["worker"])
    item = client.get(f"/v1/action-items/{setup['item']}").json()
    assert item["status"] == "verified"
    assert item["verification_evidence"] == "game day 12 Nov: gate held https://ci.example/77"


@pytest.mark.parametrize("commenter", ["owner", "verify_commenter", "stranger"])
def test_only_the_owner_or_named_commenters_verify_by_comment(
    client: TestClient, setup: dict[str, Any], commenter: str
) -> None:
    deliver(client, setup, "issues", "issues/closed.payload.json", **later())
    payload = comment("/verified canary gate held")
    login = author(payload)
    if commenter == "owner":
        client.patch(f"/v1/people/{setup['person']}", json={"tracker_accounts": {"github": login}})
    elif commenter == "verify_commenter":
        options = {**FAST_OPTIONS, "verify_commenters": ["someone-else", login]}
        patched = client.patch(
            f"/v1/integrations/{setup['integration']}", json={"options": options}
        )
        assert patched.status_code == 200, patched.text
    assert send_github(client, setup["integration"], "issue_comment", payload).status_code == 202
    drain(setup["worker"])
    item = client.get(f"/v1/action-items/{setup['item']}").json()
    events = client.get(f"/v1/action-items/{setup['item']}/history").json()["events"]
    refusals = [e for e in events if e["kind"] == "verification_refused"]
    if commenter == "stranger":
        assert (item["status"], item["verified_at"]) == ("closed", None)
        [refused] = refusals
        assert refused["changes"] == {"actor": login}
        assert login in refused["note"] and "alice's github account" in refused["note"]
        assert "verify_commenters" in refused["note"]
        [latest, *_] = client.get("/v1/webhook-deliveries").json()["items"]
        assert "refused" in latest["detail"]
    else:
        assert (item["status"], item["verification_evidence"]) == ("verified", "canary gate held")
        assert refusals == []


def test_redelivery_changes_nothing_twice(client: TestClient, setup: dict[str, Any]) -> None:
    deliver(client, setup, "issues", "issues/closed.payload.json", delivery="d-1", **later())
    deliver(
        client, setup, "issues", "issues/reopened.payload.json", **later("2030-01-01T00:01:00Z")
    )
    again = send_github(
        client,
        setup["integration"],
        "issues",
        github_payload("issues/closed.payload.json", "acme/api", 1, **later()),
        delivery="d-1",
    )
    assert again.json()["status"] == "duplicate"
    drain(setup["worker"])
    assert client.get(f"/v1/action-items/{setup['item']}").json()["status"] == "reopened"
    deliveries = client.get("/v1/webhook-deliveries").json()["items"]
    assert [
        (d["delivery_id"], d["redeliveries"], d["outcome"])
        for d in deliveries
        if d["delivery_id"] == "d-1"
    ] == [("d-1", 1, "applied")]


def test_out_of_order_deliveries_do_not_regress(client: TestClient, setup: dict[str, Any]) -> None:
    # The reopen (newer) arrives first; the close (older) arrives late and must not win.
    deliver(client, setup, "issues", "issues/closed.payload.json", **later("2030-01-01T00:00:00Z"))
    deliver(
        client, setup, "issues", "issues/reopened.payload.json", **later("2030-01-01T00:10:00Z")
    )
    item = deliver(
        client, setup, "issues", "issues/closed.payload.json", **later("2030-01-01T00:05:00Z")
    )
    assert item["status"] == "reopened"
    [latest, *_] = client.get("/v1/webhook-deliveries").json()["items"]
    assert "older than what is recorded" in latest["detail"]


def test_rejections_change_nothing(client: TestClient, setup: dict[str, Any]) -> None:
    integration = setup["integration"]
    payload = github_payload("issues/closed.payload.json", "acme/api", 1, **later())
    assert send_github(client, integration, "issues", payload, secret="wrong").status_code == 401
    unsigned = client.post(
        f"/v1/webhooks/{integration}", json=payload, headers={"X-GitHub-Event": "issues"}
    )
    assert unsigned.status_code == 401
    assert (
        send_github(client, "00000000-0000-4000-8000-000000000000", "issues", payload).status_code
        == 404
    )
    body = b"{not json"
    from tests.e2e.webhook_support import sign

    malformed = client.post(
        f"/v1/webhooks/{integration}",
        content=body,
        headers={"X-GitHub-Event": "issues", "X-Hub-Signature-256": "sha256=" + sign(SECRET, body)},
    )
    assert malformed.status_code == 400
    big = b'{"x": "' + b"a" * 1_100_000 + b'"}'
    assert (
        client.post(
            f"/v1/webhooks/{integration}", content=big, headers={"X-GitHub-Event": "issues"}
        ).status_code
        == 413
    )
    ping = send_github(
        client, integration, "ping", {"zen": "Keep it logically awesome.", "hook_id": 1}
    )
    assert (ping.status_code, ping.json()["status"]) == (202, "ignored")
    drain(setup["worker"])
    item = client.get(f"/v1/action-items/{setup['item']}").json()
    assert item["status"] == "open"
    outcomes = [d["outcome"] for d in client.get("/v1/webhook-deliveries").json()["items"]]
    assert outcomes == ["ignored"]
