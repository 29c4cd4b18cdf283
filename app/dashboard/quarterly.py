"""The quarterly meta-review as Markdown: what changed, what recurs, what is still open."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from sqlmodel import Session

from app.auth.service import Caller
from app.dashboard import items as dashboard_items
from app.dashboard import patterns as patterns_service
from app.dashboard import service as dashboard_service
from app.dashboard.schemas import Period
from app.errors import InvalidInput, field_error
from app.postmortems import outcome
from app.settings import CheckPolicy

_QUARTER = re.compile(r"^(?P<year>19[7-9]\d|2\d{3})Q(?P<q>[1-4])$")


def period_of(quarter: str) -> Period:
    match = _QUARTER.match(quarter)
    if match is None:
        raise InvalidInput(
            f"quarter must look like 2026Q3, not {quarter!r}",
            errors=[field_error("query.quarter", "not YYYYQn")],
        )
    year, q = int(match.group("year")), int(match.group("q"))
    since = datetime(year, 3 * q - 2, 1, tzinfo=UTC)
    until = datetime(year + (q == 4), 1 if q == 4 else 3 * q + 1, 1, tzinfo=UTC)
    return Period(since=since, until=until)


def _cell(value: str) -> str:
    return " ".join(value.split()).replace("|", "\\|")


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.0f}%"


def render(
    session: Session,
    quarter: str,
    policy: CheckPolicy,
    *,
    read_window_days: int = dashboard_service.DEFAULT_READ_WINDOW_DAYS,
    caller: Caller | None = None,
) -> str:
    period = period_of(quarter)
    summary = dashboard_service.summary(
        session,
        dashboard_service.Filters(period=period, caller=caller),
        policy,
        read_window_days=read_window_days,
    )
    found = patterns_service.find(session, period, caller=caller)
    late = dashboard_items.open_items(
        session, team=None, overdue=True, status="open", limit=500, period=period, caller=caller
    )
    items = summary.action_items
    lines = [
        f"# Postmortem meta-review, {quarter}",
        "",
        f"{summary.postmortems} incidents had a postmortem; {summary.postmortems_complete} are complete.",
        "",
        "## Did the changes ship?",
        "",
        f"- Committed action items: {items.committed} ({items.verified} verified, {items.closed} closed but not "
        f"verified, {items.wont_do} won't do, {items.open} still open, {items.overdue} overdue)",
        f"- Completion rate (verified): {_pct(summary.completion_rate)}; close rate: {_pct(summary.close_rate)}",
        f"- Median days to close: {summary.median_days_to_close if summary.median_days_to_close is not None else 'n/a'}; "
        f"to verify: {summary.median_days_to_verify if summary.median_days_to_verify is not None else 'n/a'}",
        f"- Median review lag: {summary.median_review_lag_hours if summary.median_review_lag_hours is not None else 'n/a'} h; "
        f"reviewed within {policy.review_window_hours} h: {_pct(summary.reviewed_within_window_share)}",
        f"- Timelines written during the incident: {_pct(summary.timeline_during_incident_share)}",
        f"- Read outside the team within {read_window_days} days of publishing: "
        f"{_pct(summary.read_outside_team_share)}",
        "",
        "## What keeps coming back",
        "",
    ]
    if found.patterns:
        for pattern in found.patterns:
            refs = ", ".join(p.incident_ref for p in pattern.postmortems)
            lines.append(
                f"- {pattern.kind.replace('_', ' ')} **{pattern.value}**: {pattern.count} incidents ({refs})"
            )
    else:
        lines.append("_Nothing recurred in two or more postmortems._")
    recurrences = summary.recurrences
    lines += [
        "",
        "## Recurrences",
        "",
        f"{recurrences.total} incidents repeated an earlier one; for {recurrences.earlier_complete} of them the "
        "earlier postmortem was already complete, so its fix did not hold.",
        "",
    ]
    if recurrences.outcomes:
        labels = [outcome.MEASURE_LABELS[name] for name in outcome.MEASURES]
        lines += [
            "Was the team better equipped the second time? Now vs then, in minutes from the "
            "incident's start (the last one from the first alert); lower is better.",
            "",
            "| Incident | Repeats | " + " | ".join(labels) + " | Overall |",
            "|---|---|" + "---|" * len(labels) + "---|",
        ]
        for comparison in recurrences.outcomes:
            cells = [outcome.now_vs_then(m) for m in comparison.measures]
            lines.append(
                f"| {_cell(comparison.incident_ref)} | {_cell(comparison.earlier_incident_ref)} | "
                + " | ".join(cells)
                + f" | {comparison.verdict} |"
            )
        lines.append("")
    lines += [
        "## Still open past their due date",
        "",
    ]
    if late:
        lines += ["| Item | Owner | Due | Age (days) | Ticket |", "|---|---|---|---|---|"]
        for item in late:
            ticket = f"[{item.ticket_key}]({item.ticket_url})" if item.ticket_url else "-"
            title = item.title.replace("|", "\\|")
            lines.append(
                f"| {title} | {item.owner or '-'} | {item.due_date} | {item.age_days:g} | {ticket} |"
            )
    else:
        lines.append("_None._")
    return "\n".join(lines) + "\n"
