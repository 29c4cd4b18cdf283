"""/metrics in Prometheus text format: aggregates only, cheap to scrape."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.engine import Engine

from app.main import create_app
from app.settings import Settings
from tests.factories import action_item_body, make_late, make_person, make_postmortem, make_team


def scrape(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def seed(client: TestClient, engine: Engine) -> None:
    make_team(client, "payments")
    make_person(client, "alice")
    pm = make_postmortem(
        client,
        team="payments",
        action_items=[action_item_body(), action_item_body(title="Add a pool floor")],
    )
    assert client.post(f"/v1/postmortems/{pm['id']}/publish").status_code == 200
    # Time passes: one item published in time is now three days late.
    late = next(i for i in pm["action_items"] if i["title"] != "Add a pool floor")
    make_late(engine, late["id"], days=3)


def test_metrics_report_items_overdue_and_jobs_without_per_item_labels(
    client: TestClient, engine: Engine
) -> None:
    seed(client, engine)
    metrics = scrape(client)
    assert metrics[("followthrough_action_items", (("status", "open"), ("team", "payments")))] == 2
    assert metrics[("followthrough_action_items_overdue", (("team", "payments"),))] == 1
    assert (
        metrics[("followthrough_oldest_open_action_item_age_seconds", (("team", "payments"),))] >= 0
    )
    assert metrics[("followthrough_postmortems", (("status", "published"),))] == 1
    assert metrics[("followthrough_sync_jobs", (("lane", "outbound"), ("state", "pending")))] == 2
    labels = {name for (_, pairs) in metrics for name, _ in pairs}
    assert labels <= {
        "team",
        "status",
        "state",
        "lane",
        "integration",
        "outcome",
        "operation",
        # What retention removed: deliveries, jobs or bodies.
        "what",
        "le",
    }


def test_scrapes_are_served_from_a_short_cache(
    settings: Settings, make_token: Callable[..., str], client: TestClient, engine: Engine
) -> None:
    cached = create_app(settings.model_copy(update={"metrics_cache_seconds": 300}))
    token = make_token("read", "scraper")
    with TestClient(cached, headers={"Authorization": f"Bearer {token}"}) as scraper:
        before = scrape(scraper)
        seed(client, engine)
        assert scrape(scraper) == before
    assert scrape(client) != before


def test_metrics_need_a_token_unless_made_public(
    settings: Settings, anon_client: TestClient, client: TestClient
) -> None:
    refused = anon_client.get("/metrics")
    assert refused.status_code == 401
    assert "read token" in refused.json()["detail"]
    assert client.get("/metrics").status_code == 200
    public = create_app(settings.model_copy(update={"metrics_public": True}))
    with TestClient(public) as scraper:
        assert scraper.get("/metrics").status_code == 200


def test_a_team_token_scrapes_its_teams_series_only(
    app: FastAPI, client: TestClient, engine: Engine, make_token: Callable[..., str]
) -> None:
    seed(client, engine)
    make_team(client, "search")
    make_person(client, "sam", team="search")
    pm = make_postmortem(client, team="search", action_items=[action_item_body(owner="sam")])
    assert client.post(f"/v1/postmortems/{pm['id']}/publish").status_code == 200
    everything = scrape(client)
    assert {dict(labels).get("team") for _, labels in everything} >= {"payments", "search"}
    token = make_token("read", "search-scraper", teams=["search"])
    with TestClient(app, headers={"Authorization": f"Bearer {token}"}) as scraper:
        seen = scrape(scraper)
    assert seen
    assert {dict(labels).get("team") for _, labels in seen} == {"search"}
    assert seen[("followthrough_action_items", (("status", "open"), ("team", "search")))] == 1
    assert not any(name.startswith("followthrough_sync_jobs") for name, _ in seen)
