from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse

from app.auth.deps import Reader
from app.auth.service import Caller
from app.dashboard import items as dashboard_items
from app.dashboard import patterns, quarterly
from app.dashboard import service as dashboard_service
from app.dashboard.patterns import Patterns
from app.dashboard.schemas import Breakdown, DashboardItems, Period, Summary
from app.db import SessionDep
from app.enums import Severity
from app.errors import InvalidInput, field_error
from app.settings import SettingsDep
from app.validation import ZonedDateTime

router = APIRouter(prefix="/v1/dashboard", tags=["dashboard"])


def _filters(
    since: ZonedDateTime | None,
    until: ZonedDateTime | None,
    team: str | None,
    service: str | None,
    severity: Severity | None,
    caller: Caller,
) -> dashboard_service.Filters:
    quarter = dashboard_service.current_quarter()
    period = Period(since=since or quarter.since, until=until or quarter.until)
    if period.until <= period.since:
        raise InvalidInput(
            "until must be after since", errors=[field_error("query.until", "not after since")]
        )
    return dashboard_service.Filters(
        period=period,
        team=team,
        service=service,
        severity=severity.value if severity else None,
        caller=caller,
    )


@router.get("/summary", response_model=Summary | Breakdown)
def summary(
    session: SessionDep,
    caller: Reader,
    settings: SettingsDep,
    team: str | None = None,
    service: str | None = None,
    severity: Severity | None = None,
    since: Annotated[
        ZonedDateTime | None,
        Query(description="Incidents started at or after; default: this quarter"),
    ] = None,
    until: Annotated[ZonedDateTime | None, Query(description="Incidents started before")] = None,
    group_by: Literal["team", "service", "severity", "chain_level"] | None = None,
) -> Summary | Breakdown:
    """Is the system changing? Counts, rates, medians and the oldest unclosed item for the
    period's postmortems (default: the current calendar quarter), optionally per group."""
    filters = _filters(since, until, team, service, severity, caller)
    if group_by is None:
        return dashboard_service.summary(
            session, filters, settings.checks, read_window_days=settings.read_window_days
        )
    groups = {}
    for value in dashboard_service.group_values(session, filters, group_by):
        field = "chain_level" if group_by == "chain_level" else group_by
        narrowed = dashboard_service.Filters(**{**filters.__dict__, field: value})
        groups[value] = dashboard_service.summary(
            session, narrowed, settings.checks, read_window_days=settings.read_window_days
        )
    return Breakdown(group_by=group_by, groups=groups)


@router.get("/action-items", response_model=DashboardItems)
def action_items(
    session: SessionDep,
    caller: Reader,
    status: Literal["open", "closed", "wont_do", "verified"] = "open",
    overdue: bool | None = None,
    team: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> DashboardItems:
    """The list a team lead reads: owner, due date, age, ticket link and sync state; overdue first."""
    items = dashboard_items.open_items(
        session, team=team, overdue=overdue, status=status, limit=limit, caller=caller
    )
    return DashboardItems(items=items)


patterns_router = APIRouter(prefix="/v1/patterns", tags=["dashboard"])


@patterns_router.get("", response_model=Patterns)
def recurring_patterns(
    session: SessionDep,
    caller: Reader,
    since: Annotated[ZonedDateTime | None, Query(description="Default: this quarter")] = None,
    until: ZonedDateTime | None = None,
) -> Patterns:
    """What recurs across the period's postmortems (in two or more): failure-mode tags,
    services, condition categories, chain levels that contributed, and what slowed detection;
    strongest first, each with the postmortems behind it."""
    filters = _filters(since, until, None, None, None, caller)
    return patterns.find(session, filters.period, caller=caller)


reviews_router = APIRouter(prefix="/v1/reviews", tags=["dashboard"])


@reviews_router.get(
    "/quarterly",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/markdown": {"schema": {"type": "string"}}}}},
)
def quarterly_review(
    session: SessionDep,
    caller: Reader,
    settings: SettingsDep,
    quarter: Annotated[
        str, Query(pattern=r"^(19[7-9]\d|2\d{3})Q[1-4]$", description="e.g. 2026Q3")
    ],
) -> PlainTextResponse:
    """The quarter's meta-review as Markdown: counts, recurring patterns, recurrences (and
    whether the team was better equipped the second time), and the items still open past their
    due date."""
    text = quarterly.render(
        session,
        quarter,
        settings.checks,
        read_window_days=settings.read_window_days,
        caller=caller,
    )
    return PlainTextResponse(text, media_type="text/markdown; charset=utf-8")
