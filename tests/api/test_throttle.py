"""Repeated failed authentication from one client address is throttled (429 + Retry-After)
without reaching the app or the database; other addresses carry on."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import event

from app.auth.throttle import FailureCounter
from app.main import create_app
from app.settings import RequestLimits, Settings
from tests.e2e.sync_support import connect_tracker
from tests.e2e.webhook_support import send_jira
from tests.fake_trackers.jira import API_TOKEN, FakeJira

ALLOWED = 3
BAD = {"Authorization": "Bearer ft_guessed-wrong"}


@pytest.fixture
def make_app(settings: Settings) -> Iterator[Callable[..., FastAPI]]:
    apps: list[FastAPI] = []

    def make(**limits: Any) -> FastAPI:
        update = {"auth_failures_allowed": ALLOWED, **limits}
        application = create_app(settings.model_copy(update={"limits": RequestLimits(**update)}))
        apps.append(application)
        return application

    yield make
    for application in apps:
        application.state.engine.dispose()


def from_address(app: FastAPI, address: str, **headers: str) -> TestClient:
    return TestClient(app, client=(address, 40000), headers=headers)


def test_too_many_failures_from_one_address_get_429_without_the_database(
    make_app: Callable[..., FastAPI], make_token: Callable[..., str]
) -> None:
    app = make_app(auth_failure_window_seconds=60)
    good = make_token("read", "reader")
    statements: list[str] = []
    attacker = from_address(app, "203.0.113.5", **BAD)
    for _ in range(ALLOWED):
        assert attacker.get("/v1/postmortems").status_code == 401
    event.listen(
        app.state.engine,
        "before_cursor_execute",
        lambda *args: statements.append(args[2]),
    )
    refused = attacker.get("/v1/postmortems")
    assert refused.status_code == 429
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert 55 <= int(refused.headers["retry-after"]) <= 60
    assert "failed authentication" in refused.json()["detail"]
    # Even a good token from that address waits: checking it would take a query.
    with_good_token = attacker.get("/v1/postmortems", headers={"Authorization": f"Bearer {good}"})
    assert with_good_token.status_code == 429
    assert statements == []


def test_other_addresses_are_unaffected(
    make_app: Callable[..., FastAPI], make_token: Callable[..., str]
) -> None:
    app = make_app()
    good = make_token("read", "reader")
    attacker = from_address(app, "203.0.113.5", **BAD)
    for _ in range(ALLOWED + 2):
        attacker.get("/v1/postmortems")
    assert attacker.get("/v1/postmortems").status_code == 429
    neighbour = from_address(app, "203.0.113.6", Authorization=f"Bearer {good}")
    assert neighbour.get("/v1/postmortems").status_code == 200
    assert from_address(app, "198.51.100.1", **BAD).get("/v1/postmortems").status_code == 401


def test_an_address_may_try_again_once_the_window_has_passed(
    make_app: Callable[..., FastAPI],
) -> None:
    app = make_app(auth_failure_window_seconds=0.5)
    attacker = from_address(app, "203.0.113.5", **BAD)
    for _ in range(ALLOWED):
        assert attacker.get("/v1/postmortems").status_code == 401
    assert attacker.get("/v1/postmortems").status_code == 429
    time.sleep(0.6)
    assert attacker.get("/v1/postmortems").status_code == 401


def test_successful_requests_do_not_count(
    make_app: Callable[..., FastAPI], make_token: Callable[..., str]
) -> None:
    app = make_app()
    user = from_address(app, "203.0.113.9", Authorization=f"Bearer {make_token('read', 'r')}")
    for _ in range(ALLOWED * 3):
        assert user.get("/v1/postmortems").status_code == 200


def test_webhook_signature_failures_do_not_count(
    make_app: Callable[..., FastAPI],
    make_token: Callable[..., str],
    fake_jira: FakeJira,
) -> None:
    app = make_app()
    admin = from_address(app, "192.0.2.1", Authorization=f"Bearer {make_token('admin', 'a')}")
    integration = connect_tracker(
        admin,
        "jira",
        fake_jira.base_url,
        {"email": "bot@example.com", "api_token": API_TOKEN},
        "OPS",
        webhook_secret="the-real-secret",
    )
    tracker = from_address(app, "185.166.140.1")
    for _ in range(ALLOWED * 2):
        response = send_jira(tracker, integration["id"], {"webhookEvent": "x"}, secret="wrong")
        assert response.status_code == 401
    assert from_address(app, "185.166.140.1", **BAD).get("/v1/postmortems").status_code == 401


def test_the_counter_forgets_the_oldest_address_past_its_cap() -> None:
    counter = FailureCounter(allowed=2, window=60, max_addresses=2)
    for address in ("a", "a", "b", "b"):
        counter.record(address, now=0)
    assert counter.blocked_for("a", now=1) == 59
    counter.record("c", now=2)
    assert counter.blocked_for("a", now=3) == 0
    assert counter.blocked_for("b", now=3) == 57
