"""Signing and sending vendor webhook payloads the way each vendor does."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from typing import Any

from fastapi.testclient import TestClient

from tests.fake_trackers.contracts import load_json

SECRET = "webhook-test-secret"


def sign(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def github_payload(name: str, repo: str, number: int, **issue: Any) -> dict[str, Any]:
    """A vendor example re-pointed at one of our tickets."""
    payload = load_json(f"github/webhooks/{name}")
    payload["repository"]["full_name"] = repo
    payload["issue"]["number"] = number
    payload["issue"].update(issue)
    return payload


def send_github(
    client: TestClient,
    integration_id: str,
    event: str,
    payload: dict[str, Any],
    delivery: str | None = None,
    secret: str = SECRET,
) -> Any:
    body = json.dumps(payload).encode()
    headers = {
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
        "X-Hub-Signature-256": "sha256=" + sign(secret, body),
        "Content-Type": "application/json",
    }
    return client.post(f"/v1/webhooks/{integration_id}", content=body, headers=headers)


def send_jira(
    client: TestClient,
    integration_id: str,
    payload: dict[str, Any],
    delivery: str | None = None,
    secret: str | None = SECRET,
) -> Any:
    body = json.dumps(payload).encode()
    headers = {
        "X-Atlassian-Webhook-Identifier": delivery or str(uuid.uuid4()),
        "Content-Type": "application/json",
    }
    if secret:
        headers["X-Hub-Signature"] = "sha256=" + sign(secret, body)
    return client.post(f"/v1/webhooks/{integration_id}", content=body, headers=headers)


def send_linear(
    client: TestClient,
    integration_id: str,
    payload: dict[str, Any],
    delivery: str | None = None,
    secret: str = SECRET,
    timestamp_ms: int | None = None,
) -> Any:
    payload = {**payload, "webhookTimestamp": timestamp_ms or int(time.time() * 1000)}
    body = json.dumps(payload).encode()
    headers = {
        "Linear-Delivery": delivery or str(uuid.uuid4()),
        "Linear-Event": payload.get("type", "Issue"),
        "Linear-Signature": sign(secret, body),
        "Content-Type": "application/json",
    }
    return client.post(f"/v1/webhooks/{integration_id}", content=body, headers=headers)
