"""Readers acknowledge reading a published postmortem; the dashboard reports who outside the team
read it in time."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from app.db import session_scope
from app.people.models import Team
from app.postmortems.models import Postmortem, PostmortemReader
from app.settings import Settings
from tests.factories import make_person, make_postmortem, make_team
from tests.problems import MISSING, error_paths, problem

Q3 = {"since": "2026-07-01T00:00:00Z", "until": "2026-10-01T00:00:00Z"}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.fixture
def published(client: TestClient) -> dict[str, Any]:
    """A published postmortem of team payments; alice is on payments, carol on search, dave on
    no team."""
    payments = make_team(client, "payments")
    search = make_team(client, "search")
    make_person(client, "alice", team=payments["slug"])
    make_person(client, "carol", team=search["slug"])
    make_person(client, "dave")
    pm = make_postmortem(client, team="payments")
    response = client.post(f"/v1/postmortems/{pm['id']}/publish")
    assert response.status_code == 200, response.text
    return pm


def read(client: TestClient, pm_id: str, body: dict[str, Any] | None = None) -> Any:
    return client.post(f"/v1/postmortems/{pm_id}/reads", json=body)


def test_a_read_records_who_when_and_whether_they_are_outside_the_team(
    client: TestClient, published: dict[str, Any]
) -> None:
    url = f"/v1/postmortems/{published['id']}"
    alice = read(client, published["id"], {"reader": "alice"})
    assert alice.status_code == 201, alice.text
    assert (alice.json()["reader"], alice.json()["outside_team"]) == ("alice", False)
    carol = read(client, published["id"], {"reader": "carol"})
    assert (carol.status_code, carol.json()["outside_team"]) == (201, True)
    dave = read(client, published["id"], {"reader": "dave"})
    assert (dave.status_code, dave.json()["outside_team"]) == (201, True)
    # No body: the calling token's name, which is no person, so nobody can say which team.
    token = read(client, published["id"])
    assert (token.status_code, token.json()["reader"], token.json()["outside_team"]) == (
        201,
        "admin-tests",
        None,
    )
    body = client.get(url).json()
    assert body["reads"] == 4
    assert [r["reader"] for r in body["read_outside_team"]] == ["carol", "dave"]
    assert body["read_outside_team"][0]["read_at"] == carol.json()["read_at"]
    listed = client.get("/v1/postmortems").json()["items"][0]
    assert (listed["reads"], len(listed["read_outside_team"])) == (4, 2)
    text = client.get(f"{url}/markdown").text
    assert "## Readers" in text and "Read by 4; from outside the team: carol (" in text


def test_reading_twice_counts_once_and_keeps_the_first_time(
    client: TestClient, published: dict[str, Any]
) -> None:
    first = read(client, published["id"], {"reader": "carol"})
    again = read(client, published["id"], {"reader": "carol"})
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    body = client.get(f"/v1/postmortems/{published['id']}").json()
    assert body["reads"] == 1 and len(body["read_outside_team"]) == 1


def test_a_token_named_like_a_person_reads_as_that_person(
    app: FastAPI, published: dict[str, Any], make_token: Callable[..., str]
) -> None:
    with TestClient(app, headers={"Authorization": f"Bearer {make_token('read', 'carol')}"}) as c:
        response = read(c, published["id"])
    assert response.status_code == 201, response.text
    assert (response.json()["reader"], response.json()["outside_team"]) == ("carol", True)


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"reader": "nobody"}, "body.reader"),
        ({"reader": "Not A Handle"}, "body.reader"),
        ({"reader": 7}, "body.reader"),
        ({"who": "carol"}, "body.who"),
    ],
)
def test_a_bad_read_is_a_422_naming_the_field(
    client: TestClient, published: dict[str, Any], body: dict[str, Any], path: str
) -> None:
    assert error_paths(read(client, published["id"], body)) == [path]
    assert client.get(f"/v1/postmortems/{published['id']}").json()["reads"] == 0


def test_reads_are_refused_for_unknown_and_unpublished_postmortems(
    client: TestClient, anon_client: TestClient, published: dict[str, Any]
) -> None:
    problem(read(client, MISSING, {"reader": "carol"}), 404)
    assert error_paths(read(client, "not-a-uuid")) == ["path.postmortem_id"]
    draft = make_postmortem(client, action_items=[])
    problem(read(client, draft["id"], {"reader": "carol"}), 409)
    problem(read(anon_client, published["id"], {"reader": "carol"}), 401)


@pytest.fixture
def read_history(engine: Engine) -> None:
    """Q3 postmortems of team payments, published and read at known times:

    P1 published 10 Jul, read from outside on 20 Jul (10 days)
    P2 published 1 Aug, read from outside on 25 Aug (24 days)
    P3 published 10 Aug, read only from inside
    P4 a draft (not judged)
    P5 published 1 Sep, read by someone of unknown team
    P6 published just now, not read yet (still in its window: not judged)
    P7 published just now, read from outside a minute later
    """
    now = datetime.now(UTC)
    with session_scope(engine) as s:
        team = Team(slug="payments", name="Payments")
        s.add(team)
        s.flush()

        def postmortem(ref: str, published: datetime | None, *reads: tuple[datetime, bool | None]):
            pm = Postmortem(
                title=ref,
                incident_ref=ref,
                severity="SEV2",
                status="published" if published else "draft",
                team_id=team.id,
                started_at=at("2026-07-05T09:00") if ref != "P7" else at("2026-09-15T09:00"),
                published_at=published,
            )
            s.add(pm)
            s.flush()
            for n, (when, outside) in enumerate(reads):
                s.add(
                    PostmortemReader(
                        postmortem_id=pm.id, reader=f"r{n}", read_at=when, outside_team=outside
                    )
                )
            s.flush()

        postmortem("P1", at("2026-07-10T12:00"), (at("2026-07-20T12:00"), True))
        postmortem("P2", at("2026-08-01T12:00"), (at("2026-08-25T12:00"), True))
        postmortem("P3", at("2026-08-10T12:00"), (at("2026-08-11T12:00"), False))
        postmortem("P4", None, (at("2026-08-11T12:00"), True))
        postmortem("P5", at("2026-09-01T12:00"), (at("2026-09-02T12:00"), None))
        postmortem("P6", now - timedelta(hours=1))
        postmortem("P7", now - timedelta(hours=1), (now - timedelta(minutes=59), True))


@pytest.fixture
def window(app: FastAPI, settings: Settings) -> Iterator[Callable[[int], None]]:
    """Run the app with another read window for the rest of the test."""

    def set_window(days: int) -> None:
        app.state.settings = settings.model_copy(update={"read_window_days": days})

    yield set_window
    app.state.settings = settings


def share(client: TestClient) -> float | None:
    response = client.get("/v1/dashboard/summary", params=Q3)
    assert response.status_code == 200, response.text
    return response.json()["read_outside_team_share"]  # type: ignore[no-any-return]


def test_the_dashboard_shows_the_share_read_outside_the_team_within_the_window(
    client: TestClient, read_history: None, window: Callable[[int], None]
) -> None:
    # 14 days: P1 and P7 of the judged P1, P2, P3, P5 and P7.
    assert share(client) == 0.4
    window(30)  # P2's read, 24 days after publishing, now counts
    assert share(client) == 0.6
    window(0)  # every published one is judged, and no read came at the very moment of publishing
    assert share(client) == 0.0
    window(14)
    review = client.get("/v1/reviews/quarterly", params={"quarter": "2026Q3"}).text
    assert "- Read outside the team within 14 days of publishing: 40%" in review


def test_a_period_with_nothing_published_has_no_read_share(client: TestClient) -> None:
    assert share(client) is None


def test_the_read_window_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().read_window_days == 14
    monkeypatch.setenv("FOLLOWTHROUGH_READ_WINDOW_DAYS", "30")
    assert Settings().read_window_days == 30
