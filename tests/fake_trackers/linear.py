"""A fake Linear GraphQL API for the operations the connector sends; every document and its
variables are checked against Linear's published schema."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from graphql import OperationDefinitionNode, parse

from tests.fake_trackers.contracts import GraphQLContract, contracts_dir
from tests.fake_trackers.server import FakeTrackerServer, Reply, Request

API_KEY = "lin_api_fake_valid"
OAUTH_TOKEN = "lin_oauth_fake_valid"
TEAM_ID = "6d0b6b2c-2f6a-4e8e-9d4b-2a7f2c1e0001"
TEAM_KEY = "ENG"
VIEWER = {"id": "b0b0b0b0-0000-4000-8000-000000000001", "name": "Followthrough Bot"}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class FakeLinear(FakeTrackerServer):
    """Issues live in `issues` by id, shaped like Linear's Issue type."""

    def __init__(self) -> None:
        super().__init__()
        self.issues: dict[str, dict[str, Any]] = {}
        self.labels: dict[str, dict[str, Any]] = {}
        self.comments: list[dict[str, Any]] = []
        self.webhooks: list[dict[str, Any]] = []
        self._numbers = itertools.count(1)
        self._schema = GraphQLContract()
        self.contract = self._check

    # -- test helpers ----------------------------------------------------------------------

    def set_state(self, issue_id: str, name: str, state_type: str) -> None:
        with self.lock:
            issue = self.issues[issue_id]
            issue["state"] = {"id": f"state-{state_type}", "name": name, "type": state_type}
            issue["updatedAt"] = _now()

    def by_key(self, key: str) -> dict[str, Any]:
        with self.lock:
            return next(i for i in self.issues.values() if i["identifier"] == key)

    # -- behaviour -------------------------------------------------------------------------

    def _check(self, request: Request) -> list[str]:
        if request.method != "POST" or request.path != "/graphql":
            return [f"{request.method} {request.path}: Linear serves only POST /graphql"]
        body = request.json() or {}
        return self._schema.violations(body.get("query", ""), body.get("variables"))

    def handle(self, request: Request) -> Reply:
        auth = request.headers.get("authorization", "")
        if auth not in (API_KEY, f"Bearer {OAUTH_TOKEN}"):
            return Reply(
                400,
                {
                    "errors": [
                        {
                            "message": "Authentication required, not authenticated",
                            "extensions": {"code": "AUTHENTICATION_ERROR"},
                        }
                    ]
                },
            )
        body = request.json() or {}
        variables = body.get("variables") or {}
        operation = next(
            d for d in parse(body["query"]).definitions if isinstance(d, OperationDefinitionNode)
        )
        data: dict[str, Any] = {}
        for selection in operation.selection_set.selections:
            field = selection.name.value  # type: ignore[attr-defined]
            resolver = getattr(self, f"_{field}", None)
            if resolver is None:
                return Reply(200, {"errors": [{"message": f"fake does not serve {field}"}]})
            result = resolver(variables)
            if isinstance(result, Reply):
                return result
            data[field] = result
        return Reply(200, {"data": data})

    @staticmethod
    def _error(message: str, code: str) -> Reply:
        return Reply(
            200, {"data": None, "errors": [{"message": message, "extensions": {"code": code}}]}
        )

    def _viewer(self, variables: dict[str, Any]) -> Any:
        return VIEWER

    def _find(self, id_or_key: str) -> dict[str, Any] | None:
        return self.issues.get(id_or_key) or next(
            (i for i in self.issues.values() if i["identifier"] == id_or_key.upper()), None
        )

    def _issue(self, variables: dict[str, Any]) -> Any:
        issue = self._find(variables["id"])
        if issue is None:
            return self._error("Entity not found: Issue", "ENTITY_NOT_FOUND")
        return issue

    def _issues(self, variables: dict[str, Any]) -> Any:
        wanted = set(variables.get("ids") or [])
        return {
            "nodes": [i for i in self.issues.values() if i["id"] in wanted][
                : variables.get("first", 50)
            ]
        }

    def _issueCreate(self, variables: dict[str, Any]) -> Any:
        fields = variables["input"]
        issue_id = fields.get("id") or str(uuid.uuid4())
        if issue_id in self.issues:
            return self._error("Issue with this id already exists", "INVALID_INPUT")
        if fields["teamId"] != TEAM_ID:
            return self._error("Entity not found: Team", "ENTITY_NOT_FOUND")
        number = next(self._numbers)
        issue = {
            "id": issue_id,
            "identifier": f"{TEAM_KEY}-{number}",
            "url": f"https://linear.app/acme/issue/{TEAM_KEY}-{number}/x",
            "title": fields.get("title"),
            "description": fields.get("description"),
            "dueDate": fields.get("dueDate"),
            "priority": fields.get("priority", 0),
            "assignee": {"id": fields["assigneeId"]} if fields.get("assigneeId") else None,
            "labels": {"nodes": [self.labels[i] for i in fields.get("labelIds", [])]},
            "state": {"id": "state-unstarted", "name": "Todo", "type": "unstarted"},
            "createdAt": _now(),
            "updatedAt": _now(),
        }
        self.issues[issue_id] = issue
        return {"success": True, "issue": issue}

    def _issueUpdate(self, variables: dict[str, Any]) -> Any:
        issue = self._find(variables["id"])
        if issue is None:
            return self._error("Entity not found: Issue", "ENTITY_NOT_FOUND")
        fields = variables["input"]
        for key in ("title", "description", "dueDate"):
            if key in fields:
                issue[key] = fields[key]
        if "assigneeId" in fields:
            issue["assignee"] = {"id": fields["assigneeId"]} if fields["assigneeId"] else None
        issue["updatedAt"] = _now()
        return {"success": True}

    def _issueLabels(self, variables: dict[str, Any]) -> Any:
        names = set(variables.get("names", []))
        return {"nodes": [label for label in self.labels.values() if label["name"] in names]}

    def _issueLabelCreate(self, variables: dict[str, Any]) -> Any:
        label = {"id": str(uuid.uuid4()), "name": variables["input"]["name"]}
        self.labels[label["id"]] = label
        return {"success": True, "issueLabel": label}

    def _webhookCreate(self, variables: dict[str, Any]) -> Any:
        webhook = {"id": str(uuid.uuid4()), "enabled": True, **variables["input"]}
        self.webhooks.append(webhook)
        return {"success": True, "webhook": webhook}

    def _commentCreate(self, variables: dict[str, Any]) -> Any:
        fields = variables["input"]
        if self._find(fields["issueId"]) is None:
            return self._error("Entity not found: Issue", "ENTITY_NOT_FOUND")
        self.comments.append(fields)
        return {"success": True}


@pytest.fixture
def fake_linear() -> Iterator[FakeLinear]:
    """A started FakeLinear; the test fails if any request broke Linear's schema."""
    contracts_dir()
    fake = FakeLinear().start()
    try:
        yield fake
    finally:
        fake.stop()
    if fake.violations:
        pytest.fail("requests Linear would refuse:\n" + "\n".join(fake.violations))
