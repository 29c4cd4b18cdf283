"""Formatting for the wall page's templates: numbers people read from across a room."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from app.dashboard.schemas import Period
from app.wall.service import WeekPoint

CHART_WIDTH = 600
CHART_HEIGHT = 84
AXIS_ROOM = 22  # below the bars, for week labels
LABEL_ROOM = 18  # above each bar, for its count


def percent(share: float | None) -> str:
    return "\N{EN DASH}" if share is None else f"{round(share * 100)}%"


def days(value: float) -> str:
    whole = int(value)
    return "1 day" if whole == 1 else f"{whole} days"


def short_date(value: date | datetime | str | None) -> str:
    if value is None:
        return "no due date"
    if isinstance(value, str):
        value = date.fromisoformat(value)
    return f"{value:%b} {value.day}"


def period_text(period: Period) -> str:
    """'Oct 1 to Dec 31', with a dash: the period's last day, not its exclusive end."""
    return f"{short_date(period.since)} \N{EN DASH} {short_date(period.until - timedelta(microseconds=1))}"


def clock(value: datetime) -> str:
    return f"{value:%H:%M} UTC"


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    point: WeekPoint


def trend_bars(points: Sequence[WeekPoint]) -> list[Bar]:
    """Bar geometry for the open-items trend, scaled to the busiest week."""
    if not points:
        return []
    tallest = max(point.open for point in points) or 1
    slot = CHART_WIDTH / len(points)
    usable = CHART_HEIGHT - LABEL_ROOM
    bars = []
    for index, point in enumerate(points):
        height = usable * point.open / tallest
        bars.append(
            Bar(
                x=index * slot + slot * 0.15,
                y=CHART_HEIGHT - height,
                width=slot * 0.7,
                height=height,
                point=point,
            )
        )
    return bars


# What the trend's SVG needs to lay itself out.
chart = {"width": CHART_WIDTH, "height": CHART_HEIGHT, "axis": AXIS_ROOM}
TEAM_ROWS_SHOWN = 8

filters: dict[str, Callable[..., Any]] = {
    "percent": percent,
    "days": days,
    "short_date": short_date,
    "clock": clock,
    "period_text": period_text,
    "trend_bars": trend_bars,
}
