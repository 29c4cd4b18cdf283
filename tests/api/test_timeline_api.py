"""The incident timeline keeps every version; the responder timeline measures the gap to act;
contributing conditions are many, tagged and categorised."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from tests.factories import INCIDENT_START, iso, make_postmortem

MISSING = "00000000-0000-4000-8000-000000000000"


def entry(minutes: int, text: str = "5xx rising", kind: str = "observation") -> dict[str, Any]:
    return {
        "at": iso(INCIDENT_START + timedelta(minutes=minutes)),
        "author": "Bob",
        "kind": kind,
        "text": text,
    }


def test_entries_get_recorded_at_from_the_server_and_list_in_incident_order(
    client: TestClient,
) -> None:
    pm = make_postmortem(client, action_items=[], timeline=[])
    url = f"/v1/postmortems/{pm['id']}/timeline"
    before = datetime.now(UTC)
    late = client.post(url, json=entry(30, "rolled back"))
    early = client.post(url, json=entry(5, "paged"))
    assert late.status_code == early.status_code == 201
    assert datetime.fromisoformat(late.json()["recorded_at"]) >= before - timedelta(seconds=1)
    assert [e["text"] for e in client.get(url).json()["items"]] == ["paged", "rolled back"]
    forged = client.post(url, json={**entry(6), "recorded_at": iso(INCIDENT_START)})
    assert forged.status_code == 422
    assert forged.json()["errors"][0]["path"] == "body.recorded_at"


def test_written_during_incident_follows_resolution_time(client: TestClient) -> None:
    resolved_long_ago = make_postmortem(client, action_items=[], timeline=[])
    ongoing = make_postmortem(client, action_items=[], timeline=[], resolved_at=None)
    resolved_later = make_postmortem(
        client, action_items=[], timeline=[], resolved_at=iso(datetime.now(UTC) + timedelta(days=1))
    )
    results = [
        client.post(f"/v1/postmortems/{pm['id']}/timeline", json=entry(5)).json()[
            "written_during_incident"
        ]
        for pm in (resolved_long_ago, ongoing, resolved_later)
    ]
    assert results == [False, None, True]


def test_edits_keep_every_prior_version(client: TestClient) -> None:
    pm = make_postmortem(client, action_items=[], timeline=[])
    url = f"/v1/postmortems/{pm['id']}/timeline"
    created = client.post(url, json=entry(5, "probably DNS", "hypothesis")).json()
    first = client.patch(f"{url}/{created['id']}", json={"text": "not DNS: the pool size"})
    second = client.patch(f"{url}/{created['id']}", json={"kind": "observation"})
    assert first.status_code == second.status_code == 200
    assert second.json()["version"] == 3
    unchanged = client.patch(f"{url}/{created['id']}", json={"kind": "observation"})
    assert unchanged.json()["version"] == 3
    history = client.get(f"{url}/{created['id']}/history").json()["versions"]
    assert [(v["version"], v["kind"], v["text"]) for v in history] == [
        (1, "hypothesis", "probably DNS"),
        (2, "hypothesis", "not DNS: the pool size"),
        (3, "observation", "not DNS: the pool size"),
    ]
    assert history[0]["replaced_by"] == "token:admin-tests"
    assert history[-1]["replaced_at"] is None
    assert client.delete(f"{url}/{created['id']}").status_code == 405


def test_entries_belong_to_their_postmortem(client: TestClient) -> None:
    a = make_postmortem(client, action_items=[], timeline=[])
    b = make_postmortem(client, action_items=[], timeline=[])
    created = client.post(f"/v1/postmortems/{a['id']}/timeline", json=entry(5)).json()
    assert client.get(f"/v1/postmortems/{b['id']}/timeline/{created['id']}").status_code == 404
    assert (
        client.patch(
            f"/v1/postmortems/{b['id']}/timeline/{created['id']}", json={"text": "x"}
        ).status_code
        == 404
    )
    assert (
        client.get(f"/v1/postmortems/{b['id']}/timeline/{created['id']}/history").status_code == 404
    )
    assert client.post(f"/v1/postmortems/{MISSING}/timeline", json=entry(5)).status_code == 404
    assert (
        client.post(
            f"/v1/postmortems/{a['id']}/timeline", json={**entry(5), "text": "   "}
        ).status_code
        == 422
    )


def test_decision_points_measure_minutes_from_the_first_alert(client: TestClient) -> None:
    pm = make_postmortem(
        client,
        action_items=[],
        decision_points=[],
        timeline=[
            entry(9, "error budget alert", "alert"),
            entry(7, "latency alert", "alert"),
            entry(2, "deploy", "action"),
        ],
    )
    url = f"/v1/postmortems/{pm['id']}/decision-points"
    point = client.post(
        url,
        json={
            "at": iso(INCIDENT_START + timedelta(minutes=18)),
            "responder": "Bob",
            "decision_kind": "rollback",
            "knew": "a deploy went out",
            "unsure_of": "whether it caused it",
            "would_have_helped": "a deploy marker",
        },
    )
    assert point.status_code == 201, point.text
    assert point.json()["minutes_since_alert"] == 11.0
    edited = client.patch(
        f"{url}/{point.json()['id']}",
        json={"at": iso(INCIDENT_START + timedelta(minutes=7, seconds=30))},
    )
    assert edited.json()["minutes_since_alert"] == 0.5
    assert [p["decision_kind"] for p in client.get(url).json()["items"]] == ["rollback"]
    assert (
        client.post(
            url, json={"at": iso(INCIDENT_START), "responder": "Bob", "decision_kind": "panic"}
        ).status_code
        == 422
    )
    assert client.delete(f"{url}/{point.json()['id']}").status_code == 204
    assert client.get(url).json()["items"] == []
    assert client.delete(f"{url}/{point.json()['id']}").status_code == 404


def test_without_alerts_the_clock_starts_at_detection(client: TestClient) -> None:
    pm = make_postmortem(client, action_items=[], decision_points=[], timeline=[])
    point = client.post(
        f"/v1/postmortems/{pm['id']}/decision-points",
        json={
            "at": iso(INCIDENT_START + timedelta(minutes=14)),
            "responder": "Bob",
            "decision_kind": "escalation",
        },
    )
    assert point.json()["minutes_since_alert"] == 10.0  # detected at +4 minutes


def test_conditions_are_tagged_and_categorised(client: TestClient) -> None:
    pm = make_postmortem(client, action_items=[], conditions=[])
    url = f"/v1/postmortems/{pm['id']}/conditions"
    created = client.post(
        url,
        json={
            "category": "knowledge",
            "description": "Nobody knew the pool had a floor",
            "failure_modes": ["Config-Push", "config-push", "pools"],
            "chain_level": "L3",
        },
    )
    assert created.status_code == 201, created.text
    assert created.json()["failure_modes"] == ["config-push", "pools"]
    cid = created.json()["id"]
    edited = client.patch(f"{url}/{cid}", json={"category": "process", "chain_level": None})
    assert (edited.json()["category"], edited.json()["chain_level"]) == ("process", None)
    assert client.post(url, json={"category": "root-cause", "description": "x"}).status_code == 422
    assert (
        client.post(
            url, json={"category": "technical", "description": "x", "failure_modes": ["has space"]}
        ).status_code
        == 422
    )
    assert [c["id"] for c in client.get(url).json()["items"]] == [cid]
    assert client.delete(f"{url}/{cid}").status_code == 204
    assert client.get(url).json()["items"] == []
