"""A fake Jira Cloud (REST v3) for the calls the Jira connector makes, over real HTTP.

It answers like Jira Cloud: `id`/`key`/`self`, `fields.status.statusCategory.key`,
`resolution.name`, `assignee.accountId`, `updated` as `2026-03-01T10:15:30.123+0000`, errors as
`{"errorMessages": [...], "errors": {field: message}}`, /search/jql answering issue ids only
unless fields are named, and 410 on the removed /search. Every request is checked against
Atlassian's published v3 description (the subset in ../shared/contracts) and, on top,
descriptions and comment bodies must be ADF documents; a request failing either check is
answered 400 and recorded in `violations`, and the `fake_jira` fixture then fails the test.
JQL the fake cannot evaluate is recorded the same way rather than answered wrongly.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import itertools
import re
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import cache
from typing import Any
from urllib.parse import parse_qs

import pytest

from tests.fake_trackers import jira_shapes as shapes
from tests.fake_trackers.contracts import OpenAPIContract, contracts_dir
from tests.fake_trackers.jira_rules import (
    JqlError,
    adf_problems,
    field_errors,
    lookup,
    matches,
    parse_jql,
)
from tests.fake_trackers.jira_workflow import JiraWorkflow
from tests.fake_trackers.server import FakeTrackerServer, Reply, Request

SPEC = "jira/openapi/jira-platform-v3-subset.openapi.json"
# openapi-core only sees the path and query (the host comes from the contract itself), so one
# validator serves every fake instance; building one takes about 0.4 s.
_CONTRACT_HOST = "http://jira.fake.invalid"
_contract_lock = threading.Lock()

API_TOKEN = "api-token-valid"
PAT = "pat-valid"
EDITABLE = frozenset({"summary", "description", "assignee", "duedate", "labels", "priority"})
CREATABLE = EDITABLE | {"project", "issuetype"}
_UNSUPPORTED = object()


@cache
def _contract() -> OpenAPIContract:
    return OpenAPIContract(SPEC, _CONTRACT_HOST)


def _now() -> str:
    return shapes.jira_time(datetime.now(UTC))


class FakeJira(JiraWorkflow, FakeTrackerServer):
    """Stored issues live in `issues` (by key), each `{"id", "key", "fields", "properties",
    "comments"}` with `fields` as Jira renders them; the workflow (statuses, transitions,
    resolutions) in `workflow` (see jira_workflow)."""

    def __init__(
        self,
        *,
        email: str = "bot@example.com",
        api_token: str = API_TOKEN,
        pat: str = PAT,
        account_id: str = "712020:5b1f6d2e-bot",
    ) -> None:
        super().__init__()
        self.email, self.api_token, self.pat, self.account_id = email, api_token, pat, account_id
        self.users = {account_id: "Followthrough Bot", "557058:alice": "Alice", "557058:bob": "Bob"}
        self.projects = {"OPS": "10000", "ENG": "10001"}
        self.issue_types = {"Task": "10001", "Bug": "10002", "Story": "10003"}
        self.priorities = {"Highest": "1", "High": "2", "Medium": "3", "Low": "4", "Lowest": "5"}
        self.issues: dict[str, dict[str, Any]] = {}
        self._ids = itertools.count(10000)
        self._comment_ids = itertools.count(20000)
        self._numbers: dict[str, itertools.count[int]] = {}
        self.contract = self._check

    # -- test helpers --------------------------------------------------------------------------

    def issue(self, key: str) -> dict[str, Any]:
        """The stored issue (the live dict the fake keeps)."""
        with self.lock:
            return self.issues[key]

    def requests_to(self, method: str, path: str) -> list[Request]:
        """Requests with this method whose path is exactly `path` (e.g. "/rest/api/3/issue")."""
        with self.lock:
            return [r for r in self.requests if r.method == method and r.path == path]

    # -- contract ------------------------------------------------------------------------------

    def _check(self, request: Request) -> list[str]:
        url = _CONTRACT_HOST + request.path + (f"?{request.query}" if request.query else "")
        with _contract_lock:
            problems = _contract().violations(request.method, url, request.headers, request.body)
        body = request.json() if request.body and not problems else None
        if not isinstance(body, dict):
            return problems
        where = f"{request.method} {request.path}"
        if request.method in ("POST", "PUT") and re.fullmatch(
            r"/rest/api/3/issue(/[^/]+)?", request.path
        ):
            description = (body.get("fields") or {}).get("description")
            if description is not None:
                problems += adf_problems(description, f"{where} fields.description")
            for index, operation in enumerate((body.get("update") or {}).get("description") or []):
                if isinstance(operation, dict) and operation.get("set") is not None:
                    problems += adf_problems(
                        operation["set"], f"{where} update.description.{index}"
                    )
        if request.method == "POST" and request.path.endswith("/comment"):
            problems += adf_problems(body.get("body"), f"{where} body")
        return problems

    # -- dispatch (the harness calls handle() holding self.lock) -------------------------------

    def handle(self, request: Request) -> Reply:
        if not self._authenticated(request):
            return Reply(
                401,
                {"errorMessages": ["Client must be authenticated to access this resource."]},
                {"WWW-Authenticate": 'Basic realm="protected-area"'},
            )
        path, method = request.path.removeprefix("/rest/api/3"), request.method
        query = parse_qs(request.query)
        if path == "/myself" and method == "GET":
            return Reply(200, self._user(self.account_id) | {"emailAddress": self.email})
        if path == "/serverInfo" and method == "GET":
            return Reply(200, shapes.server_info(self.base_url))
        if path == "/issue" and method == "POST":
            return self._create(request.json())
        if path == "/search":
            return shapes.error(
                410,
                ["The requested API has been removed. Please migrate to /rest/api/3/search/jql."],
            )
        if path == "/search/jql":
            if method == "POST":
                return self._search(request.json())
            params: dict[str, Any] = {key: values[-1] for key, values in query.items()}
            return self._search(params | {"fields": shapes.listed(query.get("fields")) or []})
        match = re.fullmatch(
            r"/issue/([^/]+)(/comment|/transitions|/properties(?:/([^/]+))?)?", path
        )
        if match is None:
            return shapes.error(404, [f"No fake Jira route for {method} {request.path}"])
        issue = self._find(match.group(1))
        if issue is None:
            return shapes.error(
                404, ["Issue does not exist or you do not have permission to see it."]
            )
        if match.group(2) == "/comment":
            return self._comments(issue, method, request)
        if match.group(2) == "/transitions":
            return self._transitions(issue, method, query, request)
        if match.group(2):
            return self._property(issue, method, match.group(3), request)
        if method == "GET":
            fields, properties = query.get("fields"), query.get("properties")
            return Reply(200, self._render(issue, shapes.listed(fields), shapes.listed(properties)))
        if method == "PUT":
            reply = self._edit(issue, request.json() or {})
            if reply.status == 204 and query.get("returnIssue") == ["true"]:
                return Reply(200, self._render(issue, None, None))
            return reply
        if method == "DELETE":
            del self.issues[issue["key"]]
            return Reply(204)
        return shapes.error(405, [f"{method} is not allowed here"])

    def _authenticated(self, request: Request) -> bool:
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(value, validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                return False
            return hmac.compare_digest(decoded, f"{self.email}:{self.api_token}")
        if scheme.lower() == "bearer":
            return hmac.compare_digest(value, self.pat)
        return False

    # -- issues --------------------------------------------------------------------------------

    def _create(self, body: dict[str, Any]) -> Reply:
        fields = body.get("fields") or {}
        errors = field_errors(fields, CREATABLE, self.users, self.priorities)
        project_key = lookup(self.projects, _as_named(fields.get("project")))
        if project_key is None:
            errors["project"] = "Specify a valid project ID or key"
        issue_type = lookup(self.issue_types, fields.get("issuetype"))
        if issue_type is None:
            errors["issuetype"] = "Specify a valid issue type"
        if not fields.get("summary"):
            errors["summary"] = "You must specify a summary of the issue."
        if any(not 0 < len(str(p.get("key") or "")) <= 255 for p in body.get("properties") or []):
            errors["properties"] = "Property key must be 1 to 255 characters."
        if errors or project_key is None or issue_type is None:
            return shapes.error(400, errors=errors)
        number = next(self._numbers.setdefault(project_key, itertools.count(1)))
        now = _now()
        stored: dict[str, Any] = {
            "id": str(next(self._ids)),
            "key": f"{project_key}-{number}",
            "fields": {
                "summary": None,
                "description": None,
                "issuetype": self._named("issuetype", self.issue_types, issue_type),
                "project": shapes.project(self.base_url, self.projects[project_key], project_key),
                "status": self._status("To Do", "new"),
                "resolution": None,
                "resolutiondate": None,
                "assignee": None,
                "reporter": self._user(self.account_id),
                "creator": self._user(self.account_id),
                "priority": self._named("priority", self.priorities, "Medium"),
                "duedate": None,
                "labels": [],
                "created": now,
                "updated": now,
                "statuscategorychangedate": now,
            },
            "properties": {p["key"]: p.get("value") for p in body.get("properties") or []},
            "comments": [],
        }
        self._apply(stored, {k: v for k, v in fields.items() if k in EDITABLE})
        self.issues[stored["key"]] = stored
        return Reply(201, {"id": stored["id"], "key": stored["key"], "self": self._self(stored)})

    def _edit(self, issue: dict[str, Any], body: dict[str, Any]) -> Reply:
        fields = dict(body.get("fields") or {})
        errors: dict[str, str] = {}
        for name, operations in (body.get("update") or {}).items():
            if name in fields:
                errors[name] = "Field specified in both 'fields' and 'update'."
                continue
            value = self._updated_value(issue, name, operations)
            if value is _UNSUPPORTED:
                errors[name] = (
                    f"The fake supports add/remove on labels and set on {sorted(EDITABLE)}"
                )
            else:
                fields[name] = value
        errors |= field_errors(fields, EDITABLE, self.users, self.priorities)
        if "summary" in fields and not fields["summary"]:
            errors["summary"] = "You must specify a summary of the issue."
        if errors:
            return shapes.error(400, errors=errors)
        self._apply(issue, fields)
        return Reply(204)

    @staticmethod
    def _updated_value(issue: dict[str, Any], name: str, operations: Any) -> Any:
        value = issue["fields"].get(name)
        labels = list(issue["fields"]["labels"])
        for operation in operations or []:
            if "set" in operation and name in EDITABLE:
                value = labels = operation["set"]
            elif name == "labels" and "add" in operation:
                labels = [*labels, operation["add"]]
            elif name == "labels" and "remove" in operation:
                labels = [label for label in labels if label != operation["remove"]]
            else:
                return _UNSUPPORTED
        return labels if name == "labels" else value

    def _apply(self, issue: dict[str, Any], fields: dict[str, Any]) -> None:
        target = issue["fields"]
        for name, value in fields.items():
            if name == "assignee":
                target[name] = self._user(value["accountId"]) if value else None
            elif name == "priority":
                priority = lookup(self.priorities, value) or "Medium"
                target[name] = self._named("priority", self.priorities, priority)
            elif name == "labels":
                target[name] = list(dict.fromkeys(value or []))
            else:
                target[name] = value
        target["updated"] = _now()

    def _comments(self, issue: dict[str, Any], method: str, request: Request) -> Reply:
        comments = issue["comments"]
        if method != "POST":
            return Reply(
                200,
                {"startAt": 0, "maxResults": 5000, "total": len(comments), "comments": comments},
            )
        comment_id, now = str(next(self._comment_ids)), _now()
        comment = {
            "self": f"{self._self(issue)}/comment/{comment_id}",
            "id": comment_id,
            "author": self._user(self.account_id),
            "body": request.json()["body"],
            "updateAuthor": self._user(self.account_id),
            "created": now,
            "updated": now,
            "jsdPublic": True,
        }
        comments.append(comment)
        issue["fields"]["updated"] = now
        return Reply(201, comment)

    def _property(
        self, issue: dict[str, Any], method: str, key: str | None, request: Request
    ) -> Reply:
        properties = issue["properties"]
        if key is None:
            keys = [{"key": k, "self": f"{self._self(issue)}/properties/{k}"} for k in properties]
            return Reply(200, {"keys": keys})
        if method == "PUT":
            created = key not in properties
            properties[key] = request.json()
            return Reply(201 if created else 200)
        if key not in properties:
            return shapes.error(404, [f"The property with key '{key}' does not exist."])
        if method == "DELETE":
            del properties[key]
            return Reply(204)
        return Reply(200, {"key": key, "value": properties[key]})

    # -- search --------------------------------------------------------------------------------

    def _search(self, params: dict[str, Any]) -> Reply:
        jql = str(params.get("jql") or "")
        try:
            query = parse_jql(jql)
        except JqlError as exc:
            self.violations.append(f"search/jql: {exc}")
            return shapes.error(400, [f"Error in the JQL Query: {exc}"])
        if not query.clauses:
            self.violations.append(f"search/jql: unbounded JQL {jql!r}")
            return shapes.error(400, ["Unbounded JQL queries are not allowed here."])
        found = [i for i in self.issues.values() if all(matches(i, c) for c in query.clauses)]
        for name, descending in reversed(query.order or [("created", False)]):
            found.sort(key=lambda issue, n=name: _order_key(issue, n), reverse=descending)
        start = int(params.get("nextPageToken") or 0)
        size = int(params.get("maxResults") or 50)
        fields = shapes.listed(list(params.get("fields") or [])) or []
        result: dict[str, Any] = {
            "issues": [
                shapes.search_hit(self.base_url, i, fields) for i in found[start : start + size]
            ],
            "isLast": start + size >= len(found),
        }
        if not result["isLast"]:
            result["nextPageToken"] = str(start + size)
        return Reply(200, result)

    # -- rendering -----------------------------------------------------------------------------

    def _render(
        self, issue: dict[str, Any], fields: list[str] | None, properties: list[str] | None
    ) -> dict[str, Any]:
        return shapes.render_issue(self.base_url, issue, fields, properties)

    def _find(self, id_or_key: str) -> dict[str, Any] | None:
        for issue in self.issues.values():
            if id_or_key in (issue["id"], issue["key"]) or issue["key"] == id_or_key.upper():
                return issue
        return None

    def _self(self, issue: dict[str, Any]) -> str:
        return shapes.issue_self(self.base_url, issue)

    def _user(self, account_id: str) -> dict[str, Any]:
        return shapes.user(self.base_url, account_id, self.users.get(account_id, account_id))

    def _named(self, kind: str, table: dict[str, str], name: str) -> dict[str, Any]:
        return shapes.named(self.base_url, kind, table[name], name)


def _as_named(project: Any) -> Any:
    # Projects are referred to by key or id; lookup() speaks name or id.
    return (
        {"name": project.get("key"), "id": project.get("id")} if isinstance(project, dict) else None
    )


def _order_key(issue: dict[str, Any], name: str) -> Any:
    if name in ("key", "id"):
        return int(issue["id"])
    return (issue["fields"][name], int(issue["id"]))


@pytest.fixture
def fake_jira() -> Iterator[FakeJira]:
    """A started FakeJira; the test fails if any request broke Jira's contract."""
    contracts_dir()  # skips on a bare clone, fails on CI
    _contract()  # built once, before any test starts its clock
    fake = FakeJira().start()
    try:
        yield fake
    finally:
        fake.stop()
    if fake.violations:
        pytest.fail("requests real Jira Cloud would refuse:\n" + "\n".join(fake.violations))
