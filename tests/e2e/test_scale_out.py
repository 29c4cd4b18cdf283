"""Several worker processes on one PostgreSQL never make a second ticket for an item."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import Engine

from app.main import create_app
from app.settings import CheckPolicy, Settings
from tests.e2e.sync_support import (
    connect_tracker,
    owner,
    publish_items,
    start_worker_process,
    stop,
    wait_until,
)
from tests.fake_trackers.jira import API_TOKEN, FakeJira

ITEMS = 200


@pytest.mark.backends("postgresql")
def test_two_workers_on_postgresql_make_exactly_one_ticket_per_item(
    settings: Settings,
    engine: Engine,
    make_token: Callable[..., str],
    fake_jira: FakeJira,
) -> None:
    # Postmortems with 100 committed items each need a policy that allows it.
    roomy = settings.model_copy(update={"checks": CheckPolicy(max_committed_items=ITEMS)})
    with TestClient(
        create_app(roomy), headers={"Authorization": f"Bearer {make_token()}"}
    ) as client:
        owner(client, jira="557058:alice")
        connect_tracker(
            client,
            "jira",
            fake_jira.base_url,
            {"email": "bot@example.com", "api_token": API_TOKEN},
            "OPS",
            max_concurrency=8,
        )
        for _ in range(2):  # a postmortem takes at most 100 items in one call
            publish_items(client, count=ITEMS // 2)

    workers = [
        start_worker_process(settings, FOLLOWTHROUGH_SYNC__LEASE_SECONDS="30") for _ in range(2)
    ]
    try:

        def synced() -> int:
            with engine.connect() as conn:
                return int(
                    conn.execute(
                        text("SELECT count(*) FROM action_item WHERE sync_state = 'synced'")
                    ).scalar_one()
                )

        wait_until(lambda: synced() == ITEMS, timeout=120, what=f"{ITEMS} items to be synced")
    finally:
        for worker in workers:
            stop(worker)

    assert len(fake_jira.requests_to("POST", "/rest/api/3/issue")) == ITEMS
    assert len(fake_jira.issues) == ITEMS
    with engine.connect() as conn:
        keys = conn.execute(text("SELECT external_key FROM ticket_link")).scalars().all()
        owners = conn.execute(text("SELECT DISTINCT lease_owner FROM job")).scalars().all()
    assert sorted(keys) == sorted(fake_jira.issues)
    assert len(set(keys)) == ITEMS
    # A lease owner is "<host>:<pid>:<thread>/<runner>": one process per pid.
    processes = {owner.rsplit("/", 1)[0] for owner in owners if owner}
    assert len(processes) == 2, "both workers should have taken part"
