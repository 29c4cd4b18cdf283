"""Jira and Linear deliveries (vendor examples, signed as each vendor signs) drive item states."""

from __future__ import annotations

import copy
import time
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
from tests.e2e.webhook_support import SECRET, send_jira, send_linear
from tests.fake_trackers.contracts import load_json
from tests.fake_trackers.jira import API_TOKEN, FakeJira
from tests.fake_trackers.linear import API_KEY, TEAM_ID, FakeLinear


def read(client: TestClient, item_id: str) -> dict[str, Any]:
    return client.get(f"/v1/action-items/{item_id}").json()  # type: ignore[no-any-return]


@pytest.fixture
def jira(
    client: TestClient, engine: Engine, settings: Settings, fake_jira: FakeJira
) -> dict[str, Any]:
    person = owner(client, jira="557058:alice")
    integration = connect_tracker(
        client,
        "jira",
        fake_jira.base_url,
        {"email": "bot@example.com", "api_token": API_TOKEN},
        "OPS",
        webhook_secret=SECRET,
    )
    client.patch(
        f"/v1/integrations/{integration['id']}",
        json={
            "options": {
                "seconds_between_writes": 0,
                "seconds_between_requests": 0,
                "verification_status": "Verified",
            }
        },
    )
    [item] = publish_items(client)
    worker = worker_for(engine, settings)
    drain(worker)
    return {
        "integration": integration["id"],
        "item": item["id"],
        "key": read(client, item["id"])["ticket_key"],
        "person": person["id"],
        "worker": worker,
    }


def set_account(client: TestClient, person_id: str, kind: str, account: str) -> None:
    patched = client.patch(f"/v1/people/{person_id}", json={"tracker_accounts": {kind: account}})
    assert patched.status_code == 200, patched.text


def name_verify_commenter(
    client: TestClient, integration_id: str, account: str, **options: Any
) -> None:
    body = {"options": {**FAST_OPTIONS, **options, "verify_commenters": ["someone-else", account]}}
    patched = client.patch(f"/v1/integrations/{integration_id}", json=body)
    assert patched.status_code == 200, patched.text


def assert_comment_outcome(
    client: TestClient, item_id: str, commenter: str, account: str, evidence: str
) -> None:
    item = read(client, item_id)
    events = client.get(f"/v1/action-items/{item_id}/history").json()["events"]
    refusals = [e for e in events if e["kind"] == "verification_refused"]
    if commenter == "stranger":
        assert (item["status"], item["verified_at"]) == ("closed", None)
        [refused] = refusals
        assert refused["changes"] == {"actor": account}
        assert account in refused["note"] and "verify_commenters" in refused["note"]
    else:
        assert (item["status"], item["verification_evidence"]) == ("verified", evidence)
        assert refusals == []


def jira_payload(name: str, key: str, timestamp: int, **fields: Any) -> dict[str, Any]:
    payload = copy.deepcopy(load_json(f"jira/webhooks/{name}"))
    payload["issue"]["key"] = key
    payload["timestamp"] = timestamp
    payload["issue"].setdefault("fields", {}).update(fields)
    return payload


def test_jira_done_wont_do_reopen_verify_by_status_and_comment_deleted(
    client: TestClient, jira: dict[str, Any]
) -> None:
    item_id, key, worker = jira["item"], jira["key"], jira["worker"]
    t = int(time.time() * 1000)

    def deliver(payload: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        response = send_jira(client, jira["integration"], payload, **kwargs)
        assert response.status_code == 202, response.text
        drain(worker)
        return read(client, item_id)

    assert (
        deliver(jira_payload("jira_issue_updated.status_to_done.json", key, t))["status"]
        == "closed"
    )
    assert (
        deliver(jira_payload("jira_issue_updated.reopened.json", key, t + 1))["status"]
        == "reopened"
    )
    wont_do = jira_payload(
        "jira_issue_updated.status_to_done.json",
        key,
        t + 2,
        resolution={"name": "Won't Do", "id": "10001"},
    )
    assert deliver(wont_do)["status"] == "wont_do"
    assert (
        deliver(jira_payload("jira_issue_updated.reopened.json", key, t + 3))["status"]
        == "reopened"
    )
    verified = jira_payload("jira_issue_updated.status_to_done.json", key, t + 4)
    verified["issue"]["fields"]["status"]["name"] = "Verified"
    item = deliver(verified)
    assert item["status"] == "verified" and "status 'Verified'" in item["verification_evidence"]
    assert (
        deliver(jira_payload("jira_issue_updated.reopened.json", key, t + 5))["verified_at"] is None
    )
    deliver(jira_payload("jira_issue_updated.status_to_done.json", key, t + 6))
    comment = jira_payload("comment_created.json", key, t + 7)
    comment["comment"]["body"] = "/verified load test at 3x peak passed"
    set_account(client, jira["person"], "jira", comment["comment"]["author"]["accountId"])
    item = deliver(comment)
    assert (item["status"], item["verification_evidence"]) == (
        "verified",
        "load test at 3x peak passed",
    )
    deleted = deliver(jira_payload("jira_issue_deleted.json", key, t + 8))
    assert deleted["sync_state"] == "error"


@pytest.mark.parametrize("commenter", ["owner", "verify_commenter", "stranger"])
def test_jira_only_the_owner_or_named_commenters_verify_by_comment(
    client: TestClient, jira: dict[str, Any], commenter: str
) -> None:
    t = int(time.time() * 1000)
    comment = jira_payload("comment_created.json", jira["key"], t + 1)
    comment["comment"]["body"] = "/verified soak test clean"
    account = comment["comment"]["author"]["accountId"]
    if commenter == "owner":
        set_account(client, jira["person"], "jira", account)
    elif commenter == "verify_commenter":
        name_verify_commenter(client, jira["integration"], account, verification_status="Verified")
    for payload in (
        jira_payload("jira_issue_updated.status_to_done.json", jira["key"], t),
        comment,
    ):
        assert send_jira(client, jira["integration"], payload).status_code == 202
        drain(jira["worker"])
    assert_comment_outcome(client, jira["item"], commenter, account, "soak test clean")


def test_jira_rejections(client: TestClient, jira: dict[str, Any]) -> None:
    payload = jira_payload(
        "jira_issue_updated.status_to_done.json", jira["key"], int(time.time() * 1000)
    )
    assert send_jira(client, jira["integration"], payload, secret="wrong").status_code == 401
    assert send_jira(client, jira["integration"], payload, secret=None).status_code == 401
    created = jira_payload("jira_issue_created.json", jira["key"], 1)
    assert send_jira(client, jira["integration"], created).json()["status"] == "ignored"
    drain(jira["worker"])
    assert read(client, jira["item"])["status"] == "open"


@pytest.fixture
def linear(
    client: TestClient, engine: Engine, settings: Settings, fake_linear: FakeLinear
) -> dict[str, Any]:
    person = owner(client, linear="user-alice")
    integration = connect_tracker(
        client, "linear", fake_linear.base_url, {"api_key": API_KEY}, TEAM_ID, webhook_secret=SECRET
    )
    [item] = publish_items(client)
    worker = worker_for(engine, settings)
    drain(worker)
    return {
        "integration": integration["id"],
        "item": item["id"],
        "key": read(client, item["id"])["ticket_key"],
        "person": person["id"],
        "worker": worker,
    }


def linear_comment(key: str, body: str, created_at: str) -> dict[str, Any]:
    return {
        "type": "Comment",
        "action": "create",
        "data": {
            "id": "c-1",
            "body": body,
            "createdAt": created_at,
            "issue": {"id": "i", "identifier": key},
            "user": {"id": "user-bob", "name": "Bob"},
        },
    }


def linear_update(
    key: str, updated_at: str, state_type: str, state_name: str, **data: Any
) -> dict[str, Any]:
    payload = copy.deepcopy(load_json("linear/webhooks/issue_update.json"))
    team, number = key.split("-")
    payload["data"].update(
        team={"id": TEAM_ID, "key": team, "name": "Eng"},
        number=int(number),
        updatedAt=updated_at,
        state={"id": f"s-{state_type}", "name": state_name, "type": state_type},
        **data,
    )
    payload["data"].pop("identifier", None)
    payload["updatedFrom"] = {"stateId": "s-before", "updatedAt": "2026-01-01T00:00:00.000Z"}
    payload["url"] = f"https://linear.app/acme/issue/{key}/x"
    return payload


def test_linear_done_canceled_reopen_label_comment_removed(
    client: TestClient, linear: dict[str, Any]
) -> None:
    key, item_id, worker = linear["key"], linear["item"], linear["worker"]

    def deliver(payload: dict[str, Any]) -> dict[str, Any]:
        response = send_linear(client, linear["integration"], payload)
        assert response.status_code == 202, response.text
        drain(worker)
        return read(client, item_id)

    assert (
        deliver(linear_update(key, "2030-01-01T00:00:00.000Z", "completed", "Done"))["status"]
        == "closed"
    )
    assert (
        deliver(linear_update(key, "2030-01-01T00:01:00.000Z", "canceled", "Canceled"))["status"]
        == "wont_do"
    )
    assert (
        deliver(linear_update(key, "2030-01-01T00:02:00.000Z", "started", "In Progress"))["status"]
        == "reopened"
    )
    deliver(linear_update(key, "2030-01-01T00:03:00.000Z", "completed", "Done"))
    labelled = linear_update(
        key,
        "2030-01-01T00:04:00.000Z",
        "completed",
        "Done",
        labelIds=["l-verified"],
        labels=[{"id": "l-verified", "name": "verified"}],
    )
    labelled["updatedFrom"] = {"labelIds": []}
    assert deliver(labelled)["status"] == "verified"
    deliver(linear_update(key, "2030-01-01T00:05:00.000Z", "started", "In Progress"))
    deliver(linear_update(key, "2030-01-01T00:06:00.000Z", "completed", "Done"))
    comment = linear_comment(key, "/verified chaos test passed", "2030-01-01T00:07:00.000Z")
    # A comment's author is the Linear user id, the account tracker_accounts hold.
    set_account(client, linear["person"], "linear", comment["data"]["user"]["id"])
    assert deliver(comment)["status"] == "verified"
    removed = copy.deepcopy(load_json("linear/webhooks/issue_remove.json"))
    team, number = key.split("-")
    removed["data"].update(
        team={"id": TEAM_ID, "key": team}, number=int(number), updatedAt="2030-01-01T00:08:00.000Z"
    )
    assert deliver(removed)["sync_state"] == "error"


@pytest.mark.parametrize("commenter", ["owner", "verify_commenter", "stranger"])
def test_linear_only_the_owner_or_named_commenters_verify_by_comment(
    client: TestClient, linear: dict[str, Any], commenter: str
) -> None:
    key = linear["key"]
    comment = linear_comment(key, "/verified failover drill passed", "2030-01-01T00:01:00.000Z")
    account = comment["data"]["user"]["id"]
    if commenter == "owner":
        set_account(client, linear["person"], "linear", account)
    elif commenter == "verify_commenter":
        name_verify_commenter(client, linear["integration"], account)
    for payload in (linear_update(key, "2030-01-01T00:00:00.000Z", "completed", "Done"), comment):
        assert send_linear(client, linear["integration"], payload).status_code == 202
        drain(linear["worker"])
    assert_comment_outcome(client, linear["item"], commenter, account, "failover drill passed")


def test_linear_stale_or_unsigned_deliveries_are_refused(
    client: TestClient, linear: dict[str, Any]
) -> None:
    payload = linear_update(linear["key"], "2030-01-01T00:00:00.000Z", "completed", "Done")
    stale = send_linear(
        client, linear["integration"], payload, timestamp_ms=int((time.time() - 600) * 1000)
    )
    assert stale.status_code == 401
    # A well-signed but stale delivery says what is wrong with it, not "signature does not match".
    assert "webhookTimestamp" in stale.json()["detail"]
    assert "does not match" not in stale.json()["detail"]
    wrong = send_linear(client, linear["integration"], payload, secret="wrong")
    assert wrong.status_code == 401
    assert "does not match" in wrong.json()["detail"]
    created = load_json("linear/webhooks/issue_create.json")
    assert send_linear(client, linear["integration"], created).json()["status"] == "ignored"
    drain(linear["worker"])
    assert read(client, linear["item"])["status"] == "open"
