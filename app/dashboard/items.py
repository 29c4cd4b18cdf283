"""The lists a team lead reads: unfinished items with owner, due date, age, ticket link and
sync state, and the single oldest one.

Both pick their items on action_item alone, where an index gives the order, and join owners,
teams and tickets only for the few picked.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Select, and_, func, select, union_all
from sqlmodel import Session, col

from app.action_items.models import ActionItem
from app.auth.service import Caller
from app.dashboard.schemas import DashboardItem, Period
from app.dashboard.service import UNFINISHED_VALUES, committed_items
from app.people.models import Person, Team
from app.postmortems.models import Postmortem
from app.tickets.models import TicketLink


def open_items(
    session: Session,
    *,
    team: str | None,
    overdue: bool | None,
    status: str,
    limit: int,
    period: Period | None = None,
    now: datetime | None = None,
    caller: Caller | None = None,
) -> list[DashboardItem]:
    """The list a team lead reads: unfinished (or the given status) committed items, overdue
    first."""
    now = now or datetime.now(UTC)
    today = now.date()
    statuses = UNFINISHED_VALUES if status == "open" else [status]
    late = and_(col(ActionItem.due_date).is_not(None), col(ActionItem.due_date) < today)
    # Pick the items on action_item alone (its indexes give the order), then join the few
    # chosen for their owner, team and ticket.
    conditions = committed_items(team, caller)
    if period is not None:
        conditions += [
            col(ActionItem.incident_started_at) >= period.since,
            col(ActionItem.incident_started_at) < period.until,
        ]
    if overdue is not None:
        conditions.append(late if overdue else ~late)
    # Earliest due first puts every late item ahead of the rest, and no date last (a list of
    # late items has no undated ones, and plain ascending order is what a SQLite index gives).
    due = col(ActionItem.due_date).asc() if overdue else col(ActionItem.due_date).asc().nulls_last()
    order: list[Any] = [due, col(ActionItem.created_at), col(ActionItem.id)]
    chosen: Select[Any]
    if len(statuses) == 1:
        chosen = (
            select(col(ActionItem.id))
            .where(*conditions, col(ActionItem.status).in_(statuses))
            .order_by(*order)
            .limit(limit)
        )
    else:
        # The first few of each status, merged: neither database reads an IN list's index
        # ranges in one order, so a single query would sort every unfinished item.
        firsts = [
            select(col(ActionItem.id), col(ActionItem.due_date), col(ActionItem.created_at))
            .where(*conditions, col(ActionItem.status) == value)
            .order_by(*order)
            .limit(limit)
            .subquery()
            for value in statuses
        ]
        merged = union_all(*[select(first) for first in firsts]).subquery()
        merged_due = merged.c.due_date.asc() if overdue else merged.c.due_date.asc().nulls_last()
        chosen = (
            select(merged.c.id).order_by(merged_due, merged.c.created_at, merged.c.id).limit(limit)
        )
    return _listed(session, chosen, order, today, now)


def oldest_unfinished(
    session: Session,
    *,
    team: str | None,
    now: datetime | None = None,
    caller: Caller | None = None,
) -> DashboardItem | None:
    """The committed item that has been unfinished the longest, of any period. Found by its
    creation time (one covered scan of the unfinished items) rather than by sorting them."""
    now = now or datetime.now(UTC)
    unfinished = [*committed_items(team, caller), col(ActionItem.status).in_(UNFINISHED_VALUES)]
    first = select(func.min(ActionItem.created_at)).where(*unfinished).scalar_subquery()
    order: list[Any] = [col(ActionItem.id)]
    chosen = (
        select(col(ActionItem.id))
        .where(*unfinished, col(ActionItem.created_at) == first)
        .order_by(*order)
        .limit(1)
    )
    listed = _listed(session, chosen, order, now.date(), now)
    return listed[0] if listed else None


def _listed(
    session: Session, chosen: Select[Any], order: list[Any], today: date, now: datetime
) -> list[DashboardItem]:
    """The chosen items with their owner, team and ticket, in the given order."""
    unfinished = set(UNFINISHED_VALUES)
    query = (
        select(
            ActionItem,
            col(Person.handle),
            col(Team.slug),
            col(TicketLink.external_key),
            col(TicketLink.url),
        )
        .join(Postmortem, col(Postmortem.id) == ActionItem.postmortem_id)
        .outerjoin(Team, col(Team.id) == Postmortem.team_id)
        .outerjoin(Person, col(Person.id) == ActionItem.owner_person_id)
        .outerjoin(TicketLink, col(TicketLink.action_item_id) == ActionItem.id)
        .where(col(ActionItem.id).in_(chosen))
        .order_by(*order)
    )
    return [
        DashboardItem(
            id=item.id,
            title=item.title,
            owner=handle,
            team=slug,
            status=item.status,
            due_date=item.due_date.isoformat() if item.due_date else None,
            overdue=bool(item.due_date and item.due_date < today and item.status in unfinished),
            age_days=round((now - item.created_at).total_seconds() / 86400, 1),
            ticket_key=key,
            ticket_url=url,
            sync_state=item.sync_state,
            postmortem_id=item.postmortem_id,
        )
        for item, handle, slug, key, url in session.execute(query).all()
    ]
