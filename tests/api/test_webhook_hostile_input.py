"""Validly signed webhook deliveries of the wrong shape, through the real route: each is a 400
problem+json naming where the body is wrong, nothing is stored, and nothing is logged as an
error (no traceback). Unsigned junk stays a 401, refused before its shape is read."""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import Engine

from tests.contract.webhook_parser_support import fresh, replace_at, signed_headers
from tests.fake_trackers.contracts import load_json

SECRET = "hostile-input-secret"
INTEGRATIONS: dict[str, dict[str, Any]] = {
    "github": {"base_url": None, "credentials": {"token": "x"}, "default_project": "acme/api"},
    "jira": {
        "base_url": "https://acme.atlassian.net",
        "credentials": {"email": "ops@example.com", "api_token": "x"},
        "default_project": "OPS",
    },
    "linear": {"base_url": None, "credentials": {"api_key": "x"}, "default_project": "ENG"},
}
NAN, INF = float("nan"), float("inf")
DEEP = b"[" * 200_000 + b"]" * 200_000


@pytest.fixture
def integrations(client: TestClient) -> dict[str, str]:
    ids = {}
    for kind, fields in INTEGRATIONS.items():
        body = {"kind": kind, "name": f"{kind}-hostile", "webhook_secret": SECRET, **fields}
        body = {key: value for key, value in body.items() if value is not None}
        created = client.post("/v1/integrations", json=body)
        assert created.status_code == 201, created.text
        ids[kind] = created.json()["id"]
    return ids


def _post(
    client: TestClient, integration: str, kind: str, event: str, body: bytes, secret: str = SECRET
) -> Any:
    headers = signed_headers(kind, event, body, secret)
    return client.post(f"/v1/webhooks/{integration}", content=body, headers=headers)


def _example(kind: str, name: str, path: tuple[str | int, ...], value: Any) -> bytes:
    data = fresh(kind, copy.deepcopy(load_json(f"{kind}/webhooks/{name}")))
    replace_at(data, path, value)
    return json.dumps(data).encode()


def _stored(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM webhook_delivery")).scalar_one())


# (tracker, event header, vendor example, path changed, hostile value, path the 400 names)
CASES: list[tuple[str, str, str, tuple[str | int, ...], Any, str]] = [
    ("github", "issues", "issues/closed.payload.json", ("issue", "labels"), 5, "body.issue.labels"),
    ("github", "issues", "issues/closed.payload.json", ("issue", "updated_at"), 1e20, "body.issue.updated_at"),
    ("github", "issues", "issues/closed.payload.json", ("issue", "updated_at"), NAN, "body.issue.updated_at"),
    ("github", "issues", "issues/closed.payload.json", ("issue", "updated_at"), INF, "body.issue.updated_at"),
    ("github", "issues", "issues/closed.payload.json", ("issue", "updated_at"), "10000-01-01T00:00:00Z", "body.issue.updated_at"),
    ("github", "issues", "issues/closed.payload.json", ("action",), ["closed"], "body.action"),
    ("github", "issues", "issues/closed.payload.json", ("issue", "number"), "1", "body.issue.number"),
    ("github", "issues", "issues/closed.payload.json", ("repository",), None, "body.repository"),
    ("github", "issues", "issues/labeled.payload.json", ("issue", "labels", 0), 7, "body.issue.labels[0]"),
    ("github", "issues", "issues/labeled.payload.json", ("label", "name"), {"name": 5}, "body.label.name"),
    ("github", "issues", "issues/labeled.payload.json", ("sender", "login"), "x" * 201, "body.sender.login"),
    ("github", "issue_comment", "issue_comment/created.payload.json", ("comment", "created_at"), -1e20, "body.comment.created_at"),
    ("jira", "", "jira_issue_updated.status_to_done.json", ("changelog", "items"), 7, "body.changelog.items"),
    ("jira", "", "jira_issue_updated.status_to_done.json", ("timestamp",), NAN, "body.timestamp"),
    ("jira", "", "jira_issue_updated.status_to_done.json", ("webhookEvent",), {"x": 1}, "body.webhookEvent"),
    ("jira", "", "jira_issue_updated.status_to_done.json", ("user", "accountId"), "a" * 100_000, "body.user.accountId"),
    ("jira", "", "jira_issue_updated.status_to_done.json", ("issue", "fields", "status", "statusCategory"), "done", "body.issue.fields.status.statusCategory"),
    ("jira", "", "jira_issue_updated.status_to_done.json", ("changelog", "items", 1), {"field": "duedate", "to": "next week"}, "body.changelog.items[1].to"),
    ("linear", "", "issue_update.json", ("data", "labelIds", 0), 1, "body.data.labelIds[0]"),
    ("linear", "", "issue_update.json", ("data", "updatedAt"), 1e20, "body.data.updatedAt"),
    ("linear", "", "issue_update.json", ("data",), [], "body.data"),
    ("linear", "", "issue_update.json", ("updatedFrom",), "x", "body.updatedFrom"),
    ("linear", "", "issue_update.json", ("type",), ["Issue"], "body.type"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("kind", "event", "name", "path", "value", "named"),
    CASES,
    ids=[f"{case[0]}-{case[5]}={case[4]!r:.20}" for case in CASES],
)
def test_wrongly_shaped_field_is_a_400_naming_its_path(
    client: TestClient,
    engine: Engine,
    integrations: dict[str, str],
    caplog: pytest.LogCaptureFixture,
    kind: str,
    event: str,
    name: str,
    path: tuple[str | int, ...],
    value: Any,
    named: str,
) -> None:
    caplog.set_level(logging.INFO)
    response = _post(client, integrations[kind], kind, event, _example(kind, name, path, value))
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert named in [error["path"] for error in problem["errors"]], problem
    assert named in problem["detail"]
    assert _stored(engine) == 0
    assert "Traceback" not in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_the_unchanged_examples_are_accepted(
    client: TestClient, engine: Engine, integrations: dict[str, str]
) -> None:
    """The cases above fail because of the one value they change, not the example."""
    examples = {(kind, event, name) for kind, event, name, *_ in CASES}
    for kind, event, name in sorted(examples):
        body = json.dumps(fresh(kind, load_json(f"{kind}/webhooks/{name}"))).encode()
        response = _post(client, integrations[kind], kind, event, body)
        assert response.status_code == 202, (name, response.text)
    assert _stored(engine) == len(examples)


def _nested(depth: int) -> Callable[[str], bytes]:
    return lambda kind: (
        json.dumps(
            fresh(
                kind, {"action": "x", "type": "Issue", "webhookEvent": "board_created", "x": "NEST"}
            )
        )
        .encode()
        .replace(b'"NEST"', b"[" * depth + b"]" * depth)
    )


BODIES: dict[str, Callable[[str], bytes]] = {
    "200,000 nested arrays": lambda kind: DEEP,
    "65 nested arrays in a field": _nested(65),
    "not JSON": lambda kind: b"{not json",
    "a JSON array": lambda kind: b"[1, 2]",
    "an unpaired surrogate": lambda kind: json.dumps(
        fresh(kind, {"webhookEvent": "\ud800", "type": "\ud800", "action": "x"})
    ).encode(),
    "a number beyond int parsing": lambda kind: b'{"webhookTimestamp": 1' + b"0" * 5000 + b"}",
}


@pytest.mark.parametrize("kind", sorted(INTEGRATIONS))
@pytest.mark.parametrize("what", sorted(BODIES))
def test_unreadable_body_is_a_400_and_stores_nothing(
    client: TestClient,
    engine: Engine,
    integrations: dict[str, str],
    caplog: pytest.LogCaptureFixture,
    kind: str,
    what: str,
) -> None:
    caplog.set_level(logging.INFO)
    event = "issues" if kind == "github" else ""
    response = _post(client, integrations[kind], kind, event, BODIES[what](kind))
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert [error["path"] for error in response.json()["errors"]] == ["body"]
    assert _stored(engine) == 0
    assert "Traceback" not in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.parametrize("kind", sorted(INTEGRATIONS))
def test_nesting_up_to_the_limit_is_read(
    client: TestClient, integrations: dict[str, str], kind: str
) -> None:
    event = "ping" if kind == "github" else ""
    response = _post(client, integrations[kind], kind, event, _nested(63)(kind))
    assert response.status_code == 202, response.text


@pytest.mark.parametrize("kind", sorted(INTEGRATIONS))
def test_unsigned_junk_is_a_401_before_its_shape_is_read(
    client: TestClient, engine: Engine, integrations: dict[str, str], kind: str
) -> None:
    event = "issues" if kind == "github" else ""
    for body in (DEEP, b"{not json", _example(kind, *_ANY_EXAMPLE[kind], 5)):
        response = _post(client, integrations[kind], kind, event, body, secret="not-the-secret")
        assert response.status_code == 401, response.text
    assert _stored(engine) == 0


_ANY_EXAMPLE: dict[str, tuple[str, tuple[str | int, ...]]] = {
    "github": ("issues/closed.payload.json", ("issue", "labels")),
    "jira": ("jira_issue_updated.status_to_done.json", ("changelog", "items")),
    "linear": ("issue_update.json", ("data", "labels")),
}


def test_delivery_id_longer_than_the_inbox_holds_is_a_400(
    client: TestClient, engine: Engine, integrations: dict[str, str]
) -> None:
    body = json.dumps(load_json("github/webhooks/issues/closed.payload.json")).encode()
    headers = {**signed_headers("github", "issues", body, SECRET), "x-github-delivery": "d" * 201}
    response = client.post(f"/v1/webhooks/{integrations['github']}", content=body, headers=headers)
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["path"] == "header"
    assert _stored(engine) == 0
