"""The numbers a team reads off its wall: set-based SQL over the period's postmortems.

Every figure is one aggregate query (medians use percentile_cont on PostgreSQL; SQLite, which
has none, fetches the one column of durations and takes the median in Python).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    Subquery,
    exists,
    func,
    select,
    text,
    union_all,
)
from sqlalchemy.orm import aliased
from sqlmodel import Session, col

from app.action_items.models import ActionItem
from app.action_items.state import UNFINISHED
from app.auth import boundary
from app.auth.service import Caller
from app.checks.waivers import CheckWaiver
from app.dashboard.schemas import (
    ItemCounts,
    OldestOpen,
    Period,
    PublishedWithWaivers,
    Recurrences,
    Summary,
)
from app.enums import ActionItemStatus as S
from app.enums import ChainLevel, PostmortemStatus
from app.people.models import Person, Team
from app.postmortems import outcome
from app.postmortems.models import (
    Postmortem,
    PostmortemReader,
    PostmortemRecurrence,
    PostmortemService,
)
from app.settings import CheckPolicy, Settings
from app.tickets.models import TicketLink
from app.timeline.models import TimelineEntry

UNFINISHED_VALUES = [s.value for s in UNFINISHED]
# Items whose time to close counts: done, and done then verified (not won't-do).
CLOSE_TIMED_VALUES = [S.CLOSED.value, S.VERIFIED.value]
# Items whose time to verification counts: closed (at some point) and verified.
_VERIFY_TIMED: list[ColumnElement[bool]] = [
    col(ActionItem.microseconds_to_close).is_not(None),
    col(ActionItem.microseconds_to_verify).is_not(None),
]
DAY = 86400
STATUS_VALUES = [s.value for s in S]
LEVEL_VALUES = [level.value for level in ChainLevel]
DEFAULT_READ_WINDOW_DAYS: int = Settings.model_fields["read_window_days"].default


def current_quarter(now: datetime | None = None) -> Period:
    now = now or datetime.now(UTC)
    first_month = 3 * ((now.month - 1) // 3) + 1
    since = datetime(now.year, first_month, 1, tzinfo=UTC)
    until = datetime(now.year + (first_month == 10), (first_month + 2) % 12 + 1, 1, tzinfo=UTC)
    return Period(since=since, until=until)


@dataclass(frozen=True)
class Filters:
    period: Period
    team: str | None = None
    service: str | None = None
    severity: str | None = None
    chain_level: str | None = None  # narrows the action-item figures only
    # Whose figures: a team-scoped caller counts its teams only, and only admins and a team's
    # own tokens count restricted postmortems. None counts everything (internal use).
    caller: Caller | None = None

    @property
    def narrows_postmortems(self) -> bool:
        """Whether the postmortem filters go beyond the period (the caller is applied apart,
        by excluding, so an org-wide caller's figures stay on the period indexes)."""
        return self.team is not None or self.service is not None or self.severity is not None


def period_postmortems_where(filters: Filters) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [
        col(Postmortem.started_at) >= filters.period.since,
        col(Postmortem.started_at) < filters.period.until,
    ]
    if filters.team is not None:
        # Through coalesce, a no-op, so that SQLite reads the period index (which has the team)
        # rather than the team index, which holds every period's postmortems and not their start.
        team_id = func.coalesce(col(Postmortem.team_id), col(Postmortem.team_id))
        conditions.append(team_id.in_(select(col(Team.id)).where(col(Team.slug) == filters.team)))
    if filters.service is not None:
        conditions.append(
            exists().where(
                col(PostmortemService.postmortem_id) == Postmortem.id,
                col(PostmortemService.name) == filters.service,
            )
        )
    if filters.severity is not None:
        conditions.append(col(Postmortem.severity) == filters.severity)
    conditions.append(boundary.postmortems_where(filters.caller))
    return conditions


def committed_items(
    team: str | None = None, caller: Caller | None = None
) -> list[ColumnElement[bool]]:
    """Committed action items, of any period, of the team's postmortems when a team is named,
    and of the postmortems the caller may see."""
    conditions: list[ColumnElement[bool]] = [
        col(ActionItem.committed) == True,  # noqa: E712 - "IS 1" would keep SQLite off the index
        boundary.postmortem_ids_where(caller, ActionItem.postmortem_id),
    ]
    if team is not None:
        conditions.append(
            col(ActionItem.postmortem_id).in_(
                select(col(Postmortem.id))
                .join(Team, col(Team.id) == Postmortem.team_id)
                .where(col(Team.slug) == team)
            )
        )
    return conditions


def _postmortem_ids(filters: Filters) -> Select[Any]:
    return select(col(Postmortem.id)).where(*period_postmortems_where(filters))


def period_items_where(filters: Filters) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [
        col(ActionItem.committed) == True,  # noqa: E712 - "IS 1" would keep SQLite off the index
        col(ActionItem.incident_started_at) >= filters.period.since,
        col(ActionItem.incident_started_at) < filters.period.until,
    ]
    conditions.append(boundary.postmortem_ids_where(filters.caller, ActionItem.postmortem_id))
    if filters.narrows_postmortems:
        conditions.append(col(ActionItem.postmortem_id).in_(_postmortem_ids(filters)))
    if filters.chain_level is not None:
        conditions.append(
            col(ActionItem.chain_level).is_(None)
            if filters.chain_level == "unset"
            else col(ActionItem.chain_level) == filters.chain_level
        )
    return conditions


def _seconds_between(session: Session, start: Any, end: Any) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        return func.extract("epoch", end - start)
    return (func.julianday(end) - func.julianday(start)) * 86400.0


def _named(
    where: list[ColumnElement[bool]], statuses: list[str], by_level: bool
) -> list[list[ColumnElement[bool]]]:
    """`where` naming the statuses; `by_level`, split in two, items with a chain level and items
    without, naming the levels too (as their enums allow), so that it reads one range of the
    level and status index per level and status, in that index's order, instead of every item
    of the period. A team, service or severity is better served by its postmortems' items."""
    named = [*where, col(ActionItem.status).in_(statuses)]
    if not by_level:
        return [named]
    return [
        [*named, col(ActionItem.chain_level).in_(LEVEL_VALUES)],
        [*named, col(ActionItem.chain_level).is_(None)],
    ]


def _item_counts(
    session: Session, items_where: list[ColumnElement[bool]], today: date, by_level: bool
) -> list[tuple[Any, ...]]:
    """Per status and chain level: how many items, how many past due, the oldest creation, and
    how many durations each median will sort (status, count, late, first, level, closes,
    verifies). The groups come out in the status index's order, so no row is sorted."""
    figures = (
        col(ActionItem.status),
        func.count(),
        func.count().filter(col(ActionItem.due_date) < today),
        func.min(ActionItem.created_at),
        col(ActionItem.chain_level),
        func.count(col(ActionItem.microseconds_to_close)),
        func.count().filter(*_VERIFY_TIMED),
    )
    return [
        tuple(row)
        for where in _named(items_where, STATUS_VALUES, by_level)
        for row in session.execute(
            select(*figures)
            .where(*where)
            .group_by(col(ActionItem.chain_level), col(ActionItem.status))
        )
    ]


def _duration_medians(
    session: Session,
    items_where: list[ColumnElement[bool]],
    closes: dict[str, int],
    verifies: dict[str, int],
    by_level: bool,
) -> tuple[float | None, float | None]:
    """Median seconds from creation to close (of items closed or verified) and to verification.
    SQLite sorts the stored microseconds of the statuses that have any, and reads the middle of
    the counts per status the status pass made (same transaction, same rows, same conditions)."""
    close = col(ActionItem.microseconds_to_close)
    verify = col(ActionItem.microseconds_to_verify)
    to_close = [*items_where, close.is_not(None)]
    to_verify = [*items_where, *_VERIFY_TIMED]
    found: tuple[Any, ...]
    if session.get_bind().dialect.name == "postgresql":
        found = tuple(
            session.execute(
                select(
                    func.percentile_cont(0.5)
                    .within_group(close)
                    .filter(col(ActionItem.status).in_(CLOSE_TIMED_VALUES)),
                    func.percentile_cont(0.5).within_group(verify).filter(verify.is_not(None)),
                ).where(*to_close)
            ).one()
        )
    else:
        found = (
            _sqlite_middle(
                session,
                _values(close, _named(to_close, list(closes), by_level)),
                sum(closes.values()),
            ),
            _sqlite_middle(
                session,
                _values(verify, _named(to_verify, list(verifies), by_level)),
                sum(verifies.values()),
            ),
        )
    close_median, verify_median = (float(v) / 1_000_000 if v is not None else None for v in found)
    return close_median, verify_median


def _values(value: Any, parts: list[list[ColumnElement[bool]]]) -> Subquery:
    """The one column `value` of the rows meeting any of `parts` (which do not overlap)."""
    selects = [select(value.label("value")).where(*where) for where in parts]
    return union_all(*selects).subquery() if len(selects) > 1 else selects[0].subquery()


def _sqlite_middle(session: Session, values: Subquery, count: int) -> Any:
    """The median of the `count` rows of `values` (SQLite has no percentile): sort them in SQL
    and read the middle one or two, so only those come back."""
    if count == 0:
        return None
    middle = (
        select(values.c.value)
        .order_by(values.c.value)
        .limit(2 - count % 2)
        .offset((count - 1) // 2)
        .subquery()
    )
    return session.execute(select(func.avg(middle.c.value))).scalar()


def _review_figures(
    session: Session, in_period: list[ColumnElement[bool]], policy: CheckPolicy, now: datetime
) -> tuple[float | None, int, int]:
    """(median seconds from resolution to review, reviews held within the window, reviews
    judged). A review still inside its window is not judged yet; every held one is."""
    # Stored exact on the postmortem (and in its period index), in microseconds.
    lag = col(Postmortem.microseconds_to_review)
    held = col(Postmortem.review_held_at).is_not(None)
    window = policy.review_window_hours * 3600 * 1_000_000
    judged_where: list[ColumnElement[bool]] = [
        *in_period,
        col(Postmortem.resolved_at).is_not(None),
        held | (col(Postmortem.resolved_at) < now - timedelta(microseconds=window)),
    ]
    counts = [func.count().filter(held, lag <= window), func.count(), func.count().filter(held)]
    if session.get_bind().dialect.name == "postgresql":
        median = func.percentile_cont(0.5).within_group(lag).filter(held)
        within, judged, _, found = session.execute(
            select(*counts, median).where(*judged_where)
        ).one()
    else:
        within, judged, reviews = session.execute(select(*counts).where(*judged_where)).one()
        found = _sqlite_middle(session, _values(lag, [[*judged_where, held]]), int(reviews))
    seconds = float(found) / 1_000_000 if found is not None else None
    return seconds, int(within), int(judged)


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def summary(
    session: Session,
    filters: Filters,
    policy: CheckPolicy,
    now: datetime | None = None,
    *,
    read_window_days: int = DEFAULT_READ_WINDOW_DAYS,
) -> Summary:
    now = now or datetime.now(UTC)
    today = now.date()
    in_period = period_postmortems_where(filters)

    total, complete = session.execute(
        select(
            func.count(),
            func.count().filter(col(Postmortem.status) == PostmortemStatus.COMPLETE.value),
        ).where(*in_period)
    ).one()

    items_where = period_items_where(filters)
    by_level = not filters.narrows_postmortems
    rows = _item_counts(session, items_where, today, by_level)
    by_status: dict[str, int] = {}
    levels: dict[str, int] = {}
    # Per status, how many durations each median sorts; the statuses with none (for the time
    # to verify, all but verified) are left out of its ranges.
    closes: dict[str, int] = {}
    verifies: dict[str, int] = {}
    for status, count, _, _, level, timed_closes, timed_verifies in rows:
        by_status[status] = by_status.get(status, 0) + int(count)
        levels[level or "unset"] = levels.get(level or "unset", 0) + int(count)
        if timed_closes and status in CLOSE_TIMED_VALUES:
            closes[status] = closes.get(status, 0) + int(timed_closes)
        if timed_verifies:
            verifies[status] = verifies.get(status, 0) + int(timed_verifies)
    unfinished = [row for row in rows if row[0] in UNFINISHED_VALUES]
    overdue = sum(int(row[2]) for row in unfinished)
    firsts = [row[3] for row in unfinished if row[3] is not None]
    committed = sum(by_status.values())
    counts = ItemCounts(
        committed=committed,
        open=sum(by_status.get(s, 0) for s in UNFINISHED_VALUES),
        closed=by_status.get(S.CLOSED.value, 0),
        wont_do=by_status.get(S.WONT_DO.value, 0),
        verified=by_status.get(S.VERIFIED.value, 0),
        overdue=overdue,
    )

    to_close, to_verify = _duration_medians(session, items_where, closes, verifies, by_level)

    review_lag, within, judged = _review_figures(session, in_period, policy, now)
    during, with_timeline = _timeline_shares(session, filters, policy)
    return Summary(
        period=filters.period,
        postmortems=total,
        postmortems_complete=complete,
        postmortems_not_complete=total - complete,
        action_items=counts,
        oldest_unclosed=_oldest(session, items_where, min(firsts), now) if firsts else None,
        completion_rate=_ratio(counts.verified, committed),
        close_rate=_ratio(counts.closed + counts.verified, committed),
        median_days_to_close=round(to_close / DAY, 2) if to_close is not None else None,
        median_days_to_verify=round(to_verify / DAY, 2) if to_verify is not None else None,
        median_review_lag_hours=round(review_lag / 3600, 2) if review_lag is not None else None,
        reviewed_within_window_share=_ratio(within, judged),
        timeline_during_incident_share=_ratio(during, with_timeline),
        fixes_by_chain_level=levels,
        recurrences=_recurrences(session, in_period),
        read_outside_team_share=_read_outside_team_share(session, in_period, read_window_days, now),
        published_with_waivers=_published_with_waivers(session, in_period),
    )


def _published_with_waivers(
    session: Session, in_period: list[ColumnElement[bool]]
) -> PublishedWithWaivers:
    # Waivers are few and postmortems many: read the waivers and look up each one's postmortem,
    # rather than probe the waivers once per postmortem of the period.
    waived_postmortem = exists().where(
        col(Postmortem.id) == CheckWaiver.postmortem_id,
        *in_period,
        col(Postmortem.published_at).is_not(None),
    )
    postmortems, waivers = session.execute(
        select(func.count(func.distinct(col(CheckWaiver.postmortem_id))), func.count()).where(
            col(CheckWaiver.applied_at_publish) == True,  # noqa: E712
            waived_postmortem,
        )
    ).one()
    return PublishedWithWaivers(postmortems=int(postmortems), waivers=int(waivers))


def _recurrences(session: Session, in_period: list[ColumnElement[bool]]) -> Recurrences:
    earlier = aliased(Postmortem)
    held_not, total = session.execute(
        select(
            func.count().filter(
                col(earlier.completed_at).is_not(None),
                col(earlier.completed_at) <= Postmortem.started_at,
            ),
            func.count(),
        )
        .select_from(PostmortemRecurrence)
        .join(Postmortem, col(Postmortem.id) == PostmortemRecurrence.postmortem_id)
        .join(earlier, col(earlier.id) == PostmortemRecurrence.earlier_id)
        .where(*in_period)
    ).one()
    repeats = session.execute(
        select(col(Postmortem.id))
        .where(*in_period, exists().where(col(PostmortemRecurrence.postmortem_id) == Postmortem.id))
        .order_by(col(Postmortem.started_at), col(Postmortem.id))
    ).scalars()
    found = outcome.of_postmortems(session, list(repeats))
    outcomes = [comparison for comparisons in found.values() for comparison in comparisons]
    by_verdict: dict[str, int] = {}
    for comparison in outcomes:
        by_verdict[comparison.verdict] = by_verdict.get(comparison.verdict, 0) + 1
    return Recurrences(
        total=total,
        earlier_complete=held_not,
        earlier_not_complete=total - held_not,
        outcomes=outcomes,
        by_verdict=by_verdict,
    )


def _read_outside_team_share(
    session: Session, in_period: list[ColumnElement[bool]], window_days: int, now: datetime
) -> float | None:
    """Share of published postmortems read by someone outside the team within the window after
    publishing. One still inside its window and not yet read from outside is not judged yet."""
    window = window_days * 86400
    read_in_time = exists().where(
        col(PostmortemReader.postmortem_id) == Postmortem.id,
        col(PostmortemReader.outside_team) == True,  # noqa: E712
        _seconds_between(session, Postmortem.published_at, PostmortemReader.read_at) <= window,
    )
    within, judged = session.execute(
        select(func.count().filter(read_in_time), func.count()).where(
            *in_period,
            col(Postmortem.published_at).is_not(None),
            read_in_time | (col(Postmortem.published_at) < now - timedelta(seconds=window)),
        )
    ).one()
    return _ratio(int(within), int(judged))


def _timeline_shares(session: Session, filters: Filters, policy: CheckPolicy) -> tuple[int, int]:
    """(postmortems whose timeline was written during the incident, postmortems judged). The
    entries carry copies of their incident's start and resolution, so this reads one range of
    their period index and joins nothing unless the filters name a team, service or severity."""
    grace = policy.reconstructed_grace_minutes
    resolved = col(TimelineEntry.incident_resolved_at)
    if session.get_bind().dialect.name == "postgresql":
        cutoff: Any = resolved + text(f"interval '{int(grace)} minutes'")
    else:
        cutoff = func.datetime(resolved, f"+{int(grace)} minutes")
    late = func.count().filter(col(TimelineEntry.recorded_at) > cutoff)
    where: list[ColumnElement[bool]] = [
        col(TimelineEntry.incident_started_at) >= filters.period.since,
        col(TimelineEntry.incident_started_at) < filters.period.until,
        resolved.is_not(None),
    ]
    where.append(boundary.postmortem_ids_where(filters.caller, TimelineEntry.postmortem_id))
    if filters.narrows_postmortems:
        where.append(col(TimelineEntry.postmortem_id).in_(_postmortem_ids(filters)))
    # Grouped by the start copy too, which one postmortem's entries share: the groups then come
    # in the period index's own order and need no sort.
    per_postmortem = (
        select(func.count().label("entries"), late.label("late"))
        .where(*where)
        .group_by(col(TimelineEntry.incident_started_at), col(TimelineEntry.postmortem_id))
        .subquery()
    )
    reconstructed = per_postmortem.c.late >= per_postmortem.c.entries * policy.reconstructed_share
    during, judged = session.execute(
        select(func.count().filter(~reconstructed), func.count()).select_from(per_postmortem)
    ).one()
    return int(during), int(judged)


def _oldest(
    session: Session, items_where: list[ColumnElement[bool]], first: datetime, now: datetime
) -> OldestOpen | None:
    row = session.execute(
        select(ActionItem, col(Person.handle), col(TicketLink.url))
        .outerjoin(Person, col(Person.id) == ActionItem.owner_person_id)
        .outerjoin(TicketLink, col(TicketLink.action_item_id) == ActionItem.id)
        .where(
            *items_where,
            col(ActionItem.status).in_(UNFINISHED_VALUES),
            col(ActionItem.created_at) == first,
        )
        .order_by(col(ActionItem.id))
        .limit(1)
    ).first()
    if row is None:
        return None
    item, handle, url = row
    return OldestOpen(
        id=item.id,
        title=item.title,
        owner=handle,
        age_days=round((now - item.created_at).total_seconds() / 86400, 1),
        ticket_url=url,
        postmortem_id=item.postmortem_id,
    )


def group_values(session: Session, filters: Filters, group_by: str) -> list[str]:
    pm_ids = _postmortem_ids(filters)
    query: Select[Any]
    if group_by == "team":
        query = (
            select(col(Team.slug))
            .join(Postmortem, col(Postmortem.team_id) == Team.id)
            .where(col(Postmortem.id).in_(pm_ids))
        )
    elif group_by == "service":
        query = select(col(PostmortemService.name)).where(
            col(PostmortemService.postmortem_id).in_(pm_ids)
        )
    elif group_by == "severity":
        query = select(col(Postmortem.severity)).where(col(Postmortem.id).in_(pm_ids))
    else:
        query = select(col(ActionItem.chain_level)).where(*period_items_where(filters))
    return sorted(
        {str(v) if v is not None else "unset" for v in session.execute(query.distinct()).scalars()}
    )
