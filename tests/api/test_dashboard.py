"""Every number of the dashboard summary against a hand-computed fixture, on both databases."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from app.action_items.models import ActionItem
from app.db import session_scope
from app.integrations.models import Integration
from app.people.models import Person, Team
from app.postmortems.models import Postmortem, PostmortemService
from app.tickets.models import TicketLink
from app.timeline.models import TimelineEntry
from tests.factories import make_person, make_postmortem, make_team

Q3 = {"since": "2026-07-01T00:00:00Z", "until": "2026-10-01T00:00:00Z"}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.fixture
def history(engine: Engine) -> dict[str, Any]:
    """Three postmortems in Q3 2026 (and one just before it); see the module tests for the sums."""
    ids: dict[str, Any] = {}
    with session_scope(engine) as s:
        payments, search = (
            Team(slug="payments", name="Payments"),
            Team(slug="search", name="Search"),
        )
        alice = Person(handle="alice", display_name="Alice")
        s.add_all([payments, search, alice])
        s.flush()

        def postmortem(
            ref: str,
            team: Team,
            severity: str,
            service: str,
            started: str,
            resolved: str,
            review: str | None,
            status: str,
        ) -> Postmortem:
            pm = Postmortem(
                title=ref,
                incident_ref=ref,
                severity=severity,
                status=status,
                team_id=team.id,
                started_at=at(started),
                resolved_at=at(resolved),
                review_held_at=at(review) if review else None,
            )
            s.add(pm)
            s.flush()
            s.add(PostmortemService(postmortem_id=pm.id, name=service))
            return pm

        def item(
            name: str,
            pm: Postmortem,
            status: str,
            created: str,
            *,
            closed: str | None = None,
            verified: str | None = None,
            due: date | None = None,
            level: str | None = None,
            committed: bool = True,
        ) -> ActionItem:
            row = ActionItem(
                title=name,
                postmortem_id=pm.id,
                incident_started_at=pm.started_at,
                status=status,
                committed=committed,
                owner_person_id=alice.id,
                created_at=at(created),
                due_date=due,
                chain_level=level,
                closed_at=at(closed) if closed else None,
                verified_at=at(verified) if verified else None,
            )
            s.add(row)
            s.flush()
            ids[name] = row.id
            return row

        pm1 = postmortem(
            "PM1",
            payments,
            "SEV1",
            "checkout",
            "2026-07-05T09:00",
            "2026-07-05T10:00",
            "2026-07-06T10:00",
            "complete",
        )
        item(
            "A",
            pm1,
            "verified",
            "2026-07-06T00:00",
            closed="2026-07-10T00:00",
            verified="2026-07-12T00:00",
            level="L4",
        )
        item(
            "B",
            pm1,
            "verified",
            "2026-07-06T00:00",
            closed="2026-07-08T00:00",
            verified="2026-07-09T00:00",
            level="L5",
        )
        item("C", pm1, "draft", "2026-07-06T00:00", level="L1", committed=False)
        for minute in (30, 50):
            s.add(
                TimelineEntry(
                    postmortem_id=pm1.id,
                    incident_started_at=pm1.started_at,
                    incident_resolved_at=pm1.resolved_at,
                    at=at("2026-07-05T09:10"),
                    author="bob",
                    kind="action",
                    text="t",
                    recorded_at=at(f"2026-07-05T09:{minute}"),
                )
            )

        pm1.completed_at = at("2026-07-12T00:00")
        pm2 = postmortem(
            "PM2",
            payments,
            "SEV2",
            "checkout",
            "2026-08-01T10:00",
            "2026-08-01T12:00",
            "2026-08-05T12:00",
            "published",
        )
        d = item("D", pm2, "open", "2026-08-05T00:00", due=date(2026, 8, 20), level="L5")
        item("E", pm2, "closed", "2026-08-05T00:00", closed="2026-08-11T00:00")
        item("F", pm2, "wont_do", "2026-08-05T00:00", closed="2026-08-07T00:00", level="L3")
        for _ in range(2):
            s.add(
                TimelineEntry(
                    postmortem_id=pm2.id,
                    incident_started_at=pm2.started_at,
                    incident_resolved_at=pm2.resolved_at,
                    at=at("2026-08-01T10:30"),
                    author="bob",
                    kind="action",
                    text="t",
                    recorded_at=at("2026-08-03T09:00"),
                )
            )

        pm3 = postmortem(
            "PM3",
            search,
            "SEV3",
            "search",
            "2026-09-01T00:00",
            "2026-09-01T06:00",
            None,
            "published",
        )
        item("G", pm3, "reopened", "2026-09-02T00:00", due=date(2027, 2, 1), level="L4")

        pm4 = postmortem(
            "PM4",
            payments,
            "SEV2",
            "checkout",
            "2026-06-30T23:00",
            "2026-07-01T01:00",
            None,
            "published",
        )
        item("H", pm4, "open", "2026-06-01T00:00", level="L1")

        integration = Integration(
            kind="jira", name="j", credentials_sealed="x", default_project="OPS"
        )
        s.add(integration)
        s.flush()
        s.add(
            TicketLink(
                action_item_id=d.id,
                integration_id=integration.id,
                project="OPS",
                marker="m-d",
                external_key="OPS-7",
                url="https://jira.example/browse/OPS-7",
            )
        )
    return ids


def summary(client: TestClient, **params: Any) -> dict[str, Any]:
    response = client.get("/v1/dashboard/summary", params={**Q3, **params})
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_summary_numbers_match_the_hand_computed_fixture(
    client: TestClient, history: dict[str, Any]
) -> None:
    body = summary(client)
    assert (
        body["postmortems"],
        body["postmortems_complete"],
        body["postmortems_not_complete"],
    ) == (3, 1, 2)
    assert body["action_items"] == {
        "committed": 6,
        "open": 2,
        "closed": 1,
        "wont_do": 1,
        "verified": 2,
        "overdue": 1,
    }
    assert body["completion_rate"] == pytest.approx(2 / 6, abs=1e-4)
    assert body["close_rate"] == 0.5
    assert body["median_days_to_close"] == 4.0  # A 4, B 2, E 6
    assert body["median_days_to_verify"] == 4.5  # A 6, B 3
    assert body["median_review_lag_hours"] == 60.0  # 24 and 96
    assert body["reviewed_within_window_share"] == pytest.approx(1 / 3, abs=1e-4)
    assert body["timeline_during_incident_share"] == 0.5  # PM1 during, PM2 after, PM3 none
    assert body["fixes_by_chain_level"] == {"L3": 1, "L4": 2, "L5": 2, "unset": 1}
    oldest = body["oldest_unclosed"]
    assert (oldest["title"], oldest["owner"], oldest["ticket_url"]) == (
        "D",
        "alice",
        "https://jira.example/browse/OPS-7",
    )
    assert oldest["age_days"] > 90


def test_filters_and_period_boundaries(client: TestClient, history: dict[str, Any]) -> None:
    search = summary(client, team="search")
    assert (
        search["postmortems"],
        search["action_items"]["committed"],
        search["action_items"]["overdue"],
    ) == (1, 1, 0)
    assert search["reviewed_within_window_share"] == 0.0
    assert search["timeline_during_incident_share"] is None
    assert search["median_days_to_close"] is None
    assert summary(client, service="checkout")["action_items"]["committed"] == 5
    sev1 = summary(client, severity="SEV1")
    assert (sev1["action_items"]["verified"], sev1["completion_rate"]) == (2, 1.0)
    starts_at_pm1 = summary(client, since="2026-07-05T09:00:00Z")
    assert starts_at_pm1["postmortems"] == 3, "since is inclusive"
    ends_at_pm1 = summary(client, since="2026-06-01T00:00:00Z", until="2026-07-05T09:00:00Z")
    assert ends_at_pm1["postmortems"] == 1, "until is exclusive: only PM4"
    empty = summary(client, since="2025-01-01T00:00:00Z", until="2025-04-01T00:00:00Z")
    assert empty["postmortems"] == 0 and empty["action_items"]["committed"] == 0
    assert (empty["completion_rate"], empty["oldest_unclosed"], empty["fixes_by_chain_level"]) == (
        None,
        None,
        {},
    )
    assert (
        client.get(
            "/v1/dashboard/summary",
            params={"since": "2026-10-01T00:00:00Z", "until": "2026-07-01T00:00:00Z"},
        ).status_code
        == 422
    )


def test_breakdowns(client: TestClient, history: dict[str, Any]) -> None:
    by_team = summary(client, group_by="team")
    assert by_team["group_by"] == "team"
    assert {k: v["postmortems"] for k, v in by_team["groups"].items()} == {
        "payments": 2,
        "search": 1,
    }
    by_level = summary(client, group_by="chain_level")["groups"]
    assert {k: v["action_items"]["committed"] for k, v in by_level.items()} == {
        "L3": 1,
        "L4": 2,
        "L5": 2,
        "unset": 1,
    }
    assert by_level["L5"]["action_items"]["overdue"] == 1
    by_severity = summary(client, group_by="severity")["groups"]
    assert sorted(by_severity) == ["SEV1", "SEV2", "SEV3"]
    assert sorted(summary(client, group_by="service")["groups"]) == ["checkout", "search"]


def test_the_default_period_is_the_current_quarter(
    client: TestClient, history: dict[str, Any]
) -> None:
    body = client.get("/v1/dashboard/summary").json()
    since = datetime.fromisoformat(body["period"]["since"])
    assert since.day == 1 and since.month in (1, 4, 7, 10) and since <= datetime.now(UTC)


def test_the_team_leads_list(client: TestClient, history: dict[str, Any]) -> None:
    listed = client.get("/v1/dashboard/action-items").json()["items"]
    assert [i["title"] for i in listed] == ["D", "G", "H"]
    assert listed[0]["overdue"] is True and listed[0]["ticket_key"] == "OPS-7"
    assert [
        i["title"]
        for i in client.get("/v1/dashboard/action-items", params={"overdue": True}).json()["items"]
    ] == ["D"]
    assert [
        i["title"]
        for i in client.get("/v1/dashboard/action-items", params={"team": "search"}).json()["items"]
    ] == ["G"]
    verified = client.get("/v1/dashboard/action-items", params={"status": "verified"}).json()[
        "items"
    ]
    assert sorted(i["title"] for i in verified) == ["A", "B"]


def test_moving_an_incident_moves_its_items_to_the_new_period(client: TestClient) -> None:
    from tests.factories import make_person, make_postmortem

    make_person(client, "alice")
    pm = make_postmortem(client)
    q4 = {"since": "2026-10-01T00:00:00Z", "until": "2027-01-01T00:00:00Z"}
    assert client.get("/v1/dashboard/summary", params=q4).json()["action_items"]["committed"] == 1
    moved = client.patch(
        f"/v1/postmortems/{pm['id']}",
        json={
            "started_at": "2026-08-01T09:00:00Z",
            "detected_at": "2026-08-01T09:04:00Z",
            "mitigated_at": "2026-08-01T09:30:00Z",
            "resolved_at": "2026-08-01T09:40:00Z",
        },
    )
    assert moved.status_code == 200, moved.text
    assert client.get("/v1/dashboard/summary", params=q4).json()["action_items"]["committed"] == 0
    assert summary(client)["action_items"]["committed"] == 1


def test_recurrences_say_whether_the_earlier_fix_held(
    client: TestClient, history: dict[str, Any]
) -> None:
    from tests.factories import make_postmortem

    earlier = client.get("/v1/postmortems", params={"q": "PM1"}).json()["items"][0]  # complete
    unfinished = client.get("/v1/postmortems", params={"q": "PM3"}).json()["items"][0]  # published
    again = make_postmortem(
        client,
        action_items=[],
        started_at="2026-09-20T00:00:00Z",
        detected_at=None,
        mitigated_at=None,
        resolved_at=None,
        recurrence_of=[earlier["id"], unfinished["id"]],
    )
    assert sorted(again["recurrence_of"]) == sorted([earlier["id"], unfinished["id"]])
    # PM1 was complete (12 July) before the repeat (20 September): its fix did not hold.
    recurrences = summary(client)["recurrences"]
    assert {k: recurrences[k] for k in ("total", "earlier_complete", "earlier_not_complete")} == {
        "total": 2,
        "earlier_complete": 1,
        "earlier_not_complete": 1,
    }
    # The repeat has no detection, mitigation or resolution time: nothing can be compared.
    assert recurrences["by_verdict"] == {"unknown": 2}
    client_pm = client.patch(
        f"/v1/postmortems/{again['id']}", json={"recurrence_of": [unfinished["id"]]}
    )
    assert client_pm.json()["recurrence_of"] == [unfinished["id"]]
    later = client.post(
        "/v1/postmortems",
        json={
            "title": "x",
            "incident_ref": "INC-LATE",
            "severity": "SEV3",
            "started_at": "2026-07-01T00:00:00Z",
            "recurrence_of": [again["id"]],
        },
    )
    assert later.status_code == 422
    assert later.json()["errors"][0]["path"] == "body.recurrence_of[0]"
    missing = client.patch(f"/v1/postmortems/{again['id']}", json={"recurrence_of": [again["id"]]})
    assert missing.status_code == 422


def test_quarterly_review_reads_as_a_report(client: TestClient, history: dict[str, Any]) -> None:
    response = client.get("/v1/reviews/quarterly", params={"quarter": "2026Q3"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/markdown")
    text = response.text
    assert text.startswith("# Postmortem meta-review, 2026Q3\n")
    assert "3 incidents had a postmortem; 1 are complete." in text
    assert (
        "Committed action items: 6 (2 verified, 1 closed but not verified, 1 won't do, 2 still open, 1 overdue)"
        in text
    )
    assert "Completion rate (verified): 33%; close rate: 50%" in text
    assert "- service **checkout**: 2 incidents (PM1, PM2)" in text
    assert (
        "| D | alice | 2026-08-20 |" in text
        and "[OPS-7](https://jira.example/browse/OPS-7)" in text
    )
    assert "| H |" not in text, "H belongs to a postmortem before the quarter"
    assert client.get("/v1/reviews/quarterly", params={"quarter": "2026Q5"}).status_code == 422


def test_moving_an_incident_start_moves_its_items_and_timeline_to_the_new_period(
    client: TestClient,
) -> None:
    make_team(client, "payments")
    make_person(client, "alice")
    created = make_postmortem(client, team="payments")  # Nov 2026: one item, one timeline entry
    q4 = {"since": "2026-10-01T00:00:00Z", "until": "2027-01-01T00:00:00Z"}
    before = summary(client, **q4)
    assert before["action_items"]["committed"] == 1
    assert before["timeline_during_incident_share"] is not None  # its timeline is judged

    moved = client.patch(
        f"/v1/postmortems/{created['id']}",
        json={
            "started_at": "2026-08-03T09:00:00Z",
            "detected_at": "2026-08-03T09:04:00Z",
            "mitigated_at": None,
            "resolved_at": "2026-08-03T09:40:00Z",
            "review_held_at": None,
        },
    )
    assert moved.status_code == 200, moved.text
    after = summary(client, **q4)
    assert after["postmortems"] == 0
    assert after["action_items"]["committed"] == 0
    assert after["timeline_during_incident_share"] is None
    q3 = summary(client)
    assert q3["postmortems"] == 1
    assert q3["action_items"]["committed"] == 1
    assert q3["timeline_during_incident_share"] is not None


def test_moving_the_resolution_rejudges_when_the_timeline_was_written(
    client: TestClient,
) -> None:
    make_team(client, "payments")
    make_person(client, "alice")
    created = make_postmortem(client, team="payments")  # its one entry is recorded now
    q4 = {"since": "2026-10-01T00:00:00Z", "until": "2027-01-01T00:00:00Z"}

    def resolve(hours_ago: float) -> None:
        resolved = datetime.now(UTC) - timedelta(hours=hours_ago)
        body = {"resolved_at": resolved.isoformat(), "review_held_at": None}
        response = client.patch(f"/v1/postmortems/{created['id']}", json=body)
        assert response.status_code == 200, response.text

    resolve(hours_ago=0.25)  # written 15 minutes after resolution: inside the 60-minute grace
    assert summary(client, **q4)["timeline_during_incident_share"] == 1.0
    resolve(hours_ago=3)  # the same entry, now three hours after resolution: reconstructed
    assert summary(client, **q4)["timeline_during_incident_share"] == 0.0
