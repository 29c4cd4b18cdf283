"""A lost webhook is repaired by reconciliation: the ticket is read back and its state applied."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from app.settings import Settings
from app.sync.reconcile import reconcile
from tests.e2e.sync_support import connect_tracker, drain, owner, publish_items, worker_for
from tests.fake_trackers.jira import API_TOKEN, FakeJira


@pytest.fixture
def ticketed(
    client: TestClient, engine: Engine, settings: Settings, fake_jira: FakeJira
) -> dict[str, Any]:
    owner(client, jira="557058:alice")
    connect_tracker(
        client,
        "jira",
        fake_jira.base_url,
        {"email": "bot@example.com", "api_token": API_TOKEN},
        "OPS",
    )
    [item] = publish_items(client)
    worker = worker_for(engine, settings)
    drain(worker)
    return {"item": client.get(f"/v1/action-items/{item['id']}").json(), "worker": worker}


def test_closed_in_jira_without_a_webhook_is_found_by_reconciliation(
    client: TestClient, engine: Engine, fake_jira: FakeJira, ticketed: dict[str, Any]
) -> None:
    item = ticketed["item"]
    fake_jira.transition(item["ticket_key"], "Done", "done", "Done")
    report = reconcile(engine, ticketed["worker"].connectors)
    assert (report.checked, report.drift, report.errors) == (1, 1, [])
    read = client.get(f"/v1/action-items/{item['id']}").json()
    assert read["status"] == "closed"
    event = client.get(f"/v1/action-items/{item['id']}/history").json()["events"][-1]
    assert (event["source"], event["actor"]) == ("reconciliation", f"run:{report.run_id}")
    assert (event["from_status"], event["to_status"]) == ("open", "closed")
    # A second run finds nothing new.
    assert reconcile(engine, ticketed["worker"].connectors).drift == 0


def test_wont_do_reopen_and_verification_label_are_read_back(
    client: TestClient, engine: Engine, fake_jira: FakeJira, ticketed: dict[str, Any]
) -> None:
    item = ticketed["item"]
    connectors = ticketed["worker"].connectors
    fake_jira.transition(item["ticket_key"], "Won't Do", "done", "Won't Do")
    reconcile(engine, connectors)
    assert client.get(f"/v1/action-items/{item['id']}").json()["status"] == "wont_do"

    client.post(f"/v1/action-items/{item['id']}/reopen", json={"reason": "we will do it after all"})
    fake_jira.transition(item["ticket_key"], "Done", "done", "Done")
    fake_jira.issue(item["ticket_key"])["fields"]["labels"].append("verified")
    reconcile(engine, connectors)
    read = client.get(f"/v1/action-items/{item['id']}").json()
    assert read["status"] == "verified"
    assert "label 'verified'" in read["verification_evidence"]
    postmortem = client.get(f"/v1/postmortems/{item['postmortem_id']}").json()
    assert postmortem["status"] == "complete"


def test_due_date_and_assignee_changed_in_jira_are_mirrored(
    client: TestClient, engine: Engine, fake_jira: FakeJira, ticketed: dict[str, Any]
) -> None:
    client.post(
        "/v1/people",
        json={"handle": "bob", "display_name": "Bob", "tracker_accounts": {"jira": "557058:bob"}},
    )
    item = ticketed["item"]
    fields = fake_jira.issue(item["ticket_key"])["fields"]
    fields["duedate"] = "2027-01-15"
    fields["assignee"] = {"accountId": "557058:bob", "displayName": "Bob"}
    reconcile(engine, ticketed["worker"].connectors)
    read = client.get(f"/v1/action-items/{item['id']}").json()
    assert (read["due_date"], read["owner"]) == ("2027-01-15", "bob")
    kinds = [
        e["kind"] for e in client.get(f"/v1/action-items/{item['id']}/history").json()["events"]
    ]
    assert {"due_date_mirrored", "owner_mirrored"} <= set(kinds)
    # Mirroring back never queues an update to the tracker (no echo).
    assert (
        len(
            fake_jira.requests_to(
                "PUT", f"/rest/api/3/issue/{fake_jira.issue(item['ticket_key'])['id']}"
            )
        )
        == 0
    )
