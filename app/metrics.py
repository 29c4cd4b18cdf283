"""Prometheus metrics: gauges computed from aggregate queries (cached briefly, so a scrape is
cheap), plus the worker's own histograms and counters. No label names an individual item."""

from __future__ import annotations

import threading
import time
from collections.abc import Collection, Iterator
from datetime import UTC, datetime

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    start_http_server,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlmodel import col

from app.action_items.models import ActionItem
from app.action_items.state import UNFINISHED
from app.db import session_scope
from app.integrations.models import Integration
from app.people.models import Team
from app.postmortems.models import Postmortem
from app.sync.budget import WAITING_PREFIX as BUDGET_WAITING
from app.sync.models import Job
from app.webhooks.models import WebhookDelivery

# Observed by the worker in whichever process it runs.
PROCESS_REGISTRY = CollectorRegistry()
SYNC_LATENCY = Histogram(
    "followthrough_sync_latency_seconds",
    "From a sync job being queued to its ticket call succeeding",
    ["operation"],
    buckets=(0.1, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600),
    registry=PROCESS_REGISTRY,
)
RECONCILIATION_DRIFT = Counter(
    "followthrough_reconciliation_drift",
    "Differences between trackers and the service found by reconciliation",
    registry=PROCESS_REGISTRY,
)
SYNC_BUDGET_WAITS = Counter(
    "followthrough_sync_budget_waits",
    "Outbound jobs held back because their tracker's write budget was spent",
    ["integration"],
    registry=PROCESS_REGISTRY,
)
WEBHOOK_DELIVERIES_PROCESSED = Counter(
    "followthrough_webhook_deliveries_processed",
    "Deliveries the worker applied: 'applied' when an event concerned one of our tickets,"
    " 'foreign' when none did",
    ["outcome"],
    registry=PROCESS_REGISTRY,
)
RETENTION_PURGED = Counter(
    "followthrough_retention_purged",
    "Rows retention removed: deliveries and jobs deleted, delivery bodies emptied",
    ["what"],
    registry=PROCESS_REGISTRY,
)


class DatabaseCollector(Collector):
    """Aggregates over the whole database, recomputed at most every `ttl` seconds."""

    def __init__(self, engine: Engine, ttl: float) -> None:
        self.engine = engine
        self.ttl = ttl
        self._lock = threading.Lock()
        self._cached: tuple[float, list[Metric]] | None = None

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            if self._cached is None or time.monotonic() - self._cached[0] > self.ttl:
                self._cached = (time.monotonic(), self._compute())
            yield from self._cached[1]

    def _compute(self) -> list[Metric]:
        unfinished = [s.value for s in UNFINISHED]
        now = datetime.now(UTC)
        items = GaugeMetricFamily(
            "followthrough_action_items", "Committed action items", labels=["team", "status"]
        )
        overdue = GaugeMetricFamily(
            "followthrough_action_items_overdue", "Committed items past due", labels=["team"]
        )
        oldest = GaugeMetricFamily(
            "followthrough_oldest_open_action_item_age_seconds",
            "Age of the oldest unfinished item",
            labels=["team"],
        )
        postmortems = GaugeMetricFamily(
            "followthrough_postmortems", "Postmortems", labels=["status"]
        )
        jobs = GaugeMetricFamily(
            "followthrough_sync_jobs", "Background jobs by state and lane", labels=["state", "lane"]
        )
        deliveries = GaugeMetricFamily(
            "followthrough_webhook_deliveries",
            "Webhook deliveries stored, by outcome; foreign and ignored ones are deleted a few"
            " hours after they were processed (FOLLOWTHROUGH_RETENTION__UNUSED_DELIVERY_HOURS)",
            labels=["integration", "outcome"],
        )
        waiting = GaugeMetricFamily(
            "followthrough_sync_jobs_waiting_for_budget",
            "Outbound jobs held until their tracker's write budget frees a slot",
            labels=["integration"],
        )
        team = func.coalesce(Team.slug, "none")
        with session_scope(self.engine, read_only=True) as session:
            rows = session.execute(
                select(
                    team,
                    col(ActionItem.status),
                    func.count(),
                    func.count().filter(col(ActionItem.due_date) < now.date()),
                    func.min(ActionItem.created_at),
                )
                .join(Postmortem, col(Postmortem.id) == ActionItem.postmortem_id)
                .outerjoin(Team, col(Team.id) == Postmortem.team_id)
                .where(col(ActionItem.committed) == True)  # noqa: E712
                .group_by(team, col(ActionItem.status))
            ).all()
            late_by_team: dict[str, int] = {}
            oldest_by_team: dict[str, datetime] = {}
            for slug, status, count, late, first in rows:
                items.add_metric([slug, status], count)
                if status in unfinished:
                    late_by_team[slug] = late_by_team.get(slug, 0) + late
                    if first is not None:
                        first = first if first.tzinfo else first.replace(tzinfo=UTC)
                        oldest_by_team[slug] = min(first, oldest_by_team.get(slug, first))
            for slug, late in late_by_team.items():
                overdue.add_metric([slug], late)
            for slug, first in oldest_by_team.items():
                oldest.add_metric([slug], (now - first).total_seconds())
            for status, count in session.execute(
                select(col(Postmortem.status), func.count()).group_by(col(Postmortem.status))
            ):
                postmortems.add_metric([status], count)
            for state, lane, count in session.execute(
                select(col(Job.status), col(Job.lane), func.count()).group_by(
                    col(Job.status), col(Job.lane)
                )
            ):
                jobs.add_metric([state, lane], count)
            for name, outcome, count in session.execute(
                select(col(Integration.name), col(WebhookDelivery.outcome), func.count())
                .join(Integration, col(Integration.id) == WebhookDelivery.integration_id)
                .group_by(col(Integration.name), col(WebhookDelivery.outcome))
            ):
                deliveries.add_metric([name, outcome], count)
            for name, count in session.execute(
                select(col(Integration.name), func.count())
                .select_from(Job)
                .join(Integration, col(Integration.id) == Job.integration_id)
                .where(
                    col(Job.status) == "pending",
                    col(Job.available_at) > now,
                    col(Job.last_error).startswith(BUDGET_WAITING),
                )
                .group_by(col(Integration.name))
            ):
                waiting.add_metric([name], count)
        return [items, overdue, oldest, postmortems, jobs, deliveries, waiting]


class _TeamView:
    """The registry's families as one caller of some teams sees them: only the samples labelled
    with one of those teams; org-level families (jobs, deliveries, worker timings) are left out."""

    def __init__(self, registry: CollectorRegistry, teams: Collection[str]) -> None:
        self.registry = registry
        self.teams = set(teams)

    def collect(self) -> Iterator[Metric]:
        for family in self.registry.collect():
            samples = [s for s in family.samples if s.labels.get("team") in self.teams]
            if samples:
                narrowed = Metric(family.name, family.documentation, family.type, family.unit)
                narrowed.samples = samples
                yield narrowed


def exposition(registry: CollectorRegistry, teams: Collection[str] | None = None) -> bytes:
    """The text format of every family, or of the given teams' series only."""
    if teams is not None:
        return generate_latest(_TeamView(registry, teams))
    return generate_latest(registry) + generate_latest(PROCESS_REGISTRY)


def make_registry(engine: Engine, ttl: float) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(DatabaseCollector(engine, ttl))
    return registry


def serve_process_metrics(host: str, port: int) -> None:
    """This process's own series on a port of its own, for a worker without the API: its
    latency and drift live only in the process that did the work, so it is scraped there. No
    token: bind it where only the scraper reaches (loopback by default)."""
    start_http_server(port, addr=host, registry=PROCESS_REGISTRY)
