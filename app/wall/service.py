"""What the wall page shows: the quarter's figures, items carried over from earlier quarters,
the oldest unclosed item, a weekly trend of open items and one row per team.

Each figure is one aggregate query (the quarter's summary is the dashboard's own), so the page
costs a handful of queries however long the history is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import and_, func, or_, select
from sqlmodel import Session, col

from app.action_items.models import ActionItem
from app.auth import boundary
from app.auth.service import Caller
from app.dashboard import items as dashboard_items
from app.dashboard import service as dashboard_service
from app.dashboard.schemas import DashboardItem, Period, Summary
from app.enums import ActionItemStatus as S
from app.errors import NotFound
from app.people.models import Team
from app.postmortems.models import Postmortem
from app.settings import CheckPolicy

TREND_WEEKS = 12
OVERDUE_SHOWN = 5
NO_TEAM = "(no team)"


@dataclass(frozen=True)
class WeekPoint:
    week_of: date  # the Monday the week starts on
    open: int  # items open at the week's end (or now, for the current week)


@dataclass(frozen=True)
class TeamRow:
    team: str
    incidents: int
    open: int
    closed: int
    verified: int
    wont_do: int
    overdue: int


@dataclass(frozen=True)
class Carried:
    """Items of earlier quarters' incidents that are still unfinished."""

    open: int
    overdue: int


@dataclass(frozen=True)
class Wall:
    team: str | None
    quarter: str
    period: Period
    summary: Summary
    carried_over: Carried
    oldest_unclosed: DashboardItem | None
    overdue_items: list[DashboardItem]
    trend: list[WeekPoint]
    teams: list[TeamRow]
    generated_at: datetime


def quarter_label(period: Period) -> str:
    return f"{period.since.year} Q{(period.since.month - 1) // 3 + 1}"


def figures(
    session: Session,
    team: str | None,
    policy: CheckPolicy,
    now: datetime | None = None,
    caller: Caller | None = None,
) -> Wall:
    """Everything the wall shows, for one team or for all of them, of what the caller may see."""
    now = now or datetime.now(UTC)
    today = now.date()
    known = select(col(Team.id)).where(col(Team.slug) == team, boundary.teams_where(caller))
    if team is not None and session.execute(known).first() is None:
        raise NotFound(f"No team with slug {team!r}")
    period = dashboard_service.current_quarter(now)
    filters = dashboard_service.Filters(period=period, team=team, caller=caller)
    return Wall(
        team=team,
        quarter=quarter_label(period),
        period=period,
        summary=dashboard_service.summary(session, filters, policy, now=now),
        carried_over=_carried_over(session, team, period, today, caller),
        oldest_unclosed=dashboard_items.oldest_unfinished(
            session, team=team, now=now, caller=caller
        ),
        overdue_items=dashboard_items.open_items(
            session,
            team=team,
            overdue=True,
            status="open",
            limit=OVERDUE_SHOWN,
            now=now,
            caller=caller,
        ),
        trend=open_per_week(session, team, now, caller=caller),
        teams=team_rows(session, period, today, caller) if team is None else [],
        generated_at=now,
    )


def _carried_over(
    session: Session, team: str | None, period: Period, today: date, caller: Caller | None
) -> Carried:
    unfinished, overdue = session.execute(
        select(func.count(), func.count().filter(col(ActionItem.due_date) < today)).where(
            *dashboard_service.committed_items(team, caller),
            col(ActionItem.status).in_(dashboard_service.UNFINISHED_VALUES),
            col(ActionItem.incident_started_at) < period.since,
        )
    ).one()
    return Carried(open=int(unfinished), overdue=int(overdue))


def week_starts(now: datetime, weeks: int = TREND_WEEKS) -> list[datetime]:
    """The Mondays (00:00 UTC) of the last `weeks` weeks, oldest first, this week's last."""
    this_monday = datetime(now.year, now.month, now.day, tzinfo=UTC) - timedelta(days=now.weekday())
    return [this_monday - timedelta(weeks=back) for back in range(weeks - 1, -1, -1)]


def open_per_week(
    session: Session,
    team: str | None,
    now: datetime,
    weeks: int = TREND_WEEKS,
    caller: Caller | None = None,
) -> list[WeekPoint]:
    """Committed items open at the end of each week: created before it and not closed (as done
    or won't do) by then. A reopened item has no close time, so it counts as open since it was
    created. Three index ranges: items never closed and created before the first week ended
    (open all along, one count), the rest of the never closed, and those closed since."""
    starts = week_starts(now, weeks)
    ends = [*starts[1:], now]
    committed = dashboard_service.committed_items(team, caller)
    never_closed = col(ActionItem.closed_at).is_(None)
    open_all_along = session.execute(
        select(func.count()).where(never_closed, col(ActionItem.created_at) < ends[0], *committed)
    ).scalar_one()
    counts = [int(open_all_along)] * weeks
    for recent in (
        and_(never_closed, col(ActionItem.created_at) >= ends[0]),
        col(ActionItem.closed_at) >= ends[0],
    ):
        open_at = [
            func.count().filter(
                col(ActionItem.created_at) < end,
                or_(col(ActionItem.closed_at).is_(None), col(ActionItem.closed_at) >= end),
            )
            for end in ends
        ]
        row = session.execute(
            select(*open_at).where(recent, col(ActionItem.created_at) < now, *committed)
        ).one()
        counts = [total + int(count) for total, count in zip(counts, row, strict=True)]
    return [
        WeekPoint(week_of=start.date(), open=count)
        for start, count in zip(starts, counts, strict=True)
    ]


def team_rows(
    session: Session, period: Period, today: date, caller: Caller | None = None
) -> list[TeamRow]:
    """One row per team with an incident in the period: incidents and its items by status.
    Two grouped queries, whatever the number of teams."""
    filters = dashboard_service.Filters(period=period, caller=caller)
    in_period = dashboard_service.period_postmortems_where(filters)
    incidents = {
        slug or NO_TEAM: int(count)
        for slug, count in session.execute(
            select(col(Team.slug), func.count())
            .select_from(Postmortem)
            .outerjoin(Team, col(Team.id) == Postmortem.team_id)
            .where(*in_period)
            .group_by(col(Team.slug))
        ).all()
    }
    counts: dict[str, dict[str, int]] = {slug: {} for slug in incidents}
    late: dict[str, int] = {}
    for slug, status, count, overdue in session.execute(
        select(
            col(Team.slug),
            col(ActionItem.status),
            func.count(),
            func.count().filter(
                and_(
                    col(ActionItem.due_date) < today,
                    col(ActionItem.status).in_(dashboard_service.UNFINISHED_VALUES),
                )
            ),
        )
        .select_from(ActionItem)
        .join(Postmortem, col(Postmortem.id) == ActionItem.postmortem_id)
        .outerjoin(Team, col(Team.id) == Postmortem.team_id)
        .where(*dashboard_service.period_items_where(filters))
        .group_by(col(Team.slug), col(ActionItem.status))
    ).all():
        name = slug or NO_TEAM
        counts.setdefault(name, {})[status] = int(count)
        late[name] = late.get(name, 0) + int(overdue)
    rows = [
        TeamRow(
            team=name,
            incidents=incidents.get(name, 0),
            open=sum(by_status.get(s, 0) for s in dashboard_service.UNFINISHED_VALUES),
            closed=by_status.get(S.CLOSED.value, 0),
            verified=by_status.get(S.VERIFIED.value, 0),
            wont_do=by_status.get(S.WONT_DO.value, 0),
            overdue=late.get(name, 0),
        )
        for name, by_status in counts.items()
    ]
    # Most open work first: the team that needs a nudge is at the top.
    return sorted(rows, key=lambda row: (-row.open, -row.overdue, row.team))
