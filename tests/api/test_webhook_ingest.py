"""Webhook ingest by group commit (app/webhooks/inbox_writer.py) and the integration cache
(app/webhooks/integration_cache.py), through the real app on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import random
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import delete, text, update
from sqlalchemy.engine import Engine

from app.db import make_engine
from app.integrations.models import Integration
from app.main import create_app
from app.settings import DatabasePool, Settings
from app.webhooks.inbox_writer import Arrival, InboxBusy, InboxWriter
from app.webhooks.integration_cache import IntegrationCache
from tests.conftest import serving
from tests.e2e.webhook_support import SECRET, send_github

OTHER_SECRET = "rotated-webhook-secret"


def _closed_issue(number: int = 1) -> dict[str, Any]:
    """A GitHub `issues` closed delivery: it has an event, so storing it queues a job."""
    return {
        "action": "closed",
        "issue": {
            "number": number,
            "updated_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "state": "closed",
            "state_reason": "completed",
            "labels": [],
        },
        "repository": {"full_name": "acme/api"},
        "sender": {"login": "octocat"},
    }


def _github_integration(client: TestClient | httpx.Client, name: str = "ingest") -> str:
    created = client.post(
        "/v1/integrations",
        json={
            "kind": "github",
            "name": name,
            "credentials": {"token": "x"},
            "default_project": "acme/api",
            "webhook_secret": SECRET,
        },
    )
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def _rows(engine: Engine, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(text(sql), params)]


def _stored_count(engine: Engine) -> int:
    return int(_rows(engine, "SELECT count(*) FROM webhook_delivery")[0][0])


@pytest.fixture
def admin_headers(make_token: Callable[..., str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {make_token()}"}


def test_concurrent_deliveries_with_repeats_are_stored_once_each_with_a_job(
    live_server: str, admin_headers: dict[str, str], engine: Engine
) -> None:
    with httpx.Client(base_url=live_server, headers=admin_headers, timeout=30) as admin:
        integration = _github_integration(admin)
    body = _closed_issue()
    # 60 delivery ids, each sent 1 to 4 times, shuffled so that copies land in one batch as
    # well as in different ones.
    sends = [f"delivery-{n}" for n in range(60) for _ in range(1 + n % 4)]
    order = list(sends)
    random.Random(7).shuffle(order)

    def send(delivery: str) -> tuple[str, int, dict[str, Any]]:
        with httpx.Client(base_url=live_server, timeout=30) as tracker:
            response = send_github(tracker, integration, "issues", body, delivery=delivery)  # type: ignore[arg-type]
        return delivery, response.status_code, response.json()

    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(pool.map(send, order))

    assert {status for _, status, _ in answers} == {202}
    accepted: dict[str, list[str]] = collections.defaultdict(list)
    for delivery, _, answer in answers:
        assert answer["delivery_id"] == delivery
        if answer["status"] == "accepted":
            accepted[delivery].append(answer["id"])
        else:
            assert answer["status"] == "duplicate", answer
    # Exactly one "accepted" per delivery id, naming the row that holds it.
    assert set(accepted) == set(sends)
    assert all(len(ids) == 1 for ids in accepted.values())
    stored = {
        delivery: (str(row_id), redeliveries)
        for row_id, delivery, redeliveries in _rows(
            engine, "SELECT id, delivery_id, redeliveries FROM webhook_delivery"
        )
    }
    assert len(stored) == 60
    for delivery, (row_id, redeliveries) in stored.items():
        assert uuid.UUID(row_id) == uuid.UUID(accepted[delivery][0])
        assert redeliveries == sends.count(delivery) - 1
    jobs = _rows(engine, "SELECT delivery_id FROM job WHERE kind = 'webhook.apply'")
    assert sorted(str(uuid.UUID(str(j))) for (j,) in jobs) == sorted(
        str(uuid.UUID(i[0])) for i in accepted.values()
    )


@pytest.fixture
def refused_commits(engine: Engine) -> Iterator[None]:
    """The database refuses to commit any stored delivery: at COMMIT on PostgreSQL (a deferred
    constraint trigger), at the insert on SQLite (which has no deferred triggers)."""
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(
                text(
                    "CREATE FUNCTION refuse_delivery() RETURNS trigger LANGUAGE plpgsql AS"
                    " $$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$"
                )
            )
            conn.execute(
                text(
                    "CREATE CONSTRAINT TRIGGER refuse_delivery AFTER INSERT ON webhook_delivery"
                    " DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION refuse_delivery()"
                )
            )
        else:
            conn.execute(
                text(
                    "CREATE TRIGGER refuse_delivery BEFORE INSERT ON webhook_delivery"
                    " BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
                )
            )
    try:
        yield
    finally:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "DROP TRIGGER refuse_delivery"
                    + (" ON webhook_delivery" if engine.dialect.name == "postgresql" else "")
                )
            )
            if engine.dialect.name == "postgresql":
                conn.execute(text("DROP FUNCTION refuse_delivery()"))


def test_a_refused_commit_answers_every_waiting_delivery_503_and_stores_none(
    live_server: str, admin_headers: dict[str, str], engine: Engine, refused_commits: None
) -> None:
    with httpx.Client(base_url=live_server, headers=admin_headers, timeout=30) as admin:
        integration = _github_integration(admin)
    body = _closed_issue()

    def send(number: int) -> httpx.Response:
        with httpx.Client(base_url=live_server, timeout=30) as tracker:
            return send_github(tracker, integration, "issues", body, delivery=f"d-{number}")  # type: ignore[arg-type, no-any-return]

    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(pool.map(send, range(48)))

    assert [a.status_code for a in answers] == [503] * 48
    for answer in answers:
        assert answer.headers["retry-after"] == "1"
        assert "could not be stored" in answer.json()["detail"]
        assert "refused by the test" not in answer.text
    assert _stored_count(engine) == 0


def test_a_secret_changed_through_the_api_refuses_the_old_one_at_once(
    client: TestClient, engine: Engine
) -> None:
    integration = _github_integration(client)
    # The first delivery puts the integration and its secret in the cache.
    assert send_github(client, integration, "issues", _closed_issue()).status_code == 202
    changed = client.patch(f"/v1/integrations/{integration}", json={"webhook_secret": OTHER_SECRET})
    assert changed.status_code == 200, changed.text

    old = send_github(client, integration, "issues", _closed_issue(), secret=SECRET)
    new = send_github(client, integration, "issues", _closed_issue(), secret=OTHER_SECRET)

    assert old.status_code == 401
    assert new.status_code == 202, new.text
    assert _stored_count(engine) == 2


def test_a_secret_changed_by_another_process_is_read_again_when_a_signature_fails(
    client: TestClient, app: FastAPI, database_url: str, engine: Engine
) -> None:
    integration = _github_integration(client)
    assert send_github(client, integration, "issues", _closed_issue()).status_code == 202
    # Another replica rotates the secret: a write this process's sessions never see.
    other = make_engine(database_url)
    try:
        with other.begin() as conn:
            conn.execute(
                update(Integration)
                .where(Integration.id == uuid.UUID(integration))  # type: ignore[arg-type]
                .values(webhook_secret_sealed=app.state.secret_box.seal(OTHER_SECRET))
            )
    finally:
        other.dispose()

    new = send_github(client, integration, "issues", _closed_issue(), secret=OTHER_SECRET)
    old = send_github(client, integration, "issues", _closed_issue(), secret=SECRET)

    assert new.status_code == 202, new.text
    assert old.status_code == 401
    assert _stored_count(engine) == 2


def test_an_integration_deleted_through_the_api_is_a_404_at_once(client: TestClient) -> None:
    integration = _github_integration(client)
    assert send_github(client, integration, "issues", _closed_issue()).status_code == 202
    assert client.delete(f"/v1/integrations/{integration}").status_code == 204

    answer = send_github(client, integration, "issues", _closed_issue())

    assert answer.status_code == 404
    assert integration in answer.json()["detail"]


def test_an_integration_deleted_by_another_process_is_a_404_and_leaves_the_cache(
    client: TestClient, app: FastAPI, database_url: str, engine: Engine
) -> None:
    integration = _github_integration(client)
    assert send_github(client, integration, "issues", _closed_issue()).status_code == 202
    other = make_engine(database_url)
    try:
        with other.begin() as conn:
            conn.execute(delete(Integration).where(Integration.id == uuid.UUID(integration)))  # type: ignore[arg-type]
    finally:
        other.dispose()
    cache = app.state.webhook_inbox.integrations
    assert cache.get(uuid.UUID(integration)) is not None

    answer = send_github(client, integration, "issues", _closed_issue())

    assert answer.status_code == 404
    assert integration in answer.json()["detail"]
    assert cache.get(uuid.UUID(integration)) is None
    assert _stored_count(engine) == 0


@pytest.mark.backends("postgresql")
def test_deliveries_and_requests_go_on_after_the_server_drops_every_connection(
    settings: Settings, make_token: Callable[..., str], engine: Engine
) -> None:
    """What a PostgreSQL restart does to the pool, without restarting the shared server: every
    connection of this database is terminated by the server."""
    # Connections idle for any time are checked before use (the default waits 10 s).
    checked = settings.model_copy(
        update={"database_pool": DatabasePool(check_after_idle_seconds=0)}
    )
    application = create_app(checked)
    token = make_token()
    try:
        with serving(application) as url, httpx.Client(base_url=url, timeout=30) as http:
            http.headers["Authorization"] = f"Bearer {token}"
            integration = _github_integration(http)
            assert send_github(http, integration, "issues", _closed_issue()).status_code == 202  # type: ignore[arg-type]
            with engine.connect() as conn:
                dropped = conn.execute(
                    text(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                        " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    )
                ).scalar_one()
            assert dropped >= 1
            # The suite's own engine lost its connections too: it starts a new pool.
            engine.dispose()

            delivery = send_github(http, integration, "issues", _closed_issue())  # type: ignore[arg-type]
            listed = http.get("/v1/integrations")

            assert delivery.status_code == 202, delivery.text
            assert listed.status_code == 200, listed.text
    finally:
        application.state.engine.dispose()
    assert _stored_count(engine) == 2


def test_a_delivery_without_events_is_stored_as_ignored_without_a_job(
    client: TestClient, engine: Engine
) -> None:
    integration = _github_integration(client)
    body = {**_closed_issue(), "action": "edited"}

    answer = send_github(client, integration, "issues", body)

    assert answer.status_code == 202
    assert answer.json()["status"] == "ignored"
    assert _rows(engine, "SELECT outcome FROM webhook_delivery") == [("ignored",)]
    assert _rows(engine, "SELECT count(*) FROM job") == [(0,)]


def test_the_answer_shape_is_unchanged(client: TestClient) -> None:
    integration = _github_integration(client)
    first = send_github(client, integration, "issues", _closed_issue(), delivery="same")
    again = send_github(client, integration, "issues", _closed_issue(), delivery="same")

    assert first.status_code == again.status_code == 202
    assert set(first.json()) == {"status", "delivery_id", "id"}
    assert first.json()["status"] == "accepted"
    assert again.json() == {"status": "duplicate", "delivery_id": "same"}
    assert json.loads(first.text)["delivery_id"] == "same"


def _arrival(integration: str, delivery: str) -> Arrival:
    body = json.dumps(_closed_issue())
    return Arrival(
        integration_id=uuid.UUID(integration),
        delivery_id=delivery,
        event="issues",
        body=body,
        headers={"x-github-event": "issues"},
        applies=True,
        received_at=datetime.now(UTC),
    )


@contextlib.contextmanager
def _inbox_locked(engine: Engine) -> Iterator[None]:
    """Another connection holds what the writer needs to insert, until the block ends."""
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("LOCK TABLE webhook_delivery IN EXCLUSIVE MODE"))
        else:
            # app/db.py begins every write transaction with BEGIN IMMEDIATE: the write lock.
            conn.execute(text("SELECT 1"))
        try:
            yield
        finally:
            conn.rollback()


def test_past_the_queue_bound_deliveries_are_refused_503_and_the_queued_ones_stored(
    client: TestClient, engine: Engine
) -> None:
    integration = _github_integration(client)
    writer = InboxWriter(engine, batch_size=1, queue_size=2)

    async def scenario() -> tuple[list[Any], BaseException | None]:
        with _inbox_locked(engine):
            waiting = [asyncio.ensure_future(writer.store(_arrival(integration, "first")))]
            await asyncio.sleep(0)
            # The writer takes the first and waits for the lock; two more fill the queue.
            while writer.waiting:
                await asyncio.sleep(0.01)
            for name in ("second", "third"):
                waiting.append(asyncio.ensure_future(writer.store(_arrival(integration, name))))
            await asyncio.sleep(0)
            refused: BaseException | None = None
            try:
                await writer.store(_arrival(integration, "fourth"))
            except InboxBusy as exc:
                refused = exc
        # A bound, not a timing: a delivery never answered would otherwise hang the test.
        return await asyncio.wait_for(asyncio.gather(*waiting), 60), refused

    try:
        stored, refused = asyncio.run(scenario())
    finally:
        writer.stop()

    assert isinstance(refused, InboxBusy)
    assert "waiting to be stored" in refused.detail
    assert [s.status for s in stored] == ["accepted"] * 3
    delivered = {d for (d,) in _rows(engine, "SELECT delivery_id FROM webhook_delivery")}
    assert delivered == {"first", "second", "third"}


def test_stopping_the_writer_stores_and_answers_every_waiting_delivery(
    client: TestClient, engine: Engine
) -> None:
    integration = _github_integration(client)
    writer = InboxWriter(engine, batch_size=8)

    async def scenario() -> list[Any]:
        with _inbox_locked(engine):
            waiting = [
                asyncio.ensure_future(writer.store(_arrival(integration, f"d-{n}")))
                for n in range(40)
            ]
            await asyncio.sleep(0)
            # Shutdown begins while all 40 wait (the lock is released once it has).
            stopping = asyncio.get_running_loop().run_in_executor(None, writer.stop)
            await asyncio.sleep(0.05)
        await stopping
        return await asyncio.wait_for(asyncio.gather(*waiting), 60)

    stored = asyncio.run(scenario())

    assert [s.status for s in stored] == ["accepted"] * 40
    assert _stored_count(engine) == 40


def test_a_cached_integration_is_read_again_once_its_seconds_are_up(
    client: TestClient, app: FastAPI, engine: Engine
) -> None:
    integration = uuid.UUID(_github_integration(client))
    now = [1000.0]
    cache = IntegrationCache(engine, app.state.secret_box, ttl_seconds=5, clock=lambda: now[0])
    cache.load(integration)
    now[0] += 4.9
    kept = cache.get(integration)
    now[0] += 0.1

    assert kept is not None
    assert kept.secret == SECRET
    assert SECRET not in repr(kept)
    assert cache.get(integration) is None
