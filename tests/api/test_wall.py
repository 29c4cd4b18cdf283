"""The wall page: its figures against the hand-counted history in tests/wall_history.py, on both
databases, and its sign-in (token in a form body or the URL fragment, kept in a cookie)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from app.action_items.models import ActionItem
from app.auth import service as auth_service
from app.dashboard import items as dashboard_items
from app.db import session_scope
from app.enums import Scope
from app.people.models import Team
from app.postmortems.models import Postmortem
from app.settings import CheckPolicy
from app.wall import service as wall_service
from app.wall.routes import COOKIE
from tests.wall_history import NOW, seed


@pytest.fixture
def pinned_clock(app: FastAPI) -> Iterator[None]:
    """The wall sees the history's Wednesday, whatever today is."""
    real = app.state.clock
    app.state.clock = lambda: NOW
    yield
    app.state.clock = real


def figures(engine: Engine, team: str | None = None) -> wall_service.Wall:
    with session_scope(engine, read_only=True) as session:
        return wall_service.figures(session, team, CheckPolicy(), now=NOW)


def test_quarter_tiles_count_only_this_quarters_committed_items(engine: Engine) -> None:
    seed(engine)
    wall = figures(engine)
    assert wall.quarter == "2026 Q4"
    # PM1, PM2 and PM4 started in Q4; PM3 in Q3.
    assert wall.summary.postmortems == 3
    items = wall.summary.action_items
    # Committed Q4 items: A, B, C, E, F, I (D is not committed).
    assert items.committed == 6
    assert (items.open, items.closed, items.verified, items.wont_do) == (3, 1, 1, 1)  # AEI B C F
    assert items.overdue == 1  # A was due Oct 20; E is due Dec 1; I has no date


def test_carried_over_counts_earlier_quarters_unfinished_items(engine: Engine) -> None:
    seed(engine)
    # PM3 (Q3): G is reopened and was due Aug 25; H is closed.
    assert figures(engine).carried_over == wall_service.Carried(open=1, overdue=1)
    assert figures(engine, "search").carried_over == wall_service.Carried(open=0, overdue=0)


def test_oldest_unclosed_spans_all_quarters_with_owner_ticket_and_age(engine: Engine) -> None:
    ids = seed(engine)
    oldest = figures(engine).oldest_unclosed
    assert oldest is not None
    assert oldest.id == ids["G"]  # created Aug 11, before A (Oct 6) and I (Oct 21)
    assert oldest.owner == "alice"
    assert oldest.ticket_key == "OPS-41"
    assert oldest.age_days == 99.5  # Aug 11 00:00 to Nov 18 12:00
    assert oldest.overdue is True
    search_oldest = figures(engine, "search").oldest_unclosed
    assert search_oldest is not None and search_oldest.id == ids["E"]


def test_overdue_list_is_every_late_unfinished_item_earliest_due_first(engine: Engine) -> None:
    ids = seed(engine)
    assert [item.id for item in figures(engine).overdue_items] == [ids["G"], ids["A"]]
    assert figures(engine, "search").overdue_items == []


def test_trend_counts_items_open_at_each_weeks_end(engine: Engine) -> None:
    seed(engine)
    trend = figures(engine).trend
    assert [point.week_of for point in trend][:2] == [date(2026, 8, 31), date(2026, 9, 7)]
    assert trend[-1].week_of == date(2026, 11, 16)  # this week, counted up to now
    # End of week:  Sep 7: G H | Sep 14: G H (H closes Sep 15) | Sep 21, 28, Oct 5: G
    # Oct 12, 19: G A B (C closed Oct 10) | Oct 26: + I | Nov 2: B closed Oct 28 -> G A I
    # Nov 9, 16, now: + E (F closed Nov 5 as won't do) -> G A I E
    assert [point.open for point in trend] == [2, 2, 1, 1, 1, 3, 3, 4, 3, 4, 4, 4]


def test_trend_for_one_team_counts_only_its_items(engine: Engine) -> None:
    seed(engine)
    # payments: A B C (PM1), G H (PM3)
    trend = figures(engine, "payments").trend
    assert [point.open for point in trend] == [2, 2, 1, 1, 1, 3, 3, 3, 2, 2, 2, 2]


def test_trend_weeks_start_on_monday_even_on_a_monday() -> None:
    monday = datetime(2026, 11, 16, 0, 0, tzinfo=UTC)
    starts = wall_service.week_starts(monday, weeks=2)
    assert [start.date() for start in starts] == [date(2026, 11, 9), date(2026, 11, 16)]


def test_team_rows_put_the_team_with_most_open_work_first(engine: Engine) -> None:
    seed(engine)
    rows = figures(engine).teams
    assert [row.team for row in rows] == ["payments", "(no team)", "search"]
    payments, no_team, search = rows
    assert payments == wall_service.TeamRow(
        team="payments", incidents=1, open=1, closed=1, verified=1, wont_do=0, overdue=1
    )
    assert no_team == wall_service.TeamRow(
        team="(no team)", incidents=1, open=1, closed=0, verified=0, wont_do=0, overdue=0
    )
    assert search == wall_service.TeamRow(
        team="search", incidents=1, open=1, closed=0, verified=0, wont_do=1, overdue=0
    )
    assert figures(engine, "payments").teams == []  # one team's wall has no team table


def test_empty_history_gives_zeros_and_no_oldest(engine: Engine) -> None:
    wall = figures(engine)
    assert wall.summary.postmortems == 0
    assert wall.oldest_unclosed is None
    assert wall.teams == []
    assert [point.open for point in wall.trend] == [0] * wall_service.TREND_WEEKS


# --- the page and its sign-in ------------------------------------------------------------


@pytest.fixture
def wall_client(app: FastAPI, pinned_clock: None) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


def sign_in(client: TestClient, token: str, **fields: str) -> None:
    response = client.post(
        "/dashboard/sign-in", data={"token": token, **fields}, follow_redirects=False
    )
    assert response.status_code == 303, response.text


def test_without_a_token_the_page_is_the_sign_in_form(wall_client: TestClient) -> None:
    response = wall_client.get("/dashboard")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert 'action="/dashboard/sign-in"' in response.text
    assert 'method="post"' in response.text


def test_sign_in_keeps_the_token_in_an_http_only_cookie_and_redirects_without_it(
    wall_client: TestClient, make_token: Callable[..., str]
) -> None:
    token = make_token(Scope.READ, "wall-screen")
    response = wall_client.post(
        "/dashboard/sign-in",
        data={"token": token, "team": "payments", "refresh": "30"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/dashboard?team=payments&refresh=30"
    assert token not in response.headers["location"]
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=")
    assert "HttpOnly" in cookie and "Path=/dashboard" in cookie and "SameSite=lax" in cookie


def test_unknown_or_empty_token_is_refused_with_a_message(wall_client: TestClient) -> None:
    unknown = wall_client.post("/dashboard/sign-in", data={"token": "ft_not-a-token"})
    assert unknown.status_code == 401
    assert "unknown or revoked" in unknown.text
    assert "set-cookie" not in unknown.headers
    empty = wall_client.post("/dashboard/sign-in", data={"token": "  "})
    assert empty.status_code == 422
    assert "Paste an API token" in empty.text


def test_signed_in_page_shows_the_figures(
    wall_client: TestClient, engine: Engine, make_token: Callable[..., str]
) -> None:
    seed(engine)
    sign_in(wall_client, make_token(Scope.READ))
    page = wall_client.get("/dashboard")
    assert page.status_code == 200
    assert "All teams · 2026 Q4" in page.text
    assert "Retry budget for the card processor" in page.text  # the oldest, G
    assert '<meta http-equiv="refresh" content="60">' in page.text
    assert page.headers["cache-control"] == "no-store"
    policy = page.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "script-src 'nonce-" in policy


def test_refresh_in_the_query_sets_the_reload_interval(
    wall_client: TestClient, make_token: Callable[..., str]
) -> None:
    sign_in(wall_client, make_token(Scope.READ))
    assert 'content="15"' in wall_client.get("/dashboard?refresh=15").text
    too_fast = wall_client.get("/dashboard?refresh=1")
    assert too_fast.status_code == 422
    assert "query.refresh" in too_fast.text


def test_unknown_team_is_a_404_page_that_names_it(
    wall_client: TestClient, make_token: Callable[..., str]
) -> None:
    sign_in(wall_client, make_token(Scope.READ))
    response = wall_client.get("/dashboard?team=nope")
    assert response.status_code == 404
    assert "No team with slug &#39;nope&#39;" in response.text


def test_a_revoked_token_sends_the_screen_back_to_sign_in(
    wall_client: TestClient, engine: Engine, make_token: Callable[..., str]
) -> None:
    sign_in(wall_client, make_token(Scope.READ, "soon-revoked"))
    with session_scope(engine) as session:
        auth_service.revoke(session, "soon-revoked")
    response = wall_client.get("/dashboard")
    assert response.status_code == 401
    assert "no longer valid" in response.text


def test_sign_out_forgets_the_token(
    wall_client: TestClient, make_token: Callable[..., str]
) -> None:
    sign_in(wall_client, make_token(Scope.READ))
    response = wall_client.post("/dashboard/sign-out", follow_redirects=False)
    assert response.status_code == 303
    assert f'{COOKIE}=""' in response.headers["set-cookie"]
    wall_client.cookies.clear()
    assert 'action="/dashboard/sign-in"' in wall_client.get("/dashboard").text


def test_titles_are_escaped(
    wall_client: TestClient, engine: Engine, make_token: Callable[..., str]
) -> None:
    ids = seed(engine)
    with session_scope(engine) as session:
        item = session.get(ActionItem, ids["G"])
        assert item is not None
        item.title = "<script>alert(1)</script>"
        session.add(item)
    sign_in(wall_client, make_token(Scope.READ))
    page = wall_client.get("/dashboard").text
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_team_table_shows_the_busiest_teams_and_counts_the_rest(
    wall_client: TestClient, engine: Engine, make_token: Callable[..., str]
) -> None:
    with session_scope(engine) as session:
        for n in range(10):
            team = Team(slug=f"team-{n}", name=f"Team {n}")
            session.add(team)
            session.flush()
            pm = Postmortem(
                title=f"PM {n}",
                incident_ref=f"INC-{n}",
                severity="SEV3",
                team_id=team.id,
                started_at=NOW - timedelta(days=3),
            )
            session.add(pm)
            session.flush()
            for _ in range(n):  # team-9 has the most open items
                session.add(
                    ActionItem(
                        title="Fix",
                        postmortem_id=pm.id,
                        incident_started_at=pm.started_at,
                        status="open",
                        created_at=NOW - timedelta(days=2),
                    )
                )
    sign_in(wall_client, make_token(Scope.READ))
    page = wall_client.get("/dashboard").text
    assert page.count('data-testid="team-row"') == 8
    assert 'data-team="team-9"' in page and 'data-team="team-2"' in page
    assert 'data-team="team-1"' not in page and 'data-team="team-0"' not in page
    assert "and 2 more teams" in page


def test_team_lead_list_merges_statuses_by_due_date_and_puts_undated_last(engine: Engine) -> None:
    ids = seed(engine)
    with session_scope(engine, read_only=True) as session:

        def first(limit: int, overdue: bool | None) -> list[object]:
            items = dashboard_items.open_items(
                session, team=None, overdue=overdue, status="open", limit=limit, now=NOW
            )
            return [item.id for item in items]

        # G (reopened, due Aug 25) is ahead of A (open, due Oct 20) whatever the status.
        assert first(1, overdue=True) == [ids["G"]]
        # Then E (due Dec 1, not late) and I (no due date) last.
        assert first(10, overdue=None) == [ids["G"], ids["A"], ids["E"], ids["I"]]
        assert first(10, overdue=False) == [ids["E"], ids["I"]]
