"""The incident timeline (server-stamped, versioned, never deleted) and the responder timeline
(decision points measured from the first alert)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.settings import Settings
from tests.factories import INCIDENT_START, iso, make_postmortem, postmortem_body
from tests.problems import MISSING, error_paths, problem


def when(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def entry(minutes: float, text: str = "5xx rising", kind: str = "observation") -> dict[str, Any]:
    return {
        "at": iso(INCIDENT_START + timedelta(minutes=minutes)),
        "author": "Bob",
        "kind": kind,
        "text": text,
    }


def point(minutes: float, kind: str = "rollback", **fields: Any) -> dict[str, Any]:
    return {
        "at": iso(INCIDENT_START + timedelta(minutes=minutes)),
        "responder": "Bob",
        "decision_kind": kind,
        **fields,
    }


def bare_postmortem(client: TestClient, **overrides: Any) -> dict[str, Any]:
    """A postmortem with no timeline, decision points or action items of its own."""
    return make_postmortem(
        client, **{"action_items": [], "timeline": [], "decision_points": [], **overrides}
    )


def add(client: TestClient, pm_id: str, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(f"/v1/postmortems/{pm_id}/timeline", json=body)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def texts(client: TestClient, pm_id: str) -> list[str]:
    response = client.get(f"/v1/postmortems/{pm_id}/timeline")
    assert response.status_code == 200, response.text
    return [e["text"] for e in response.json()["items"]]


# --- authentication -------------------------------------------------------------------------


def _endpoints(pm_id: str, entry_id: str, point_id: str) -> list[tuple[str, str, Any]]:
    base = f"/v1/postmortems/{pm_id}"
    return [
        ("GET", f"{base}/timeline", None),
        ("POST", f"{base}/timeline", entry(1)),
        ("GET", f"{base}/timeline/{entry_id}", None),
        ("PATCH", f"{base}/timeline/{entry_id}", {"text": "changed"}),
        ("GET", f"{base}/timeline/{entry_id}/history", None),
        ("GET", f"{base}/decision-points", None),
        ("POST", f"{base}/decision-points", point(10)),
        ("PATCH", f"{base}/decision-points/{point_id}", {"responder": "Eve"}),
        ("DELETE", f"{base}/decision-points/{point_id}", None),
    ]


def test_timeline_endpoints_refuse_a_missing_token(
    client: TestClient, anon_client: TestClient
) -> None:
    pm = make_postmortem(client, action_items=[])
    endpoints = _endpoints(pm["id"], pm["timeline"][0]["id"], pm["decision_points"][0]["id"])
    for method, path, body in endpoints:
        problem(anon_client.request(method, path, json=body), 401)
    assert texts(client, pm["id"]) == [pm["timeline"][0]["text"]]


def test_a_read_token_reads_the_timeline_but_cannot_change_it(
    client: TestClient, app: FastAPI, make_token: Callable[..., str]
) -> None:
    pm = make_postmortem(client, action_items=[])
    endpoints = _endpoints(pm["id"], pm["timeline"][0]["id"], pm["decision_points"][0]["id"])
    with TestClient(app, headers={"Authorization": f"Bearer {make_token('read')}"}) as reader:
        for method, path, body in endpoints:
            response = reader.request(method, path, json=body)
            if method == "GET":
                assert response.status_code == 200, (path, response.text)
            else:
                problem(response, 403)
    after = client.get(f"/v1/postmortems/{pm['id']}").json()
    assert after["timeline"] == pm["timeline"]
    assert after["decision_points"] == pm["decision_points"]


# --- timeline entries -----------------------------------------------------------------------


def test_an_added_entry_is_stamped_by_the_server(client: TestClient) -> None:
    pm = bare_postmortem(client)
    before = datetime.now(UTC)
    created = add(client, pm["id"], entry(5, "paged the on-call", "action"))
    after = datetime.now(UTC)
    assert before - timedelta(seconds=1) <= when(created["recorded_at"]) <= after
    assert (created["version"], created["kind"], created["author"]) == (1, "action", "Bob")
    assert when(created["at"]) == INCIDENT_START + timedelta(minutes=5)
    fetched = client.get(f"/v1/postmortems/{pm['id']}/timeline/{created['id']}")
    assert fetched.status_code == 200
    assert when(fetched.json()["recorded_at"]) == when(created["recorded_at"])


@pytest.mark.parametrize("field", ["recorded_at", "updated_at", "version", "id", "source"])
def test_a_client_cannot_set_server_fields_on_an_entry(client: TestClient, field: str) -> None:
    pm = bare_postmortem(client)
    value: Any = 7 if field == "version" else iso(INCIDENT_START)
    if field == "id":
        value = MISSING
    url = f"/v1/postmortems/{pm['id']}/timeline"
    assert error_paths(client.post(url, json={**entry(5), field: value})) == [f"body.{field}"]
    assert texts(client, pm["id"]) == []
    created = add(client, pm["id"], entry(5))
    refused = client.patch(f"{url}/{created['id']}", json={field: value})
    assert error_paths(refused) == [f"body.{field}"]
    assert client.get(f"{url}/{created['id']}").json() == created


def test_an_entry_keeps_the_time_it_was_written(client: TestClient) -> None:
    pm = bare_postmortem(client)
    written = INCIDENT_START + timedelta(minutes=6, seconds=30)
    created = add(client, pm["id"], {**entry(5, "paged the on-call"), "written_at": iso(written)})
    assert when(created["written_at"]) == written
    assert created["source"] == "api"
    assert when(created["recorded_at"]) > written
    fetched = client.get(f"/v1/postmortems/{pm['id']}/timeline/{created['id']}").json()
    assert when(fetched["written_at"]) == written
    listed = client.get(f"/v1/postmortems/{pm['id']}/timeline").json()["items"]
    assert [when(e["written_at"]) for e in listed] == [written]


def test_an_entry_without_a_written_time_reads_null(client: TestClient) -> None:
    pm = bare_postmortem(client)
    created = add(client, pm["id"], entry(5))
    assert created["written_at"] is None
    assert created["source"] == "api"


def test_the_create_body_timeline_takes_written_times(client: TestClient) -> None:
    written = INCIDENT_START + timedelta(minutes=7)
    pm = bare_postmortem(
        client, timeline=[{**entry(5, "with"), "written_at": iso(written)}, entry(6, "without")]
    )
    assert [(e["text"], e["written_at"] and when(e["written_at"])) for e in pm["timeline"]] == [
        ("with", written),
        ("without", None),
    ]


@pytest.mark.parametrize(
    "ahead",
    # Taken from the clock when the test runs, not when it is collected: a long run must not
    # turn "five minutes ahead" into the past.
    [timedelta(minutes=5), datetime(2999, 1, 1, tzinfo=UTC) - datetime.now(UTC)],
    # Fixed ids: parallel workers must collect the same tests.
    ids=["minutes-ahead", "far-future"],
)
def test_an_entry_cannot_be_written_after_it_reached_the_service(
    client: TestClient, ahead: timedelta
) -> None:
    written_at = iso(datetime.now(UTC) + ahead)
    pm = bare_postmortem(client)
    response = client.post(
        f"/v1/postmortems/{pm['id']}/timeline", json={**entry(5), "written_at": written_at}
    )
    assert error_paths(response) == ["body.written_at"]
    message = problem(response, 422)["errors"][0]["message"]
    assert "later than the entry reached the service" in message
    assert texts(client, pm["id"]) == []
    nested = client.post(
        "/v1/postmortems",
        json=postmortem_body(timeline=[entry(5), {**entry(6), "written_at": written_at}]),
    )
    assert error_paths(nested) == ["body.timeline[1].written_at"]


@pytest.mark.parametrize("written_at", ["2026-11-02T09:05:00", "yesterday", ""])
def test_a_written_time_must_be_a_time_with_a_zone(client: TestClient, written_at: Any) -> None:
    pm = bare_postmortem(client)
    response = client.post(
        f"/v1/postmortems/{pm['id']}/timeline", json={**entry(5), "written_at": written_at}
    )
    assert error_paths(response) == ["body.written_at"]
    assert texts(client, pm["id"]) == []


def test_the_written_time_cannot_be_edited(client: TestClient) -> None:
    pm = bare_postmortem(client)
    written = INCIDENT_START + timedelta(minutes=6)
    created = add(client, pm["id"], {**entry(5), "written_at": iso(written)})
    url = f"/v1/postmortems/{pm['id']}/timeline/{created['id']}"
    refused = client.patch(url, json={"written_at": iso(INCIDENT_START)})
    assert error_paths(refused) == ["body.written_at"]
    edited = client.patch(url, json={"text": "tidied up"}).json()
    assert (edited["version"], when(edited["written_at"])) == (2, written)


def test_the_first_version_in_the_history_was_written_at_the_written_time(
    client: TestClient,
) -> None:
    pm = bare_postmortem(client)
    written = INCIDENT_START + timedelta(minutes=6)
    created = add(client, pm["id"], {**entry(5, "probably DNS"), "written_at": iso(written)})
    url = f"/v1/postmortems/{pm['id']}/timeline/{created['id']}"
    assert [when(v["written_at"]) for v in client.get(f"{url}/history").json()["versions"]] == [
        written
    ]
    client.patch(url, json={"text": "not DNS"})
    versions = client.get(f"{url}/history").json()["versions"]
    assert [(v["text"], v["version"]) for v in versions] == [("probably DNS", 1), ("not DNS", 2)]
    assert when(versions[0]["written_at"]) == written
    assert when(versions[1]["written_at"]) > when(created["recorded_at"])


@pytest.mark.parametrize(
    ("overrides", "path"),
    [
        ({"kind": "rumour"}, "body.kind"),
        ({"at": "2026-11-02T09:05:00"}, "body.at"),
        ({"at": "five past nine"}, "body.at"),
        ({"text": "   "}, "body.text"),
        ({"text": 12}, "body.text"),
        ({"author": ""}, "body.author"),
    ],
)
def test_an_invalid_entry_is_refused_naming_the_field(
    client: TestClient, overrides: dict[str, Any], path: str
) -> None:
    pm = bare_postmortem(client)
    response = client.post(f"/v1/postmortems/{pm['id']}/timeline", json={**entry(5), **overrides})
    assert error_paths(response) == [path]
    assert texts(client, pm["id"]) == []


def test_entries_are_listed_by_when_they_happened_not_when_written(client: TestClient) -> None:
    pm = bare_postmortem(client)
    for minutes, text in [(30, "rolled back"), (4, "alert fired"), (12, "suspected DNS")]:
        add(client, pm["id"], entry(minutes, text))
    add(client, pm["id"], entry(12, "second note at twelve"))
    assert texts(client, pm["id"]) == [
        "alert fired",
        "suspected DNS",
        "second note at twelve",
        "rolled back",
    ]
    detail = client.get(f"/v1/postmortems/{pm['id']}").json()
    assert [e["text"] for e in detail["timeline"]] == texts(client, pm["id"])


def test_moving_an_entry_in_time_moves_it_in_the_list(client: TestClient) -> None:
    pm = bare_postmortem(client)
    early = add(client, pm["id"], entry(4, "first"))
    add(client, pm["id"], entry(10, "second"))
    client.patch(
        f"/v1/postmortems/{pm['id']}/timeline/{early['id']}",
        json={"at": iso(INCIDENT_START + timedelta(minutes=20))},
    )
    assert texts(client, pm["id"]) == ["second", "first"]


def test_an_edit_keeps_every_prior_version_oldest_first(client: TestClient) -> None:
    pm = bare_postmortem(client)
    created = add(client, pm["id"], entry(5, "probably DNS", "hypothesis"))
    url = f"/v1/postmortems/{pm['id']}/timeline/{created['id']}"
    edits = [
        {"text": "not DNS: the pool size"},
        {"kind": "observation"},
        {"at": iso(INCIDENT_START + timedelta(minutes=6)), "author": "Carol"},
    ]
    for number, change in enumerate(edits, start=2):
        response = client.patch(url, json=change)
        assert response.status_code == 200, response.text
        assert response.json()["version"] == number

    history = client.get(f"{url}/history")
    assert history.status_code == 200
    assert history.json()["entry_id"] == created["id"]
    versions = history.json()["versions"]
    assert [(v["version"], v["kind"], v["author"], v["text"]) for v in versions] == [
        (1, "hypothesis", "Bob", "probably DNS"),
        (2, "hypothesis", "Bob", "not DNS: the pool size"),
        (3, "observation", "Bob", "not DNS: the pool size"),
        (4, "observation", "Carol", "not DNS: the pool size"),
    ]
    assert when(versions[0]["at"]) == INCIDENT_START + timedelta(minutes=5)
    assert all(v["replaced_by"] == "token:admin-tests" for v in versions[:-1])
    assert all(v["replaced_at"] is not None for v in versions[:-1])
    written = [when(v["written_at"]) for v in versions]
    assert written == sorted(written)
    first_written = when(versions[0]["written_at"]) - when(created["recorded_at"])
    assert timedelta(0) <= first_written < timedelta(seconds=1)

    current = client.get(url).json()
    last = versions[-1]
    assert (last["replaced_at"], last["replaced_by"]) == (None, None)
    assert (last["version"], last["text"], last["kind"], last["author"]) == (
        current["version"],
        current["text"],
        current["kind"],
        current["author"],
    )
    assert when(last["at"]) == when(current["at"])
    # Editing does not move the time the entry was first written.
    assert when(current["recorded_at"]) == when(created["recorded_at"])


def test_the_history_names_whoever_replaced_each_version(
    client: TestClient, app: FastAPI, make_token: Callable[..., str]
) -> None:
    pm = bare_postmortem(client)
    created = add(client, pm["id"], entry(5, "first guess"))
    url = f"/v1/postmortems/{pm['id']}/timeline/{created['id']}"
    token = make_token("write", "carol-laptop")
    with TestClient(app, headers={"Authorization": f"Bearer {token}"}) as carol:
        assert carol.patch(url, json={"text": "second guess"}).status_code == 200
    client.patch(url, json={"text": "third guess"})
    versions = client.get(f"{url}/history").json()["versions"]
    assert [v["replaced_by"] for v in versions] == [
        "token:carol-laptop",
        "token:admin-tests",
        None,
    ]


def test_an_entry_never_edited_has_a_history_of_one(client: TestClient) -> None:
    pm = bare_postmortem(client)
    created = add(client, pm["id"], entry(5, "as written"))
    url = f"/v1/postmortems/{pm['id']}/timeline/{created['id']}/history"
    versions = client.get(url).json()["versions"]
    assert [(v["version"], v["text"], v["replaced_at"]) for v in versions] == [
        (1, "as written", None)
    ]


@pytest.mark.parametrize(
    "change",
    [
        {},
        {"text": "5xx rising"},
        {"kind": "observation", "author": "Bob"},
        {"at": "2026-11-02T10:05:00+01:00"},
    ],
)
def test_a_patch_that_changes_nothing_creates_no_version(
    client: TestClient, change: dict[str, Any]
) -> None:
    pm = bare_postmortem(client)
    created = add(client, pm["id"], entry(5, "5xx rising"))
    url = f"/v1/postmortems/{pm['id']}/timeline/{created['id']}"
    response = client.patch(url, json=change)
    assert response.status_code == 200, response.text
    assert response.json()["version"] == 1
    assert len(client.get(f"{url}/history").json()["versions"]) == 1
    assert client.get(url).json()["version"] == 1


def test_an_invalid_edit_changes_nothing(client: TestClient) -> None:
    pm = bare_postmortem(client)
    created = add(client, pm["id"], entry(5))
    url = f"/v1/postmortems/{pm['id']}/timeline/{created['id']}"
    assert error_paths(client.patch(url, json={"kind": "rumour"})) == ["body.kind"]
    assert error_paths(client.patch(url, json={"at": "2026-11-02T09:06:00"})) == ["body.at"]
    assert error_paths(client.patch(url, json={"text": ""})) == ["body.text"]
    assert len(client.get(f"{url}/history").json()["versions"]) == 1


def test_an_entry_of_another_postmortem_is_not_found(client: TestClient) -> None:
    owner = bare_postmortem(client)
    other = bare_postmortem(client)
    created = add(client, owner["id"], entry(5, "belongs to the owner"))
    wrong = f"/v1/postmortems/{other['id']}/timeline/{created['id']}"
    problem(client.get(wrong), 404)
    problem(client.patch(wrong, json={"text": "hijacked"}), 404)
    problem(client.get(f"{wrong}/history"), 404)
    right = client.get(f"/v1/postmortems/{owner['id']}/timeline/{created['id']}").json()
    assert (right["text"], right["version"]) == ("belongs to the owner", 1)
    assert texts(client, other["id"]) == []


def test_unknown_postmortems_and_entries_are_404_problems(client: TestClient) -> None:
    pm = bare_postmortem(client)
    problem(client.get(f"/v1/postmortems/{MISSING}/timeline"), 404)
    problem(client.post(f"/v1/postmortems/{MISSING}/timeline", json=entry(5)), 404)
    missing_entry = f"/v1/postmortems/{pm['id']}/timeline/{MISSING}"
    problem(client.get(missing_entry), 404)
    problem(client.patch(missing_entry, json={"text": "x"}), 404)
    problem(client.get(f"{missing_entry}/history"), 404)
    assert error_paths(client.get(f"/v1/postmortems/{pm['id']}/timeline/nope")) == ["path.entry_id"]


def test_timeline_entries_cannot_be_deleted(client: TestClient) -> None:
    pm = bare_postmortem(client)
    created = add(client, pm["id"], entry(5, "keep me"))
    response = client.delete(f"/v1/postmortems/{pm['id']}/timeline/{created['id']}")
    problem(response, 405)
    assert texts(client, pm["id"]) == ["keep me"]


def _resolved(minutes_ago: float) -> dict[str, str]:
    """Incident times that end `minutes_ago` minutes before now."""
    resolved = datetime.now(UTC) - timedelta(minutes=minutes_ago)
    return {
        "started_at": iso(resolved - timedelta(hours=1)),
        "detected_at": iso(resolved - timedelta(minutes=50)),
        "mitigated_at": iso(resolved - timedelta(minutes=10)),
        "resolved_at": iso(resolved),
    }


def test_an_entry_written_within_the_grace_after_resolution_counts_as_during(
    client: TestClient, settings: Settings
) -> None:
    grace = settings.checks.reconstructed_grace_minutes
    pm = bare_postmortem(client, **_resolved(minutes_ago=max(grace - 1, 0)))
    assert add(client, pm["id"], entry(5))["written_during_incident"] is True


def test_an_entry_written_after_the_grace_counts_as_reconstructed(
    client: TestClient, settings: Settings
) -> None:
    grace = settings.checks.reconstructed_grace_minutes
    pm = bare_postmortem(client, **_resolved(minutes_ago=grace + 1))
    created = add(client, pm["id"], entry(5))
    assert created["written_during_incident"] is False
    listed = client.get(f"/v1/postmortems/{pm['id']}/timeline").json()["items"]
    assert [e["written_during_incident"] for e in listed] == [False]


def test_an_entry_sent_late_but_written_during_the_incident_counts_as_during(
    client: TestClient, settings: Settings
) -> None:
    grace = settings.checks.reconstructed_grace_minutes
    times = _resolved(minutes_ago=grace + 24 * 60)
    written = when(times["resolved_at"]) - timedelta(minutes=5)
    pm = bare_postmortem(client, **times)
    created = add(client, pm["id"], {**entry(5), "written_at": iso(written)})
    assert created["written_during_incident"] is True
    after = when(times["resolved_at"]) + timedelta(minutes=grace + 1)
    late = add(client, pm["id"], {**entry(6), "written_at": iso(after)})
    assert late["written_during_incident"] is False


def test_an_entry_of_an_unresolved_incident_is_neither_during_nor_after(
    client: TestClient,
) -> None:
    pm = bare_postmortem(client, resolved_at=None)
    assert add(client, pm["id"], entry(5))["written_during_incident"] is None


def test_during_or_after_follows_later_changes_to_the_resolution_time(
    client: TestClient,
) -> None:
    pm = bare_postmortem(client, resolved_at=None)
    created = add(client, pm["id"], entry(5))
    url = f"/v1/postmortems/{pm['id']}/timeline/{created['id']}"
    # Resolved long before the entry was written: reconstructed.
    client.patch(f"/v1/postmortems/{pm['id']}", json={"resolved_at": pm["mitigated_at"]})
    assert client.get(url).json()["written_during_incident"] is False
    # Resolved after the entry was written: written during the incident.
    later = iso(datetime.now(UTC) + timedelta(hours=1))
    client.patch(f"/v1/postmortems/{pm['id']}", json={"resolved_at": later})
    assert client.get(url).json()["written_during_incident"] is True
    detail = client.get(f"/v1/postmortems/{pm['id']}").json()
    assert [e["written_during_incident"] for e in detail["timeline"]] == [True]


# --- decision points ------------------------------------------------------------------------


def test_decision_points_can_be_added_listed_changed_and_removed(client: TestClient) -> None:
    pm = bare_postmortem(client)
    url = f"/v1/postmortems/{pm['id']}/decision-points"
    late = client.post(
        url,
        json=point(
            25,
            "customer_communication",
            decision="Posted a status page update",
            knew="checkout was failing",
            unsure_of="how many users",
            would_have_helped="a live error-rate panel",
        ),
    )
    early = client.post(url, json=point(8, "escalation"))
    assert late.status_code == early.status_code == 201, (late.text, early.text)
    body = late.json()
    assert (body["decision_kind"], body["decision"], body["knew"]) == (
        "customer_communication",
        "Posted a status page update",
        "checkout was failing",
    )
    assert (body["unsure_of"], body["would_have_helped"]) == (
        "how many users",
        "a live error-rate panel",
    )
    assert body["postmortem_id"] == pm["id"]
    assert early.json()["decision"] == ""
    assert [p["id"] for p in client.get(url).json()["items"]] == [early.json()["id"], body["id"]]

    edited = client.patch(f"{url}/{body['id']}", json={"responder": "Eve", "knew": "more"})
    assert edited.status_code == 200, edited.text
    assert (edited.json()["responder"], edited.json()["knew"]) == ("Eve", "more")
    assert edited.json()["unsure_of"] == "how many users"
    assert edited.json()["decision_kind"] == "customer_communication"

    assert client.delete(f"{url}/{early.json()['id']}").status_code == 204
    assert [p["id"] for p in client.get(url).json()["items"]] == [body["id"]]
    problem(client.delete(f"{url}/{early.json()['id']}"), 404)
    problem(client.patch(f"{url}/{early.json()['id']}", json={"knew": "x"}), 404)


@pytest.mark.parametrize(
    ("body", "path"),
    [
        (point(10, "panic"), "body.decision_kind"),
        ({**point(10), "at": "2026-11-02T09:10:00"}, "body.at"),
        ({**point(10), "responder": "  "}, "body.responder"),
        ({**point(10), "minutes_since_alert": 3}, "body.minutes_since_alert"),
        ({"responder": "Bob", "decision_kind": "rollback"}, "body.at"),
    ],
)
def test_an_invalid_decision_point_is_refused_naming_the_field(
    client: TestClient, body: dict[str, Any], path: str
) -> None:
    pm = bare_postmortem(client)
    url = f"/v1/postmortems/{pm['id']}/decision-points"
    assert error_paths(client.post(url, json=body)) == [path]
    assert client.get(url).json()["items"] == []


def test_a_decision_point_of_another_postmortem_is_not_found(client: TestClient) -> None:
    owner = bare_postmortem(client)
    other = bare_postmortem(client)
    created = client.post(f"/v1/postmortems/{owner['id']}/decision-points", json=point(10)).json()
    wrong = f"/v1/postmortems/{other['id']}/decision-points/{created['id']}"
    problem(client.patch(wrong, json={"responder": "Mallory"}), 404)
    problem(client.delete(wrong), 404)
    kept = client.get(f"/v1/postmortems/{owner['id']}/decision-points").json()["items"]
    assert [(p["id"], p["responder"]) for p in kept] == [(created["id"], "Bob")]
    problem(client.get(f"/v1/postmortems/{MISSING}/decision-points"), 404)
    problem(client.post(f"/v1/postmortems/{MISSING}/decision-points", json=point(10)), 404)


def test_minutes_since_alert_counts_from_the_earliest_alert_entry(client: TestClient) -> None:
    pm = bare_postmortem(
        client,
        timeline=[
            entry(9, "error budget alert", "alert"),
            entry(7, "latency alert", "alert"),
            entry(2, "deploy went out", "action"),
        ],
    )
    url = f"/v1/postmortems/{pm['id']}/decision-points"
    created = client.post(url, json=point(18))
    assert created.json()["minutes_since_alert"] == 11.0
    edited = client.patch(
        f"{url}/{created.json()['id']}",
        json={"at": iso(INCIDENT_START + timedelta(minutes=7, seconds=30))},
    )
    assert edited.json()["minutes_since_alert"] == 0.5
    before_alert = client.post(url, json=point(5, "first_action")).json()
    assert before_alert["minutes_since_alert"] == -2.0
    listed = client.get(url).json()["items"]
    assert [p["minutes_since_alert"] for p in listed] == [-2.0, 0.5]


def test_an_earlier_alert_added_later_restarts_the_clock(client: TestClient) -> None:
    pm = bare_postmortem(client, timeline=[entry(10, "paged", "alert")])
    url = f"/v1/postmortems/{pm['id']}/decision-points"
    created = client.post(url, json=point(20)).json()
    assert created["minutes_since_alert"] == 10.0
    add(client, pm["id"], entry(6, "synthetic check failed", "alert"))
    assert [p["minutes_since_alert"] for p in client.get(url).json()["items"]] == [14.0]
    detail = client.get(f"/v1/postmortems/{pm['id']}").json()
    assert [p["minutes_since_alert"] for p in detail["decision_points"]] == [14.0]


def test_without_an_alert_entry_the_clock_starts_at_detection(client: TestClient) -> None:
    pm = bare_postmortem(
        client,
        detected_at=iso(INCIDENT_START + timedelta(minutes=6)),
        timeline=[entry(1, "a deploy", "action")],
    )
    created = client.post(f"/v1/postmortems/{pm['id']}/decision-points", json=point(16))
    assert created.json()["minutes_since_alert"] == 10.0
    # With no timeline at all, too (the factory's detection is 4 minutes after the start).
    empty = bare_postmortem(client)
    created = client.post(f"/v1/postmortems/{empty['id']}/decision-points", json=point(14))
    assert created.json()["minutes_since_alert"] == 10.0


def test_an_alert_edited_into_another_kind_no_longer_starts_the_clock(
    client: TestClient,
) -> None:
    pm = bare_postmortem(client, timeline=[entry(10, "paged", "alert")])
    url = f"/v1/postmortems/{pm['id']}/decision-points"
    client.post(url, json=point(20))
    alert_id = client.get(f"/v1/postmortems/{pm['id']}/timeline").json()["items"][0]["id"]
    client.patch(f"/v1/postmortems/{pm['id']}/timeline/{alert_id}", json={"kind": "observation"})
    # Detection in the factory body is 4 minutes after the start.
    assert [p["minutes_since_alert"] for p in client.get(url).json()["items"]] == [16.0]


def test_with_no_alert_and_no_detection_time_there_is_no_gap_to_report(
    client: TestClient,
) -> None:
    pm = bare_postmortem(client, detected_at=None)
    created = client.post(f"/v1/postmortems/{pm['id']}/decision-points", json=point(16))
    assert created.status_code == 201, created.text
    assert created.json()["minutes_since_alert"] is None
