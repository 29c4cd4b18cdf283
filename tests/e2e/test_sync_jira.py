"""Publish -> Jira ticket through the real `jira` library, and every fault on the way."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from app.settings import Settings
from tests.e2e.sync_support import (
    connect_tracker,
    drain,
    job_rows,
    kill,
    owner,
    publish_items,
    start_worker_process,
    stop,
    wait_until,
    worker_for,
)
from tests.fake_trackers.jira import API_TOKEN, FakeJira
from tests.fake_trackers.server import Fault


@pytest.fixture
def jira(client: TestClient, fake_jira: FakeJira) -> dict[str, Any]:
    owner(client, jira="557058:alice")
    return connect_tracker(
        client,
        "jira",
        fake_jira.base_url,
        {"email": "bot@example.com", "api_token": API_TOKEN},
        "OPS",
    )


def marker_labels(fake: FakeJira) -> list[str]:
    return [
        label
        for issue in fake.issues.values()
        for label in issue["fields"]["labels"]
        if label.startswith("followthrough-")
    ]


def test_publish_creates_one_jira_ticket_with_assignee_due_date_and_labels(
    client: TestClient,
    engine: Engine,
    settings: Settings,
    fake_jira: FakeJira,
    jira: dict[str, Any],
) -> None:
    [item] = publish_items(client)
    assert item["sync_state"] == "pending"
    assert drain(worker_for(engine, settings)) == 1

    [issue] = fake_jira.issues.values()
    fields = issue["fields"]
    assert fields["summary"] == item["title"]
    assert fields["assignee"]["accountId"] == "557058:alice"
    assert fields["duedate"] == item["due_date"]
    assert "postmortem" in fields["labels"]
    description = str(fields["description"])
    assert f"/v1/postmortems/{item['postmortem_id']}" in description
    assert item["definition_of_done"][0] in description

    synced = client.get(f"/v1/action-items/{item['id']}").json()
    assert synced["sync_state"] == "synced"
    assert synced["ticket_key"] == issue["key"]
    assert synced["ticket_url"].endswith(f"/browse/{issue['key']}")
    kinds = [
        e["kind"] for e in client.get(f"/v1/action-items/{item['id']}/history").json()["events"]
    ]
    assert kinds[-1] == "ticket_created"


def test_editing_an_item_updates_its_ticket(
    client: TestClient,
    engine: Engine,
    settings: Settings,
    fake_jira: FakeJira,
    jira: dict[str, Any],
) -> None:
    [item] = publish_items(client)
    worker = worker_for(engine, settings)
    drain(worker)
    due = (date.today() + timedelta(days=30)).isoformat()
    response = client.patch(
        f"/v1/action-items/{item['id']}",
        json={"title": "Block config pushes without a canary", "due_date": due},
    )
    assert response.status_code == 200
    assert response.json()["sync_state"] == "pending"
    assert drain(worker) == 1
    [issue] = fake_jira.issues.values()
    assert issue["fields"]["summary"] == "Block config pushes without a canary"
    assert issue["fields"]["duedate"] == due
    assert len(fake_jira.requests_to("POST", "/rest/api/3/issue")) == 1


def test_a_server_error_delays_the_ticket_and_loses_nothing(
    client: TestClient,
    engine: Engine,
    settings: Settings,
    fake_jira: FakeJira,
    jira: dict[str, Any],
) -> None:
    fake_jira.inject(
        Fault("status", method="POST", path_part="/rest/api/3/issue", status=500, times=2)
    )
    [item] = publish_items(client)
    drain(worker_for(engine, settings, max_attempts=5))
    assert len(fake_jira.issues) == 1
    assert client.get(f"/v1/action-items/{item['id']}").json()["sync_state"] == "synced"
    assert len(fake_jira.requests_to("POST", "/rest/api/3/issue")) == 3


def test_a_lost_create_response_is_found_by_marker_not_created_twice(
    client: TestClient,
    engine: Engine,
    settings: Settings,
    fake_jira: FakeJira,
    jira: dict[str, Any],
) -> None:
    fake_jira.inject(Fault("drop", method="POST", path_part="/rest/api/3/issue"))
    [item] = publish_items(client)
    drain(worker_for(engine, settings))
    assert len(fake_jira.issues) == 1
    assert len(fake_jira.requests_to("POST", "/rest/api/3/issue")) == 1
    read = client.get(f"/v1/action-items/{item['id']}").json()
    assert read["ticket_key"] == next(iter(fake_jira.issues))
    notes = [
        e["note"] for e in client.get(f"/v1/action-items/{item['id']}/history").json()["events"]
    ]
    assert "found by marker after an unconfirmed create" in notes


def test_jira_unconfirmed_create_waits_for_the_search_index(
    client: TestClient,
    engine: Engine,
    settings: Settings,
    fake_jira: FakeJira,
    jira: dict[str, Any],
) -> None:
    # The create is lost AND the search cannot see the issue yet: no second create until the
    # confirmation window has passed.
    fake_jira.inject(Fault("drop", method="POST", path_part="/rest/api/3/issue"))
    fake_jira.inject(
        Fault(
            "status",
            method="GET",
            path_part="/search/jql",
            status=200,
            body={"issues": []},
            times=5,
        )
    )
    publish_items(client)
    worker = worker_for(engine, settings, resend_window_seconds=3600)
    drain(worker)
    assert len(fake_jira.requests_to("POST", "/rest/api/3/issue")) == 1
    assert [row[1] for row in job_rows(engine)] == ["pending"]


def test_rate_limit_pauses_the_integration_for_retry_after(
    client: TestClient,
    engine: Engine,
    settings: Settings,
    fake_jira: FakeJira,
    jira: dict[str, Any],
) -> None:
    fake_jira.inject(
        Fault(
            "status",
            method="POST",
            path_part="/rest/api/3/issue",
            status=429,
            headers={"Retry-After": "120"},
        )
    )
    [item] = publish_items(client)
    drain(worker_for(engine, settings))
    assert fake_jira.issues == {}
    integration = client.get(f"/v1/integrations/{jira['id']}").json()
    assert integration["paused_until"] is not None
    read = client.get(f"/v1/action-items/{item['id']}").json()
    assert read["sync_state"] == "pending"
    assert "429" in (read["sync_error"] or "") or read["sync_error"]


def test_repeated_failures_park_the_job_and_sync_retries_it(
    client: TestClient,
    engine: Engine,
    settings: Settings,
    fake_jira: FakeJira,
    jira: dict[str, Any],
) -> None:
    fake_jira.inject(
        Fault("status", method="POST", path_part="/rest/api/3/issue", status=503, times=3)
    )
    [item] = publish_items(client)
    worker = worker_for(engine, settings, max_attempts=3)
    drain(worker)
    parked = client.get(f"/v1/action-items/{item['id']}").json()
    assert parked["sync_state"] == "error"
    assert parked["sync_error"]
    assert [row[1] for row in job_rows(engine)] == ["dead"]

    retried = client.post(f"/v1/action-items/{item['id']}/sync")
    assert retried.status_code == 200
    assert retried.json()["jobs_due_now"] == 1
    drain(worker)
    assert client.get(f"/v1/action-items/{item['id']}").json()["sync_state"] == "synced"
    assert len(fake_jira.issues) == 1


def test_a_permanent_error_parks_at_once_with_the_trackers_message(
    client: TestClient,
    engine: Engine,
    settings: Settings,
    fake_jira: FakeJira,
    jira: dict[str, Any],
) -> None:
    client.patch(f"/v1/integrations/{jira['id']}", json={"default_project": "NOPE"})
    [item] = publish_items(client)
    drain(worker_for(engine, settings))
    read = client.get(f"/v1/action-items/{item['id']}").json()
    assert read["sync_state"] == "error"
    assert read["sync_error"]
    assert [row[1:] for row in job_rows(engine)] == [("dead", 1)]


def test_worker_killed_after_the_tracker_created_the_ticket_makes_no_duplicate(
    client: TestClient, settings: Settings, fake_jira: FakeJira, jira: dict[str, Any]
) -> None:
    # The tracker creates the issue, then holds its answer: the worker is killed in that window.
    fake_jira.inject(Fault("delay_reply", method="POST", path_part="/rest/api/3/issue", delay=30))
    items = publish_items(client, count=3)
    # One job at a time, so that the killed worker has exactly one create in the air.
    first = start_worker_process(settings, FOLLOWTHROUGH_SYNC__RUNNERS="1")
    try:
        wait_until(lambda: len(fake_jira.issues) == 1, what="the tracker to create the first issue")
        kill(first)
    finally:
        kill(first)
    assert all(
        client.get(f"/v1/action-items/{i['id']}").json()["ticket_key"] is None for i in items
    )

    second = start_worker_process(settings)
    try:
        wait_until(
            lambda: all(
                client.get(f"/v1/action-items/{i['id']}").json()["sync_state"] == "synced"
                for i in items
            ),
            timeout=60,
            what="every item to be synced after the restart",
        )
    finally:
        stop(second)
    assert len(fake_jira.issues) == 3
    assert len(set(marker_labels(fake_jira))) == 3
    keys = {client.get(f"/v1/action-items/{i['id']}").json()["ticket_key"] for i in items}
    assert keys == set(fake_jira.issues)
