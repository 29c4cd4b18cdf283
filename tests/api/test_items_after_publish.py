"""Items added to or changed on a published postmortem meet the checks that publishing enforced:
an item with error findings stays a draft with no ticket until an edit or a waiver clears them,
and an edit that would break an open item is refused and changes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any
from uuid import UUID

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from app.settings import CheckPolicy, Settings
from app.sync.models import Job
from tests.e2e.sync_support import connect_tracker, drain, owner, publish_items, worker_for
from tests.factories import action_item_body, make_late, make_person, make_postmortem, make_team
from tests.fake_trackers.github import TOKEN, FakeGitHub
from tests.problems import problem

IN_A_WEEK = (date.today() + timedelta(days=7)).isoformat()
# Everything the checks ask of an item is missing: no owner, no date, no criteria, no check.
BARE = {"title": "Improve monitoring", "owner": None, "due_date": None}
BARE_ERRORS = {
    "owner-is-person": "owner",
    "due-date-present": "due_date",
    "definition-of-done-present": "definition_of_done",
    "verification-present": "verification",
}


def jobs_of(engine: Engine, item_id: str) -> list[str]:
    with Session(engine) as session:
        return sorted(
            session.exec(select(Job.kind).where(col(Job.action_item_id) == UUID(item_id))).all()
        )


def history(client: TestClient, item_id: str) -> list[dict[str, Any]]:
    response = client.get(f"/v1/action-items/{item_id}/history")
    assert response.status_code == 200, response.text
    return response.json()["events"]  # type: ignore[no-any-return]


def add(client: TestClient, pm_id: str, **fields: Any) -> dict[str, Any]:
    response = client.post(
        f"/v1/postmortems/{pm_id}/action-items",
        json={"definition_of_done": [], "verification": "", **fields},
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def errors_of(findings: list[dict[str, Any]]) -> dict[str, str]:
    return {f["rule"]: f["path"] for f in findings if f["severity"] == "error" and not f["waived"]}


def checks(client: TestClient, pm_id: str) -> dict[str, Any]:
    response = client.get(f"/v1/postmortems/{pm_id}/checks")
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def published(client: TestClient, **overrides: Any) -> dict[str, Any]:
    pm = make_postmortem(client, **overrides)
    assert client.post(f"/v1/postmortems/{pm['id']}/publish").status_code == 200
    return client.get(f"/v1/postmortems/{pm['id']}").json()  # type: ignore[no-any-return]


@pytest.fixture
def routed(client: TestClient, fake_github: FakeGitHub) -> FakeGitHub:
    """The payments team's items go to GitHub; alice has an account there."""
    owner(client, github="alice-gh")
    connect_tracker(client, "github", fake_github.base_url, {"token": TOKEN}, "acme/api")
    return fake_github


@pytest.fixture
def strict_wording(app: FastAPI, settings: Settings) -> Iterator[None]:
    """A deployment that makes vague wording an error."""
    policy = CheckPolicy(severity_overrides={"vague-wording": "error"})
    app.state.settings = settings.model_copy(update={"checks": policy})
    try:
        yield
    finally:
        app.state.settings = settings


# --- added after publish --------------------------------------------------------------------


def test_an_item_added_with_errors_stays_a_draft_with_its_findings_and_no_ticket(
    client: TestClient, engine: Engine, settings: Settings, routed: FakeGitHub
) -> None:
    [first] = publish_items(client)
    worker = worker_for(engine, settings)
    drain(worker)
    assert len(routed.issues) == 1

    added = add(client, first["postmortem_id"], **BARE)

    assert (added["status"], added["held_by_checks"]) == ("draft", True)
    assert errors_of(added["findings"]) == {
        rule: f"action_items[1].{field}" for rule, field in BARE_ERRORS.items()
    }
    listed = errors_of(checks(client, first["postmortem_id"])["findings"])
    assert {r: p for r, p in listed.items() if p.startswith("action_items[1]")} == errors_of(
        added["findings"]
    )
    assert jobs_of(engine, added["id"]) == []
    drain(worker)
    assert len(routed.issues) == 1
    read = client.get(f"/v1/action-items/{added['id']}").json()
    assert (read["status"], read["ticket_key"], read["sync_state"]) == ("draft", None, None)
    kinds = [e["kind"] for e in history(client, added["id"])]
    assert kinds == ["created", "held_by_checks"]
    held = history(client, added["id"])[-1]
    assert {f["rule"] for f in held["changes"]["findings"]} == set(BARE_ERRORS)


def test_fixing_a_held_item_by_patch_opens_it_and_queues_exactly_one_ticket(
    client: TestClient, engine: Engine, settings: Settings, routed: FakeGitHub
) -> None:
    [first] = publish_items(client)
    worker = worker_for(engine, settings)
    drain(worker)
    added = add(client, first["postmortem_id"], **BARE)
    url = f"/v1/action-items/{added['id']}"

    partly = client.patch(
        url,
        json={
            "title": "Alert when the checkout pool has under 5 free connections",
            "owner": "alice",
            "definition_of_done": ["The alert pages the checkout on-call within 2 minutes"],
            "verification": "Drain the pool on staging and watch the page arrive",
        },
    )
    assert partly.status_code == 200, partly.text
    assert (partly.json()["status"], partly.json()["held_by_checks"]) == ("draft", True)
    assert errors_of(partly.json()["findings"]) == {"due-date-present": "action_items[1].due_date"}
    assert jobs_of(engine, added["id"]) == []

    fixed = client.patch(
        url, json={"due_date": IN_A_WEEK}, headers={"If-Match": partly.headers["etag"]}
    )

    assert fixed.status_code == 200, fixed.text
    body = fixed.json()
    assert (body["status"], body["held_by_checks"]) == ("open", False)
    assert errors_of(body["findings"]) == {}
    assert fixed.headers["etag"] == f'"{body["version"]}"'
    assert jobs_of(engine, added["id"]) == ["ticket.create"]
    opened = [e for e in history(client, added["id"]) if e["kind"] == "status_changed"]
    assert [(e["from_status"], e["to_status"]) for e in opened] == [("draft", "open")]
    assert "the checks pass" in opened[0]["note"]
    drain(worker)
    assert len(routed.issues) == 2
    assert client.get(url).json()["ticket_key"] == "acme/api#2"
    # Editing it again is an update of that ticket, never a second one.
    again = client.patch(url, json={"priority": "high"})
    assert again.status_code == 200, again.text
    drain(worker)
    assert len(routed.issues) == 2
    assert sorted(jobs_of(engine, added["id"])) == ["ticket.create", "ticket.update"]


def test_waiving_the_last_finding_opens_a_held_item(
    client: TestClient, engine: Engine, settings: Settings, routed: FakeGitHub
) -> None:
    [first] = publish_items(client)
    pm_id = first["postmortem_id"]
    team_owned = add(
        client,
        pm_id,
        **action_item_body(owner="payments", title="Add a floor of 20 to the pool size"),
    )
    assert errors_of(team_owned["findings"]) == {"owner-is-person": "action_items[1].owner"}
    assert team_owned["held_by_checks"] is True

    waived = client.post(
        f"/v1/postmortems/{pm_id}/checks/waivers",
        json={
            "rule": "owner-is-person",
            "path": "action_items[1].owner",
            "reason": "The payments rota owns it; its lead is named in the criteria",
        },
    )

    assert waived.status_code == 201, waived.text
    read = client.get(f"/v1/action-items/{team_owned['id']}").json()
    assert read["status"] == "open"
    assert jobs_of(engine, team_owned["id"]) == ["ticket.create"]
    events = history(client, team_owned["id"])
    assert [e["kind"] for e in events] == [
        "created",
        "held_by_checks",
        "check_waived",
        "status_changed",
    ]
    assert "finding 'owner-is-person' at 'action_items[1].owner' waived" in events[-1]["note"]
    drain(worker_for(engine, settings))
    assert len(routed.issues) == 2


def test_a_waiver_that_leaves_another_error_keeps_the_item_held(client: TestClient) -> None:
    make_person(client, "alice")
    make_team(client, "payments")
    pm = published(client)
    held = add(client, pm["id"], **action_item_body(owner="payments", verification="TBD"))
    assert set(errors_of(held["findings"])) == {"owner-is-person", "verification-present"}
    waived = client.post(
        f"/v1/postmortems/{pm['id']}/checks/waivers",
        json={"rule": "owner-is-person", "path": "action_items[1].owner", "reason": "rota"},
    )
    assert waived.status_code == 201, waived.text
    assert client.get(f"/v1/action-items/{held['id']}").json()["status"] == "draft"

    fixed = client.patch(
        f"/v1/action-items/{held['id']}",
        json={"verification": "Game day on staging: the floor holds under a config push"},
    )

    assert fixed.json()["status"] == "open", fixed.text
    assert [f["waived"] for f in fixed.json()["findings"] if f["severity"] == "error"] == [True]


def test_an_item_without_errors_added_after_publish_opens_and_queues_one_ticket(
    client: TestClient, engine: Engine
) -> None:
    make_person(client, "alice")
    pm = published(client)
    added = add(client, pm["id"], **action_item_body(title="Add a floor of 20 to the pool size"))
    assert (added["status"], added["held_by_checks"]) == ("open", False)
    assert jobs_of(engine, added["id"]) == ["ticket.create"]
    opened = history(client, added["id"])[-1]
    assert opened["note"].startswith("added to a published postmortem")


def test_committing_an_aware_item_with_errors_keeps_it_a_draft(
    client: TestClient, engine: Engine
) -> None:
    make_person(client, "alice")
    pm = published(client)
    aware = add(client, pm["id"], title="Old clients retry without backoff", committed=False)
    assert (aware["status"], aware["held_by_checks"], errors_of(aware["findings"])) == (
        "draft",
        False,
        {},
    )

    committed = client.patch(f"/v1/action-items/{aware['id']}", json={"committed": True})

    assert committed.status_code == 200, committed.text
    assert (committed.json()["status"], committed.json()["held_by_checks"]) == ("draft", True)
    assert jobs_of(engine, aware["id"]) == []
    assert history(client, aware["id"])[-1]["kind"] == "held_by_checks"


def test_an_item_past_the_committed_limit_is_held_by_the_list_finding(
    client: TestClient, engine: Engine
) -> None:
    make_person(client, "alice")
    pm = published(
        client, action_items=[action_item_body(title=f"Gate deploys, step {n}") for n in range(3)]
    )
    fourth = add(client, pm["id"], **action_item_body(title="Gate deploys, step 3"))
    assert fourth["held_by_checks"] is True
    assert errors_of(fourth["findings"]) == {"max-committed-items": "action_items"}
    assert jobs_of(engine, fourth["id"]) == []
    # Kept as a thing to remain aware of instead, it is no longer held.
    aware = client.patch(f"/v1/action-items/{fourth['id']}", json={"committed": False})
    assert (aware.json()["status"], aware.json()["held_by_checks"]) == ("draft", False)


def test_before_publishing_items_are_drafts_and_the_checks_run_at_publish(
    client: TestClient, engine: Engine
) -> None:
    make_person(client, "alice")
    pm = make_postmortem(client)
    added = add(client, pm["id"], **BARE)
    assert (added["status"], added["findings"], added["held_by_checks"]) == ("draft", None, False)
    refused = problem(client.post(f"/v1/postmortems/{pm['id']}/publish"), 409)
    assert "action_items[1].owner" in [e["path"] for e in refused["errors"]]


# --- changed after publish ------------------------------------------------------------------


def _snapshot(client: TestClient, engine: Engine, item_id: str) -> tuple[Any, ...]:
    read = client.get(f"/v1/action-items/{item_id}")
    return read.json(), read.headers["etag"], history(client, item_id), jobs_of(engine, item_id)


@pytest.mark.parametrize(
    ("change", "rule", "field"),
    [
        ({"definition_of_done": []}, "definition-of-done-present", "definition_of_done"),
        ({"verification": "  n/a "}, "verification-present", "verification"),
        ({"owner": None}, "owner-is-person", "owner"),
        ({"owner": "payments"}, "owner-is-person", "owner"),
        ({"due_date": None}, "due-date-present", "due_date"),
    ],
    ids=["dod-cleared", "verification-placeholder", "owner-cleared", "team-owner", "no-date"],
)
def test_a_patch_that_would_break_an_open_item_is_refused_and_changes_nothing(
    client: TestClient, engine: Engine, change: dict[str, Any], rule: str, field: str
) -> None:
    make_person(client, "alice")
    make_team(client, "payments")
    pm = published(client)
    [item] = pm["action_items"]
    before = _snapshot(client, engine, item["id"])

    refused = client.patch(
        f"/v1/action-items/{item['id']}", json=change, headers={"If-Match": before[1]}
    )

    body = problem(refused, 422)
    assert [e["path"] for e in body["errors"]] == [f"action_items[0].{field}"]
    assert body["errors"][0]["message"].startswith(f"[{rule}] ")
    assert [(f["rule"], f["path"]) for f in body["findings"]] == [
        (rule, f"action_items[0].{field}")
    ]
    assert _snapshot(client, engine, item["id"]) == before
    assert client.get(f"/v1/postmortems/{pm['id']}").json()["version"] == pm["version"]


def test_a_vague_new_title_is_refused_where_vague_wording_is_an_error(
    client: TestClient, engine: Engine, strict_wording: None
) -> None:
    make_person(client, "alice")
    pm = published(client)
    [item] = pm["action_items"]
    before = _snapshot(client, engine, item["id"])

    refused = client.patch(f"/v1/action-items/{item['id']}", json={"title": "Improve monitoring"})

    assert [e["path"] for e in problem(refused, 422)["errors"]] == ["action_items[0].title"]
    assert _snapshot(client, engine, item["id"]) == before
    concrete = client.patch(
        f"/v1/action-items/{item['id']}",
        json={"title": "Page the on-call when checkout 5xx exceeds 2% for 5 minutes"},
        headers={"If-Match": before[1]},
    )
    assert concrete.status_code == 200, concrete.text
    assert concrete.headers["etag"] == f'"{before[0]["version"] + 1}"'
    assert jobs_of(engine, item["id"]) == ["ticket.create", "ticket.update"]


def test_an_overdue_item_can_be_edited_but_not_moved_to_another_past_day(
    client: TestClient, engine: Engine
) -> None:
    make_person(client, "alice")
    pm = published(client)
    [item] = pm["action_items"]
    make_late(engine, item["id"], days=2)
    url = f"/v1/action-items/{item['id']}"

    retitled = client.patch(url, json={"title": "Gate deploys on the canary's 5xx rate over 1%"})
    assert retitled.status_code == 200, retitled.text
    assert errors_of(retitled.json()["findings"]) == {"due-date-past": "action_items[0].due_date"}

    yesterday = (date.today() - timedelta(days=1)).isoformat()
    moved = client.patch(url, json={"due_date": yesterday})
    assert [e["path"] for e in problem(moved, 422)["errors"]] == ["action_items[0].due_date"]

    replanned = client.patch(url, json={"due_date": IN_A_WEEK})
    assert replanned.status_code == 200, replanned.text
    assert errors_of(replanned.json()["findings"]) == {}


def test_a_waived_finding_does_not_block_an_edit_until_its_text_changes(
    client: TestClient, engine: Engine
) -> None:
    make_person(client, "alice")
    make_team(client, "payments")
    make_team(client, "search")
    pm = make_postmortem(client, action_items=[action_item_body(owner="payments")])
    waived = client.post(
        f"/v1/postmortems/{pm['id']}/checks/waivers",
        json={"rule": "owner-is-person", "path": "action_items[0].owner", "reason": "rota"},
    )
    assert waived.status_code == 201, waived.text
    assert client.post(f"/v1/postmortems/{pm['id']}/publish").status_code == 200
    url = f"/v1/action-items/{pm['action_items'][0]['id']}"

    retitled = client.patch(url, json={"title": "Gate deploys on the canary's 5xx rate over 1%"})
    assert retitled.status_code == 200, retitled.text
    assert [f["waived"] for f in retitled.json()["findings"] if f["severity"] == "error"] == [True]

    # Another team as owner is new text at the waived path: the waiver no longer covers it.
    moved = client.patch(url, json={"owner": "search"})
    assert [e["path"] for e in problem(moved, 422)["errors"]] == ["action_items[0].owner"]


def test_uncommitting_an_open_ticketed_item_is_still_refused(
    client: TestClient, engine: Engine, settings: Settings, routed: FakeGitHub
) -> None:
    [item] = publish_items(client)
    drain(worker_for(engine, settings))
    refused = client.patch(f"/v1/action-items/{item['id']}", json={"committed": False})
    assert "won't do" in problem(refused, 409)["detail"]


# --- completion -----------------------------------------------------------------------------


def test_a_complete_postmortem_gaining_a_held_draft_stays_complete_until_it_opens(
    client: TestClient, engine: Engine
) -> None:
    make_person(client, "alice")
    pm = published(client)
    [item] = pm["action_items"]
    url = f"/v1/action-items/{item['id']}"
    assert client.post(f"{url}/close", json={"resolution": "done"}).status_code == 200
    assert client.post(f"{url}/verify", json={"evidence": "drill passed"}).status_code == 200
    assert client.get(f"/v1/postmortems/{pm['id']}").json()["status"] == "complete"

    held = add(client, pm["id"], **BARE)

    # A draft is not committed work until it opens: the postmortem stays complete.
    after = client.get(f"/v1/postmortems/{pm['id']}").json()
    assert (after["status"], held["status"]) == ("complete", "draft")
    assert after["completed_at"] is not None

    fixed = client.patch(
        f"/v1/action-items/{held['id']}",
        json={
            "title": "Alert when the checkout pool has under 5 free connections",
            "owner": "alice",
            "due_date": IN_A_WEEK,
            "definition_of_done": ["The alert pages the checkout on-call within 2 minutes"],
            "verification": "Drain the pool on staging and watch the page arrive",
        },
    )
    assert fixed.json()["status"] == "open", fixed.text
    reopened = client.get(f"/v1/postmortems/{pm['id']}").json()
    assert (reopened["status"], reopened["completed_at"]) == ("published", None)


def test_a_complete_postmortem_gaining_a_sound_item_is_published_again(
    client: TestClient,
) -> None:
    make_person(client, "alice")
    pm = published(client)
    url = f"/v1/action-items/{pm['action_items'][0]['id']}"
    client.post(f"{url}/close", json={"resolution": "done"})
    client.post(f"{url}/verify", json={"evidence": "drill passed"})
    assert client.get(f"/v1/postmortems/{pm['id']}").json()["status"] == "complete"
    added = add(client, pm["id"], **action_item_body(title="Add a floor of 20 to the pool size"))
    assert added["status"] == "open"
    assert client.get(f"/v1/postmortems/{pm['id']}").json()["status"] == "published"
