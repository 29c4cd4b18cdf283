"""The meta-review finds what recurs across postmortems, strongest first, with its evidence."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.factories import make_postmortem

PERIOD = {"since": "2026-11-01T00:00:00Z", "until": "2026-12-01T00:00:00Z"}


def condition(category: str, *modes: str) -> dict[str, Any]:
    return {
        "category": category,
        "description": f"{category} condition",
        "failure_modes": list(modes),
    }


def test_patterns_recur_across_postmortems(client: TestClient) -> None:
    dns_twice = make_postmortem(
        client,
        action_items=[],
        services=["checkout", "api"],
        conditions=[condition("technical", "dns"), condition("technical", "dns", "retry-library")],
        chain_walk={"L3": {"contributed": "yes"}},
        review={"slowed_detection": "No alert on DNS errors."},
    )
    dns_again = make_postmortem(
        client,
        action_items=[],
        services=["checkout"],
        conditions=[condition("technical", "DNS"), condition("process", "config-push")],
        chain_walk={"L3": {"contributed": "yes"}, "L5": {"contributed": "no"}},
        review={"slowed_detection": "no alert on dns errors"},
    )
    dns_third = make_postmortem(
        client,
        action_items=[],
        services=["search"],
        conditions=[condition("technical", "dns")],
    )
    make_postmortem(  # outside the period
        client,
        action_items=[],
        started_at="2026-10-01T00:00:00Z",
        detected_at=None,
        mitigated_at=None,
        resolved_at=None,
        services=["checkout"],
        conditions=[condition("technical", "dns")],
    )
    response = client.get("/v1/patterns", params=PERIOD)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["postmortems"] == 3
    found = [(p["kind"], p["value"], p["count"]) for p in body["patterns"]]
    assert found == [
        ("failure_mode", "dns", 3),
        ("condition_category", "technical", 3),
        ("service", "checkout", 2),
        ("chain_level", "L3", 2),
        ("slowed_detection", "no alert on dns errors", 2),
    ]
    top = body["patterns"][0]
    assert {p["id"] for p in top["postmortems"]} == {
        dns_twice["id"],
        dns_again["id"],
        dns_third["id"],
    }


def test_no_patterns_in_an_empty_period(client: TestClient) -> None:
    body = client.get(
        "/v1/patterns", params={"since": "2020-01-01T00:00:00Z", "until": "2020-04-01T00:00:00Z"}
    ).json()
    assert (body["postmortems"], body["patterns"]) == (0, [])
