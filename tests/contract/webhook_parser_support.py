"""Shared helpers for the webhook parser tests in this folder, against the vendors' payload
examples in ../shared/contracts.

Every example is signed here as its vendor signs it, with a test secret; signature checking is
never patched away. Modified payloads (a not-planned close, a won't-do resolution, a Linear
state change, hostile field values) are built from the examples in memory, never written into
the repository.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.base import TrackerEvent
from connectors.github import webhooks as github
from connectors.jira import webhooks as jira
from connectors.linear import webhooks as linear
from tests.fake_trackers.contracts import contracts_dir, load_json

SECRET = "test-webhook-secret"
WRONG = "not-the-secret"
# Integrations that receive deliveries and never call out (the worker is not run against them).
OFFLINE_INTEGRATIONS: dict[str, dict[str, Any]] = {
    "github": {"credentials": {"token": "x"}, "default_project": "acme/api"},
    "jira": {
        "base_url": "https://acme.atlassian.net",
        "credentials": {"email": "ops@example.com", "api_token": "x"},
        "default_project": "OPS",
    },
    "linear": {"credentials": {"api_key": "x"}, "default_project": "ENG"},
}
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
JIRA_ACCOUNT = "5c5f880629be9642ba529340"
GITHUB_DELIVERY = "72d3162e-cc78-11e3-81ab-4c9367dc0958"
JIRA_DELIVERY = "41cdb8b4-d3c0-4f02-8e59-c0c5c0f3e1a2"
LINEAR_DELIVERY = "234d1a4e-b617-4388-90fe-adc3633d6b72"
# The label ids of the Linear examples' `data.labels`.
LINEAR_BUG = "6e4da2ed-ee8b-4b19-9cf8-40e5603e04c1"
LINEAR_IMPROVEMENT = "56111f1a-e733-49f2-856a-c42318bb8739"


def raw(relative: str) -> bytes:
    return (contracts_dir() / relative).read_bytes()


def encode(data: Any) -> bytes:
    return json.dumps(data).encode()


def modified(relative: str, change: Callable[[dict[str, Any]], None]) -> bytes:
    """A vendor example (path under ../shared/contracts) changed in memory by `change`."""
    data = copy.deepcopy(load_json(relative))
    change(data)
    return encode(data)


def hex_hmac(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def tampered(body: bytes) -> bytes:
    """The same body with one byte changed in the middle."""
    middle = len(body) // 2
    return body[:middle] + bytes([body[middle] ^ 0x01]) + body[middle + 1 :]


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def ms(value: int) -> datetime:
    return datetime.fromtimestamp(value / 1000, tz=UTC)


def assert_matches(events: list[TrackerEvent], expected: list[dict[str, Any]]) -> None:
    """Each event has the fields named in its `expected` entry, and a UTC time."""
    assert len(events) == len(expected)
    for got, want in zip(events, expected, strict=True):
        for field, value in want.items():
            assert getattr(got, field) == value, field
        assert got.occurred_at.utcoffset() == timedelta(0), got


# -- GitHub, Jira and Linear deliveries, signed as each vendor signs -------------------------------

GITHUB_FILES = {
    "issues": [
        "issues/closed.payload.json",
        "issues/reopened.payload.json",
        "issues/deleted.payload.json",
        "issues/assigned.payload.json",
        "issues/unassigned.payload.json",
        "issues/labeled.payload.json",
        "issues/unlabeled.payload.json",
        "issues/edited.payload.json",
        "issues/opened.payload.json",
    ],
    "issue_comment": ["issue_comment/created.payload.json"],
    "ping": ["ping/payload.json"],
}
GITHUB_ALL = [(event, name) for event, names in GITHUB_FILES.items() for name in names]
JIRA_FILES = [
    "jira_issue_created.json",
    "jira_issue_updated.status_to_done.json",
    "jira_issue_updated.reopened.json",
    "jira_issue_updated.edited.json",
    "jira_issue_deleted.json",
    "comment_created.json",
]
LINEAR_FILES = ["issue_create.json", "issue_update.json", "issue_remove.json"]


def github_headers(event: str, body: bytes, secret: str = SECRET) -> dict[str, str]:
    return {
        "x-github-event": event,
        "x-github-delivery": GITHUB_DELIVERY,
        "x-hub-signature-256": "sha256=" + hex_hmac(secret, body),
        "content-type": "application/json",
    }


def github_events(event: str, body: bytes) -> list[TrackerEvent]:
    headers = github_headers(event, body)
    assert github.verify_signature(headers, body, SECRET, NOW)
    return github.parse_events(headers, body, {})


def github_issue(name: str, change: Callable[[dict[str, Any]], None]) -> list[TrackerEvent]:
    """The events of the `issues` example `name`, changed by `change`."""
    return github_events("issues", modified(f"github/webhooks/issues/{name}", change))


def jira_headers(body: bytes, secret: str = SECRET) -> dict[str, str]:
    return {
        "x-hub-signature": "sha256=" + hex_hmac(secret, body),
        "x-atlassian-webhook-identifier": JIRA_DELIVERY,
        "x-atlassian-webhook-flow": "Primary",
    }


def jira_events(body: bytes, options: Mapping[str, Any] | None = None) -> list[TrackerEvent]:
    headers = jira_headers(body)
    assert jira.verify_signature(headers, body, SECRET, NOW)
    return jira.parse_events(headers, body, options or {})


def jira_example(name: str, change: Callable[[dict[str, Any]], None]) -> bytes:
    return modified(f"jira/webhooks/{name}", change)


def linear_headers(body: bytes, secret: str = SECRET) -> dict[str, str]:
    return {
        "linear-signature": hex_hmac(secret, body),
        "linear-delivery": LINEAR_DELIVERY,
        "linear-event": "Issue",
    }


def sent_at(body: bytes) -> datetime:
    return ms(int(json.loads(body)["webhookTimestamp"]))


def linear_events(body: bytes) -> list[TrackerEvent]:
    headers = linear_headers(body)
    assert linear.verify_signature(headers, body, SECRET, sent_at(body) + timedelta(seconds=2))
    return linear.parse_events(headers, body, {})


def linear_example(name: str, change: Callable[[dict[str, Any]], None]) -> bytes:
    return modified(f"linear/webhooks/{name}", change)


# -- Modified payloads shared by several modules ------------------------------------------------


def to_state(state_type: str, name: str) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        data["data"]["state"] = {"id": "s-new", "name": name, "type": state_type}
        data["data"]["stateId"] = "s-new"
        data["updatedFrom"]["stateId"] = "a2530cac-36a0-4b6d-9af0-6357784035d4"

    return change


def linear_comment(data: Mapping[str, Any]) -> bytes:
    return encode(
        {
            "action": "create",
            "type": "Comment",
            "createdAt": "2026-02-28T09:00:00.000Z",
            "url": "https://linear.app/acme/issue/ENG-7#comment-1",
            "organizationId": "org-1",
            "webhookTimestamp": 1772269200000,
            "data": data,
        }
    )


# -- Mutated deliveries through the real route (property test, bench/webhook_fuzz.py) -----------

# Every vendor example per tracker, with the event header GitHub would send.
DELIVERY_EXAMPLES: dict[str, list[tuple[str, str]]] = {
    "github": [(event, f"github/webhooks/{name}") for event, name in GITHUB_ALL],
    "jira": [("", f"jira/webhooks/{name}") for name in JIRA_FILES],
    "linear": [("", f"linear/webhooks/{name}") for name in LINEAR_FILES],
}
Path = tuple[str | int, ...]


def value_paths(data: Any, prefix: Path = ()) -> list[Path]:
    """Every path in a JSON value, the root excluded, parents before children."""
    found: list[Path] = []
    children: Any = (
        data.items()
        if isinstance(data, dict)
        else enumerate(data)
        if isinstance(data, list)
        else ()
    )
    for key, child in children:
        path = (*prefix, key)
        found.append(path)
        found.extend(value_paths(child, path))
    return found


def replace_at(data: Any, path: Path, value: Any) -> None:
    *parents, last = path
    node = data
    for part in parents:
        node = node[part]
    node[last] = value


def delete_at(data: Any, path: Path) -> None:
    *parents, last = path
    node = data
    for part in parents:
        node = node[part]
    del node[last]


def signed_headers(kind: str, event: str, body: bytes, secret: str) -> dict[str, str]:
    """The headers the vendor sends with `body`, signed with `secret`, with a fresh delivery id."""
    delivery = str(uuid.uuid4())
    signature = hex_hmac(secret, body)
    if kind == "github":
        return {
            "x-github-event": event,
            "x-github-delivery": delivery,
            "x-hub-signature-256": "sha256=" + signature,
            "content-type": "application/json",
        }
    if kind == "jira":
        return {
            "x-atlassian-webhook-identifier": delivery,
            "x-hub-signature": "sha256=" + signature,
            "content-type": "application/json",
        }
    return {
        "linear-delivery": delivery,
        "linear-signature": signature,
        "linear-event": "Issue",
        "content-type": "application/json",
    }


def fresh(kind: str, data: Any) -> Any:
    """A Linear example sent now (it is refused a minute after its `webhookTimestamp`)."""
    if kind == "linear" and isinstance(data, dict):
        data["webhookTimestamp"] = int(time.time() * 1000)
    return data
