"""GET /v1/postmortems/{id}/checks and publishing through the real app and database."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.enums import Scope
from app.main import create_app
from app.settings import CheckPolicy, Settings
from tests.factories import action_item_body, iso, make_person, make_postmortem, make_team

PROBLEM_JSON = "application/problem+json"
Triple = tuple[str, str, str]


def fresh_incident(**overrides: Any) -> dict[str, Any]:
    """Times of an incident resolved half an hour ago, so that the timeline entries written
    now count as written during it and no review is overdue yet."""
    resolved = datetime.now(UTC) - timedelta(minutes=30)
    times = {
        "started_at": iso(resolved - timedelta(minutes=40)),
        "detected_at": iso(resolved - timedelta(minutes=36)),
        "mitigated_at": iso(resolved - timedelta(minutes=10)),
        "resolved_at": iso(resolved),
        "timeline": [
            {
                "at": iso(resolved - timedelta(minutes=36)),
                "author": "alertmanager",
                "kind": "alert",
                "text": "5xx > 5%",
            }
        ],
    }
    times.update(overrides)
    return times


def in_days(days: int) -> str:
    return (date.today() + timedelta(days=days)).isoformat()


def checks(client: TestClient, postmortem_id: str) -> dict[str, Any]:
    response = client.get(f"/v1/postmortems/{postmortem_id}/checks")
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def triples(report: dict[str, Any]) -> set[Triple]:
    return {(f["rule"], f["severity"], f["path"]) for f in report["findings"]}


def rule_findings(report: dict[str, Any], rule: str) -> set[Triple]:
    return {t for t in triples(report) if t[0] == rule}


def items_of(client: TestClient, postmortem_id: str) -> list[dict[str, Any]]:
    response = client.get(f"/v1/postmortems/{postmortem_id}/action-items")
    assert response.status_code == 200, response.text
    return response.json()["items"]  # type: ignore[no-any-return]


def status_of(client: TestClient, postmortem_id: str) -> str:
    response = client.get(f"/v1/postmortems/{postmortem_id}")
    assert response.status_code == 200, response.text
    return response.json()["status"]  # type: ignore[no-any-return]


def post_ok(client: TestClient, url: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    response = client.post(url, json=body or {})
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


@pytest.fixture(autouse=True)
def alice(client: TestClient) -> dict[str, Any]:
    """The owner every factory action item names."""
    return make_person(client, "alice", display_name="Alice Example")


@pytest.fixture
def policy_client(
    database_url: str,
    tmp_path: Path,
    make_token: Callable[..., str],
) -> Iterator[Callable[[CheckPolicy], TestClient]]:
    """Clients of a second app on the same database whose only difference is the policy."""
    with ExitStack() as stack:

        def make(policy: CheckPolicy) -> TestClient:
            app = create_app(
                Settings(
                    database_url=database_url, data_dir=tmp_path, secret_key="x", checks=policy
                )
            )
            stack.callback(app.state.engine.dispose)
            token = make_token(Scope.ADMIN, "policy-tests")
            return stack.enter_context(
                TestClient(app, headers={"Authorization": f"Bearer {token}"})
            )

        yield make


# The report


def test_sound_recent_postmortem_has_no_findings(client: TestClient) -> None:
    pm = make_postmortem(client, **fresh_incident())
    report = checks(client, pm["id"])
    assert report["postmortem_id"] == pm["id"]
    assert report["findings"] == []
    assert report["publishable"] is True
    assert report["counts"] == {"error": 0, "warning": 0, "info": 0}


def test_item_rules_report_each_problem_at_its_path(client: TestClient) -> None:
    make_team(client, "payments")
    items = [
        action_item_body(),
        action_item_body(
            owner=None,
            title="Set a lower bound of 20 on the pool size",
            due_date=None,
            definition_of_done=[],
            verification="",
            chain_level=None,
        ),
        action_item_body(owner="payments", title="Investigate the pool size drop"),
        action_item_body(owner=None, title="Improve monitoring", committed=False),
    ]
    pm = make_postmortem(client, **fresh_incident(action_items=items))
    report = checks(client, pm["id"])
    assert triples(report) == {
        ("owner-is-person", "error", "action_items[1].owner"),
        ("due-date-present", "error", "action_items[1].due_date"),
        ("definition-of-done-present", "error", "action_items[1].definition_of_done"),
        ("verification-present", "error", "action_items[1].verification"),
        ("chain-level-missing", "info", "action_items[1].chain_level"),
        ("owner-is-person", "error", "action_items[2].owner"),
        # Read from wording, so a warning: only facts are errors.
        ("vague-wording", "warning", "action_items[2].title"),
    }
    assert report["counts"] == {"error": 5, "warning": 1, "info": 1}
    assert report["publishable"] is False
    severities = [f["severity"] for f in report["findings"]]
    assert severities == ["error"] * 5 + ["warning", "info"]
    team_owner = next(f for f in report["findings"] if f["path"] == "action_items[2].owner")
    assert "payments" in team_owner["message"]


def test_warnings_alone_leave_a_postmortem_publishable(client: TestClient) -> None:
    item = action_item_body(
        due_date=in_days(30),
        definition_of_done=["Pool size has a lower bound of 20", "Better dashboards"],
    )
    pm = make_postmortem(client, **fresh_incident(action_items=[item]))
    report = checks(client, pm["id"])
    assert triples(report) == {
        ("due-date-window", "warning", "action_items[0].due_date"),
        ("vague-wording", "warning", "action_items[0].definition_of_done[1]"),
    }
    assert report["counts"] == {"error": 0, "warning": 2, "info": 0}
    assert report["publishable"] is True


def test_due_window_counts_from_the_recorded_review(client: TestClient) -> None:
    review = datetime.now(UTC) - timedelta(minutes=5)
    due = (review.date() + timedelta(days=15)).isoformat()
    pm = make_postmortem(
        client,
        **fresh_incident(review_held_at=iso(review), action_items=[action_item_body(due_date=due)]),
    )
    [finding] = checks(client, pm["id"])["findings"]
    assert (finding["rule"], finding["path"]) == ("due-date-window", "action_items[0].due_date")
    assert "15 days after the review" in finding["message"]


def test_more_committed_items_than_allowed_is_an_error(client: TestClient) -> None:
    items = [action_item_body(title=f"Gate deploys on check {n}") for n in range(4)]
    items.append(action_item_body(title="Keep an eye on pool usage", committed=False))
    pm = make_postmortem(client, **fresh_incident(action_items=items))
    report = checks(client, pm["id"])
    assert triples(report) == {("max-committed-items", "error", "action_items")}
    assert "4 committed" in report["findings"][0]["message"]


def test_only_l5_fixes_for_a_higher_level_failure_is_a_warning(client: TestClient) -> None:
    pm = make_postmortem(
        client,
        **fresh_incident(
            chain_walk={"L2": {"contributed": "yes"}, "L5": {"contributed": "yes"}},
            action_items=[action_item_body(chain_level="L5")],
        ),
    )
    assert triples(checks(client, pm["id"])) == {("l5-only-fix", "warning", "action_items")}

    item_id = items_of(client, pm["id"])[0]["id"]
    response = client.patch(f"/v1/action-items/{item_id}", json={"chain_level": "L2"})
    assert response.status_code == 200, response.text
    assert checks(client, pm["id"])["findings"] == []


def test_blaming_conditions_and_items_are_warnings(client: TestClient) -> None:
    conditions = [
        {"category": "process", "description": "Alice forgot the canary step"},
        {"category": "process", "description": "Human error during the config push"},
        {"category": "timing", "description": "Bob Oncall should have rolled back sooner"},
        {"category": "technical", "description": "Alice rolled back once the diff was found"},
        {"category": "technical", "description": "Mallory forgot the canary step"},
        {"category": "technical", "description": "The runbook Alice followed had no rollback step"},
        {
            "category": "technical",
            "description": "Rather than human error, the tooling allowed a force-push to main",
        },
    ]
    items = [action_item_body(description="Alice will be more vigilant during pushes")]
    pm = make_postmortem(
        client,
        **fresh_incident(
            conditions=conditions,
            action_items=items,
            links=[{"kind": "runbook", "url": "https://wiki.example.com/rb"}],
        ),
    )
    report = checks(client, pm["id"])
    # Alice is registered and Bob Oncall a responder: as subjects they are blamed; only people
    # forget, so Mallory too. Alice as the runbook's reader and a negated "human error" are not.
    assert triples(report) == {
        ("blame-wording", "warning", "conditions[0].description"),
        ("blame-wording", "warning", "conditions[1].description"),
        ("blame-wording", "warning", "conditions[2].description"),
        ("blame-wording", "warning", "conditions[3].description"),
        ("blame-wording", "warning", "conditions[4].description"),
        ("blame-wording", "warning", "action_items[0].description"),
    }
    assert report["publishable"] is True
    assert "Alice forgot" in next(
        f["message"] for f in report["findings"] if f["path"] == "conditions[0].description"
    )


def test_timeline_authors_are_people_and_roles_are_not(client: TestClient) -> None:
    timeline = [
        {
            "at": iso(datetime.now(UTC) - timedelta(minutes=50)),
            "author": "dana",
            "kind": "action",
            "text": "pushing the migration",
        },
        {
            "at": iso(datetime.now(UTC) - timedelta(minutes=45)),
            "author": "alertmanager",
            "kind": "alert",
            "text": "5xx > 5%",
        },
    ]
    decision_points = [
        {
            "at": iso(datetime.now(UTC) - timedelta(minutes=40)),
            "responder": "the on-call",
            "decision_kind": "rollback",
            "knew": "A migration had gone out",
            "unsure_of": "Which migration was live",
            "would_have_helped": "The schema version on the deploy page",
        }
    ]
    conditions = [
        {"category": "process", "description": "Dana pushed the change without testing it"},
        {
            "category": "knowledge",
            "description": "The on-call didn't know which migration was live because the deploy page shows no schema version",
        },
    ]
    items = [
        action_item_body(
            title="Add a schema-version banner to the deploy page because the on-call didn't know which migration was live"
        )
    ]
    pm = make_postmortem(
        client,
        **fresh_incident(
            timeline=timeline,
            decision_points=decision_points,
            conditions=conditions,
            action_items=items,
        ),
    )
    assert triples(checks(client, pm["id"])) == {
        ("blame-wording", "warning", "conditions[0].description")
    }


def test_a_registered_placeholder_person_is_no_owner(client: TestClient) -> None:
    make_person(client, "nobody", display_name="Nobody")
    pm = make_postmortem(client, **fresh_incident(action_items=[action_item_body(owner="nobody")]))
    report = checks(client, pm["id"])
    assert triples(report) == {("owner-is-person", "error", "action_items[0].owner")}
    assert "Nobody" in report["findings"][0]["message"]
    assert client.post(f"/v1/postmortems/{pm['id']}/publish").status_code == 409


def test_placeholders_are_no_definition_of_done_or_verification(client: TestClient) -> None:
    item = action_item_body(definition_of_done=["n/a"], verification="later")
    pm = make_postmortem(client, **fresh_incident(action_items=[item]))
    assert triples(checks(client, pm["id"])) == {
        ("definition-of-done-present", "error", "action_items[0].definition_of_done"),
        ("verification-present", "error", "action_items[0].verification"),
    }


def test_a_due_date_already_past_is_an_error(client: TestClient) -> None:
    pm = make_postmortem(
        client, **fresh_incident(action_items=[action_item_body(due_date=in_days(-2))])
    )
    assert triples(checks(client, pm["id"])) == {
        ("due-date-past", "error", "action_items[0].due_date")
    }


def test_publishing_with_no_committed_item_is_refused(client: TestClient) -> None:
    items = [action_item_body(title="Keep an eye on pool usage", committed=False)]
    pm = make_postmortem(client, **fresh_incident(action_items=items))
    assert triples(checks(client, pm["id"])) == {
        ("committed-item-present", "error", "action_items")
    }
    response = client.post(f"/v1/postmortems/{pm['id']}/publish")
    assert response.status_code == 409, response.text
    assert status_of(client, pm["id"]) == "draft"


def test_a_fix_below_the_walked_levels_and_one_without_a_level_are_warnings(
    client: TestClient,
) -> None:
    items = [
        action_item_body(chain_level="L4"),
        action_item_body(title="Set a pool floor of 20", chain_level=None),
    ]
    walk = {"L3": {"contributed": "yes"}, "L4": {"contributed": "no"}}
    pm = make_postmortem(client, **fresh_incident(chain_walk=walk, action_items=items))
    assert triples(checks(client, pm["id"])) == {
        ("chain-level-below", "warning", "action_items[0].chain_level"),
        ("chain-level-missing", "warning", "action_items[1].chain_level"),
    }


def test_a_decision_point_without_answers_is_a_warning(client: TestClient) -> None:
    points = [
        {
            "at": iso(datetime.now(UTC) - timedelta(minutes=40)),
            "responder": "Bob Oncall",
            "decision_kind": "rollback",
        }
    ]
    pm = make_postmortem(client, **fresh_incident(decision_points=points))
    assert triples(checks(client, pm["id"])) == {
        ("decision-point-answers", "warning", "decision_points[0]")
    }


def test_a_runbook_named_but_not_linked_is_a_warning(client: TestClient) -> None:
    conditions = [
        {"category": "process", "description": "The failover runbook has no step for the replica"},
        {"category": "technical", "description": "Pool size had no lower bound"},
    ]
    pm = make_postmortem(client, **fresh_incident(conditions=conditions))
    [finding] = checks(client, pm["id"])["findings"]
    assert (finding["rule"], finding["path"]) == ("runbook-link", "links")
    assert "update the runbook before closing" in finding["message"]
    response = client.patch(
        f"/v1/postmortems/{pm['id']}",
        json={"links": [{"kind": "runbook", "url": "https://wiki.example.com/failover"}]},
    )
    assert response.status_code == 200, response.text
    assert checks(client, pm["id"])["findings"] == []


def test_review_held_too_late_is_a_warning(client: TestClient) -> None:
    resolved = datetime.now(UTC) - timedelta(hours=100)
    incident = {
        "started_at": iso(resolved - timedelta(hours=1)),
        "detected_at": None,
        "mitigated_at": None,
        "resolved_at": iso(resolved),
    }
    on_time = make_postmortem(
        client, **incident, review_held_at=iso(resolved + timedelta(hours=72))
    )
    assert rule_findings(checks(client, on_time["id"]), "review-lag") == set()
    late = make_postmortem(client, **incident, review_held_at=iso(resolved + timedelta(hours=73)))
    [finding] = [f for f in checks(client, late["id"])["findings"] if f["rule"] == "review-lag"]
    assert (finding["severity"], finding["path"]) == ("warning", "review_held_at")
    assert "73 h" in finding["message"]


def test_review_not_held_long_after_resolution_is_a_warning(client: TestClient) -> None:
    resolved = datetime.now(UTC) - timedelta(hours=80)
    pm = make_postmortem(
        client,
        started_at=iso(resolved - timedelta(hours=1)),
        detected_at=None,
        mitigated_at=None,
        resolved_at=iso(resolved),
        timeline=[],
    )
    assert rule_findings(checks(client, pm["id"]), "review-lag") == {
        ("review-lag", "warning", "review_held_at")
    }


def test_review_lag_without_resolution_time_is_info(client: TestClient) -> None:
    pm = make_postmortem(client, **fresh_incident(mitigated_at=None, resolved_at=None))
    report = checks(client, pm["id"])
    assert triples(report) == {("review-lag", "info", "resolved_at")}
    assert report["publishable"] is True


def test_timeline_written_after_resolution_is_reported_as_reconstructed(client: TestClient) -> None:
    # The incident was resolved long ago; every entry is recorded now, after the fact.
    resolved = datetime.now(UTC) - timedelta(hours=5)
    pm = make_postmortem(
        client,
        **fresh_incident(
            started_at=iso(resolved - timedelta(hours=1)),
            detected_at=None,
            mitigated_at=None,
            resolved_at=iso(resolved),
        ),
    )
    assert triples(checks(client, pm["id"])) == {("timeline-reconstructed", "warning", "timeline")}


def test_timeline_written_during_the_incident_is_not_reconstructed(client: TestClient) -> None:
    pm = make_postmortem(client, **fresh_incident())
    for minute in (5, 10):
        response = client.post(
            f"/v1/postmortems/{pm['id']}/timeline",
            json={
                "at": iso(datetime.now(UTC) - timedelta(minutes=60 - minute)),
                "author": "alice",
                "kind": "hypothesis",
                "text": "Maybe the pool config?",
            },
        )
        assert response.status_code == 201, response.text
    assert rule_findings(checks(client, pm["id"]), "timeline-reconstructed") == set()


def test_empty_timeline_is_a_warning(client: TestClient) -> None:
    pm = make_postmortem(client, **fresh_incident(timeline=[]))
    assert triples(checks(client, pm["id"])) == {("timeline-reconstructed", "warning", "timeline")}


@pytest.mark.parametrize("count", [0, 1])
def test_fewer_than_two_conditions_is_a_warning(client: TestClient, count: int) -> None:
    conditions = [{"category": "technical", "description": "Pool size had no lower bound"}]
    pm = make_postmortem(client, **fresh_incident(conditions=conditions[:count]))
    assert triples(checks(client, pm["id"])) == {("single-condition", "warning", "conditions")}


def test_sev1_without_responder_timeline_is_a_warning(client: TestClient) -> None:
    pm = make_postmortem(client, **fresh_incident(severity="SEV1", decision_points=[]))
    assert triples(checks(client, pm["id"])) == {
        ("responder-timeline", "warning", "decision_points")
    }


def test_sev3_needs_no_responder_timeline(client: TestClient) -> None:
    pm = make_postmortem(client, **fresh_incident(severity="SEV3", decision_points=[]))
    assert checks(client, pm["id"])["findings"] == []


# Publishing


def test_publish_is_refused_with_the_error_findings_and_changes_nothing(client: TestClient) -> None:
    items = [
        action_item_body(),
        action_item_body(owner=None, title="Set a lower bound of 20 on the pool size"),
        action_item_body(title="Keep an eye on pool usage", committed=False),
    ]
    pm = make_postmortem(client, **fresh_incident(action_items=items, timeline=[]))
    report = checks(client, pm["id"])
    errors = [f for f in report["findings"] if f["severity"] == "error"]
    assert [f["path"] for f in errors] == ["action_items[1].owner"]
    assert report["counts"]["warning"] == 1  # the empty timeline, which does not block

    response = client.post(f"/v1/postmortems/{pm['id']}/publish")
    assert response.status_code == 409, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    problem = response.json()
    assert problem["status"] == 409
    assert problem["findings"] == errors
    assert [e["path"] for e in problem["errors"]] == ["action_items[1].owner"]
    assert "[owner-is-person]" in problem["errors"][0]["message"]

    assert status_of(client, pm["id"]) == "draft"
    assert [i["status"] for i in items_of(client, pm["id"])] == ["draft", "draft", "draft"]


def test_publish_after_fixing_opens_committed_items_only(client: TestClient) -> None:
    items = [
        action_item_body(),
        action_item_body(owner=None, title="Set a lower bound of 20 on the pool size"),
        action_item_body(title="Keep an eye on pool usage", committed=False),
    ]
    pm = make_postmortem(client, **fresh_incident(action_items=items))
    assert client.post(f"/v1/postmortems/{pm['id']}/publish").status_code == 409

    unowned = items_of(client, pm["id"])[1]
    response = client.patch(f"/v1/action-items/{unowned['id']}", json={"owner": "alice"})
    assert response.status_code == 200, response.text
    assert checks(client, pm["id"])["publishable"] is True

    published = post_ok(client, f"/v1/postmortems/{pm['id']}/publish")
    assert published["status"] == "published"
    assert published["published_at"] is not None
    after = items_of(client, pm["id"])
    assert [(i["committed"], i["status"]) for i in after] == [
        (True, "open"),
        (True, "open"),
        (False, "draft"),
    ]


def test_published_postmortem_cannot_be_published_again(client: TestClient) -> None:
    pm = make_postmortem(client, **fresh_incident())
    post_ok(client, f"/v1/postmortems/{pm['id']}/publish")
    response = client.post(f"/v1/postmortems/{pm['id']}/publish")
    assert response.status_code == 409
    assert response.headers["content-type"].startswith(PROBLEM_JSON)


def test_postmortem_is_complete_only_when_every_committed_item_is_verified(
    client: TestClient,
) -> None:
    items = [
        action_item_body(title="Gate deploys on the canary's 5xx rate"),
        action_item_body(title="Set a lower bound of 20 on the pool size"),
        action_item_body(title="Keep an eye on pool usage", committed=False),
    ]
    pm = make_postmortem(client, **fresh_incident(action_items=items))
    post_ok(client, f"/v1/postmortems/{pm['id']}/publish")
    first, second, _aware = (i["id"] for i in items_of(client, pm["id"]))
    evidence = {"evidence": "Game day on staging: the gate stopped the failing build"}

    post_ok(client, f"/v1/action-items/{first}/close")
    post_ok(client, f"/v1/action-items/{first}/verify", evidence)
    assert status_of(client, pm["id"]) == "published"

    post_ok(client, f"/v1/action-items/{second}/close")
    assert status_of(client, pm["id"]) == "published"  # closed is not verified

    post_ok(client, f"/v1/action-items/{second}/verify", evidence)
    complete = client.get(f"/v1/postmortems/{pm['id']}").json()
    assert complete["status"] == "complete"
    assert complete["completed_at"] is not None

    post_ok(client, f"/v1/action-items/{first}/reopen", {"reason": "The gate let a bad build by"})
    reopened = client.get(f"/v1/postmortems/{pm['id']}").json()
    assert reopened["status"] == "published"
    assert reopened["completed_at"] is None


# Policy


def test_a_stricter_maximum_makes_a_two_item_postmortem_unpublishable(
    client: TestClient, policy_client: Callable[[CheckPolicy], TestClient]
) -> None:
    items = [action_item_body(title=f"Gate deploys on check {n}") for n in range(2)]
    pm = make_postmortem(client, **fresh_incident(action_items=items))
    assert checks(client, pm["id"])["publishable"] is True

    strict = policy_client(CheckPolicy(max_committed_items=1))
    report = checks(strict, pm["id"])
    assert triples(report) == {("max-committed-items", "error", "action_items")}
    assert report["publishable"] is False
    response = strict.post(f"/v1/postmortems/{pm['id']}/publish")
    assert response.status_code == 409, response.text
    assert [f["rule"] for f in response.json()["findings"]] == ["max-committed-items"]
    assert status_of(client, pm["id"]) == "draft"


def test_a_disabled_rule_is_no_longer_reported(
    client: TestClient, policy_client: Callable[[CheckPolicy], TestClient]
) -> None:
    pm = make_postmortem(client, **fresh_incident(severity="SEV1", decision_points=[]))
    assert rule_findings(checks(client, pm["id"]), "responder-timeline")

    relaxed = policy_client(CheckPolicy(disabled_rules=["responder-timeline"]))
    assert checks(relaxed, pm["id"])["findings"] == []


def test_a_severity_override_can_make_a_warning_block_publishing(
    client: TestClient, policy_client: Callable[[CheckPolicy], TestClient]
) -> None:
    pm = make_postmortem(client, **fresh_incident(timeline=[]))
    strict = policy_client(CheckPolicy(severity_overrides={"timeline-reconstructed": "error"}))
    report = checks(strict, pm["id"])
    assert triples(report) == {("timeline-reconstructed", "error", "timeline")}
    assert report["counts"] == {"error": 1, "warning": 0, "info": 0}
    assert strict.post(f"/v1/postmortems/{pm['id']}/publish").status_code == 409
    post_ok(client, f"/v1/postmortems/{pm['id']}/publish")


# Not found and scopes


def test_checks_of_an_unknown_postmortem_is_404(client: TestClient) -> None:
    unknown = uuid.uuid4()
    for response in (
        client.get(f"/v1/postmortems/{unknown}/checks"),
        client.post(f"/v1/postmortems/{unknown}/publish"),
    ):
        assert response.status_code == 404, response.text
        assert response.headers["content-type"].startswith(PROBLEM_JSON)
        assert str(unknown) in response.json()["detail"]


def test_read_token_can_run_checks_but_cannot_publish(
    client: TestClient, app: FastAPI, make_token: Callable[..., str]
) -> None:
    pm = make_postmortem(client, **fresh_incident())
    headers = {"Authorization": f"Bearer {make_token(Scope.READ, 'dashboard')}"}
    with TestClient(app, headers=headers) as reader:
        assert checks(reader, pm["id"])["publishable"] is True
        response = reader.post(f"/v1/postmortems/{pm['id']}/publish")
    assert response.status_code == 403, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    assert status_of(client, pm["id"]) == "draft"
