"""A stored delivery the worker cannot read (written by an older version, or damaged) parks
with the reason, naming where the body is wrong; the worker never fails on it unexpectedly."""

from __future__ import annotations

import copy
import json
import logging
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import Engine

from app.settings import Settings
from tests.e2e.sync_support import drain, worker_for
from tests.e2e.webhook_support import SECRET, github_payload, send_github
from tests.fake_trackers.contracts import load_json


def _closed(change: dict[str, Any]) -> str:
    payload = copy.deepcopy(load_json("github/webhooks/issues/closed.payload.json"))
    payload["issue"].update(change)
    return json.dumps(payload)


STORED = {
    "labels not a list": (_closed({"labels": 5}), "body.issue.labels"),
    "a time past year 9999": (_closed({"updated_at": 1e20}), "body.issue.updated_at"),
    "a NaN time": (_closed({"updated_at": float("nan")}), "body.issue.updated_at"),
    "nested 100,000 deep": ("[" * 100_000 + "]" * 100_000, "nested deeper than 64"),
    "not JSON": ("{not json", "not JSON"),
}


@pytest.mark.parametrize("what", sorted(STORED))
def test_an_unreadable_stored_delivery_parks_saying_where(
    client: TestClient,
    engine: Engine,
    settings: Settings,
    caplog: pytest.LogCaptureFixture,
    what: str,
) -> None:
    created = client.post(
        "/v1/integrations",
        json={
            "kind": "github",
            "name": "stored-shape",
            "credentials": {"token": "x"},
            "default_project": "acme/api",
            "webhook_secret": SECRET,
        },
    )
    assert created.status_code == 201, created.text
    payload = github_payload("issues/closed.payload.json", "acme/api", 1)
    accepted = send_github(client, created.json()["id"], "issues", payload)
    assert accepted.status_code == 202, accepted.text
    body, named = STORED[what]
    with engine.begin() as conn:
        conn.execute(text("UPDATE webhook_delivery SET body = :b"), {"b": body})

    caplog.set_level(logging.INFO)
    drain(worker_for(engine, settings))

    [failed] = client.get("/v1/webhook-deliveries").json()["items"]
    assert failed["outcome"] == "failed"
    assert "the stored delivery cannot be read" in failed["detail"]
    assert named in failed["detail"]
    [parked] = client.get("/v1/sync-jobs", params={"status": "dead", "lane": "inbound"}).json()[
        "items"
    ]
    assert (parked["delivery_id"], parked["attempts"]) == (failed["id"], 1)
    assert "Traceback" not in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
