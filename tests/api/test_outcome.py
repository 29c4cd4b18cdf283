"""The outcome test of a recurrence: now against then, in the read, the Markdown, the dashboard's
recurrences and the quarterly review, against hand-computed minutes."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.factories import iso, make_person, make_postmortem

THEN = datetime.fromisoformat("2026-10-01T09:00:00+00:00")
SPARSE = datetime.fromisoformat("2026-10-10T09:00:00+00:00")
Q4 = {"since": "2026-10-01T00:00:00Z", "until": "2027-01-01T00:00:00Z"}


def minutes(start: datetime, n: int) -> str:
    return iso(start + timedelta(minutes=n))


def point(start: datetime, n: int, kind: str) -> dict[str, Any]:
    return {"at": minutes(start, n), "responder": "Bob Oncall", "decision_kind": kind}


@pytest.fixture
def repeat(client: TestClient) -> dict[str, Any]:
    """THEN: detected +10, mitigated +45, resolved +60; first alert +8; decisions: escalation +12
    (not an action), first action +20, rollback +40 (the last action before mitigation: the
    right one), first action +50 (after mitigation). Gap 40 - 8 = 32.

    SPARSE: only detected +2; no timeline, no decisions.

    NOW (the factory's incident, 2 Nov): detected +4, mitigated +30, resolved +40, first alert
    +4, rollback +15. Gap 11. It repeats both.
    """
    make_person(client, "alice")
    then = make_postmortem(
        client,
        action_items=[],
        title="Checkout 502s the first time",
        incident_ref="INC-THEN",
        started_at=iso(THEN),
        detected_at=minutes(THEN, 10),
        mitigated_at=minutes(THEN, 45),
        resolved_at=minutes(THEN, 60),
        timeline=[
            {"at": minutes(THEN, 9), "author": "pager", "kind": "alert", "text": "later alert"},
            {"at": minutes(THEN, 8), "author": "pager", "kind": "alert", "text": "first alert"},
        ],
        decision_points=[
            point(THEN, 12, "escalation"),
            point(THEN, 20, "first_action"),
            point(THEN, 40, "rollback"),
            point(THEN, 50, "first_action"),
        ],
    )
    sparse = make_postmortem(
        client,
        action_items=[],
        title="Checkout 502s, barely written up",
        incident_ref="INC-SPARSE",
        started_at=iso(SPARSE),
        detected_at=minutes(SPARSE, 2),
        mitigated_at=None,
        resolved_at=None,
        timeline=[],
        decision_points=[],
    )
    now = make_postmortem(client, incident_ref="INC-NOW", recurrence_of=[sparse["id"], then["id"]])
    return {"then": then, "sparse": sparse, "now": now}


EXPECTED_THEN = [
    {
        "measure": "detect",
        "now_minutes": 4.0,
        "then_minutes": 10.0,
        "difference_minutes": -6.0,
        "verdict": "better",
    },
    {
        "measure": "mitigate",
        "now_minutes": 30.0,
        "then_minutes": 45.0,
        "difference_minutes": -15.0,
        "verdict": "better",
    },
    {
        "measure": "resolve",
        "now_minutes": 40.0,
        "then_minutes": 60.0,
        "difference_minutes": -20.0,
        "verdict": "better",
    },
    {
        "measure": "alert_to_right_action",
        "now_minutes": 11.0,
        "then_minutes": 32.0,
        "difference_minutes": -21.0,
        "verdict": "better",
    },
]
EXPECTED_SPARSE = [
    {
        "measure": "detect",
        "now_minutes": 4.0,
        "then_minutes": 2.0,
        "difference_minutes": 2.0,
        "verdict": "worse",
    },
    *[
        {
            "measure": name,
            "now_minutes": now,
            "then_minutes": None,
            "difference_minutes": None,
            "verdict": "unknown",
        }
        for name, now in (("mitigate", 30.0), ("resolve", 40.0), ("alert_to_right_action", 11.0))
    ],
]


def test_the_read_compares_now_with_each_earlier_incident(
    client: TestClient, repeat: dict[str, Any]
) -> None:
    body = client.get(f"/v1/postmortems/{repeat['now']['id']}").json()
    assert [c["earlier_incident_ref"] for c in body["outcome"]] == ["INC-THEN", "INC-SPARSE"]
    then, sparse = body["outcome"]
    assert (then["postmortem_id"], then["incident_ref"], then["earlier_id"]) == (
        repeat["now"]["id"],
        "INC-NOW",
        repeat["then"]["id"],
    )
    assert then["earlier_title"] == "Checkout 502s the first time"
    assert (then["verdict"], then["measures"]) == ("better", EXPECTED_THEN)
    assert (sparse["verdict"], sparse["measures"]) == ("worse", EXPECTED_SPARSE)
    assert repeat["now"]["outcome"] == body["outcome"], "the create answers with it too"
    assert client.get(f"/v1/postmortems/{repeat['then']['id']}").json()["outcome"] == []


def test_equal_times_are_the_same_and_both_sides_missing_is_unknown(
    client: TestClient, repeat: dict[str, Any]
) -> None:
    # The repeat loses every time but its start, and matches THEN on nothing: all unknown.
    cleared = client.patch(
        f"/v1/postmortems/{repeat['now']['id']}",
        json={"detected_at": None, "mitigated_at": None, "resolved_at": None},
    )
    assert cleared.status_code == 200, cleared.text
    outcome = client.get(f"/v1/postmortems/{repeat['now']['id']}").json()["outcome"]
    then = outcome[0]
    # The alert entry still starts the clock, but without mitigation or resolution no action
    # can be called the right one.
    assert [m["verdict"] for m in then["measures"]] == ["unknown"] * 4
    assert then["verdict"] == "unknown"
    same = client.patch(
        f"/v1/postmortems/{repeat['now']['id']}",
        json={
            "detected_at": minutes(datetime.fromisoformat("2026-11-02T09:00:00+00:00"), 10),
            "mitigated_at": minutes(datetime.fromisoformat("2026-11-02T09:00:00+00:00"), 45),
        },
    )
    assert same.status_code == 200, same.text
    then = client.get(f"/v1/postmortems/{repeat['now']['id']}").json()["outcome"][0]
    assert [(m["measure"], m["verdict"]) for m in then["measures"]] == [
        ("detect", "same"),
        ("mitigate", "same"),
        ("resolve", "unknown"),
        ("alert_to_right_action", "better"),  # 15 - 4 = 11 against 32
    ]
    assert then["verdict"] == "better"


def test_markdown_tells_now_against_then(client: TestClient, repeat: dict[str, Any]) -> None:
    text = client.get(f"/v1/postmortems/{repeat['now']['id']}/markdown").text
    lines = text.splitlines()
    assert "## Compared with the earlier incidents" in lines
    assert "### Against INC-THEN: Checkout 502s the first time" in lines
    assert "| Time to detect | 10 min | 4 min | -6 min | better |" in lines
    assert "| Alert to right action | 32 min | 11 min | -21 min | better |" in lines
    assert "| Time to detect | 2 min | 4 min | +2 min | worse |" in lines
    assert "| Time to mitigate | n/a | 30 min | n/a | unknown |" in lines
    assert lines.count("Overall: **better**") == 1 and lines.count("Overall: **worse**") == 1
    earlier = client.get(f"/v1/postmortems/{repeat['then']['id']}/markdown").text
    assert "## Compared with the earlier incidents" not in earlier


def test_the_dashboard_recurrences_carry_the_comparisons(
    client: TestClient, repeat: dict[str, Any]
) -> None:
    recurrences = client.get("/v1/dashboard/summary", params=Q4).json()["recurrences"]
    assert recurrences["total"] == 2
    assert [
        (c["incident_ref"], c["earlier_incident_ref"], c["verdict"])
        for c in recurrences["outcomes"]
    ] == [("INC-NOW", "INC-THEN", "better"), ("INC-NOW", "INC-SPARSE", "worse")]
    assert recurrences["outcomes"][0]["measures"] == EXPECTED_THEN
    assert recurrences["by_verdict"] == {"better": 1, "worse": 1}
    october = {"since": "2026-10-01T00:00:00Z", "until": "2026-11-01T00:00:00Z"}
    before = client.get("/v1/dashboard/summary", params=october).json()["recurrences"]
    assert (before["outcomes"], before["by_verdict"]) == ([], {})


def test_the_quarterly_review_says_whether_the_team_was_better_equipped(
    client: TestClient, repeat: dict[str, Any]
) -> None:
    text = client.get("/v1/reviews/quarterly", params={"quarter": "2026Q4"}).text
    lines = text.splitlines()
    assert (
        "| Incident | Repeats | Time to detect | Time to mitigate | Time to resolve | "
        "Alert to right action | Overall |" in lines
    )
    assert (
        "| INC-NOW | INC-THEN | 4 min vs 10 min (better) | 30 min vs 45 min (better) | "
        "40 min vs 60 min (better) | 11 min vs 32 min (better) | better |" in lines
    )
    assert (
        "| INC-NOW | INC-SPARSE | 4 min vs 2 min (worse) | 30 min vs n/a (unknown) | "
        "40 min vs n/a (unknown) | 11 min vs n/a (unknown) | worse |" in lines
    )
    empty = client.get("/v1/reviews/quarterly", params={"quarter": "2026Q1"}).text
    assert "Was the team better equipped" not in empty
