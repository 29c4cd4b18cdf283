"""A fake GitHub REST API (the issues subset the connector uses), checked against GitHub's
published OpenAPI description on every request."""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import threading
import time
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import cache
from typing import Any
from urllib.parse import parse_qs, urlencode

import pytest

from tests.fake_trackers.contracts import OpenAPIContract, contracts_dir
from tests.fake_trackers.server import FakeTrackerServer, Reply, Request

SPEC = "github/openapi/github-rest-issues-subset.openapi.json"
_CONTRACT_HOST = "http://github.fake.invalid"
# One validator (about 2 s to build) serves every fake; openapi-core is not promised thread-safe.
_contract_lock = threading.Lock()
TOKEN = "ghp_fake_valid_token"
BOT = "followthrough-bot"
_REPO = re.compile(r"^/repos/(?P<repo>[^/]+/[^/]+)$")
_HOOKS = re.compile(r"^/repos/(?P<repo>[^/]+/[^/]+)/hooks$")
_ISSUES = re.compile(
    r"^/repos/(?P<repo>[^/]+/[^/]+)/issues(?:/(?P<number>\d+))?(?P<comments>/comments)?$"
)


@cache
def _contract() -> OpenAPIContract:
    return OpenAPIContract(SPEC, _CONTRACT_HOST)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse(timestamp: str) -> datetime:
    return datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def _stable_id(text: str) -> int:
    return zlib.crc32(text.encode()) % 10**8


def _user(login: str) -> dict[str, Any]:
    return {
        "login": login,
        "id": _stable_id(login),
        "node_id": f"U_{_stable_id(login)}",
        "type": "User",
        "site_admin": False,
        "url": f"https://api.github.com/users/{login}",
        "html_url": f"https://github.com/{login}",
    }


def _label(base_url: str, repo: str, name: str) -> dict[str, Any]:
    return {
        "id": _stable_id(f"{repo}:{name}"),
        "node_id": f"LA_{_stable_id(f'{repo}:{name}')}",
        "url": f"{base_url}/repos/{repo}/labels/{name}",
        "name": name,
        "color": "ededed",
        "default": False,
        "description": None,
    }


class FakeGitHub(FakeTrackerServer):
    """Issues live in `issues[(repo, number)]` as GitHub renders them; tests may edit them."""

    RATE_LIMIT = 5000

    def __init__(self, repos: tuple[str, ...] = ("acme/api",)) -> None:
        super().__init__()
        self.repos = set(repos)
        self.issues: dict[tuple[str, int], dict[str, Any]] = {}
        # Deleted issues answer 410 Gone, as GitHub does; their numbers are not reused.
        self.deleted: set[tuple[str, int]] = set()
        self._used = 0
        self.comments: dict[tuple[str, int], list[dict[str, Any]]] = {}
        self.hooks: list[dict[str, Any]] = []
        self._numbers: dict[str, itertools.count[int]] = {}
        self.contract = self._check

    # -- test helpers ----------------------------------------------------------------------

    def issue(self, repo: str, number: int) -> dict[str, Any]:
        with self.lock:
            return self.issues[(repo, number)]

    def close(self, repo: str, number: int, reason: str = "completed") -> None:
        """Closed by a person on GitHub (reason completed, not_planned or duplicate)."""
        with self.lock:
            issue = self.issues[(repo, number)]
            issue.update(state="closed", state_reason=reason, closed_at=_now(), updated_at=_now())

    def reopen(self, repo: str, number: int) -> None:
        """Reopened by a person on GitHub."""
        with self.lock:
            issue = self.issues[(repo, number)]
            issue.update(state="open", state_reason="reopened", closed_at=None, updated_at=_now())

    def delete(self, repo: str, number: int) -> None:
        """An admin deleted the issue."""
        with self.lock:
            del self.issues[(repo, number)]
            self.deleted.add((repo, number))

    def with_marker(self, marker: str) -> list[dict[str, Any]]:
        """Every stored issue whose body carries the action item's hidden marker."""
        needle = f"<!-- followthrough:action-item={marker} -->"
        with self.lock:
            return [i for i in self.issues.values() if needle in (i.get("body") or "")]

    def add_issue(self, repo: str, title: str, body: str, creator: str) -> dict[str, Any]:
        """An issue someone else opened (through the UI, say)."""
        with self.lock:
            return self._create(repo, {"title": title, "body": body}, creator=creator).body  # type: ignore[no-any-return]

    def _create_hook(self, repo: str, body: dict[str, Any]) -> Reply:
        hook_id = 700 + len(self.hooks)
        config = dict(body.get("config") or {})
        self.hooks.append({"repo": repo, **body, "config": config})
        shown = {k: v for k, v in config.items() if k != "secret"}
        return Reply(
            201,
            {
                "type": "Repository",
                "id": hook_id,
                "name": "web",
                "active": body.get("active", True),
                "events": body.get("events", ["push"]),
                "config": {**shown, "secret": "********"},
                "updated_at": _now(),
                "created_at": _now(),
                "url": f"{self.base_url}/repos/{repo}/hooks/{hook_id}",
                "test_url": f"{self.base_url}/repos/{repo}/hooks/{hook_id}/test",
                "ping_url": f"{self.base_url}/repos/{repo}/hooks/{hook_id}/pings",
                "deliveries_url": f"{self.base_url}/repos/{repo}/hooks/{hook_id}/deliveries",
                "last_response": {"code": None, "status": "unused", "message": None},
            },
        )

    def requests_to(self, method: str, path: str) -> list[Request]:
        with self.lock:
            return [r for r in self.requests if r.method == method and r.path == path]

    # -- behaviour -------------------------------------------------------------------------

    def _check(self, request: Request) -> list[str]:
        url = _CONTRACT_HOST + request.path + (f"?{request.query}" if request.query else "")
        with _contract_lock:
            return _contract().violations(request.method, url, request.headers, request.body)

    def handle(self, request: Request) -> Reply:
        reply = self._answer(request)
        # GitHub reports the primary rate limit on every answer (rate-limits-for-the-rest-api).
        self._used += 1
        reply.headers = {
            "x-ratelimit-limit": str(self.RATE_LIMIT),
            "x-ratelimit-remaining": str(max(self.RATE_LIMIT - self._used, 0)),
            "x-ratelimit-used": str(self._used),
            "x-ratelimit-reset": str(int(time.time()) + 3600),
            "x-ratelimit-resource": "core",
            **reply.headers,
        }
        return reply

    def _answer(self, request: Request) -> Reply:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() not in ("token", "bearer") or token != TOKEN:
            return Reply(
                401,
                {"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"},
            )
        if request.path == "/user" and request.method == "GET":
            return Reply(200, _user(BOT))
        repo_match = _REPO.match(request.path)
        if repo_match is not None and request.method == "GET":
            if repo_match.group("repo") not in self.repos:
                return Reply(404, {"message": "Not Found"})
            return Reply(200, self._repo(repo_match.group("repo")))
        hooks = _HOOKS.match(request.path)
        if hooks is not None and request.method == "POST" and hooks.group("repo") in self.repos:
            return self._create_hook(hooks.group("repo"), request.json() or {})
        match = _ISSUES.match(request.path)
        if match is None:
            return Reply(404, {"message": "Not Found"})
        repo = match.group("repo")
        if repo not in self.repos:
            return Reply(404, {"message": "Not Found"})
        number = int(match.group("number")) if match.group("number") else None
        if number is None:
            if request.method == "POST":
                return self._create(repo, request.json() or {})
            return self._list(repo, parse_qs(request.query))
        issue = self.issues.get((repo, number))
        if issue is None and (repo, number) in self.deleted:
            return Reply(
                410,
                {
                    "message": "This issue was deleted",
                    "documentation_url": "https://docs.github.com/rest/issues/issues#get-an-issue",
                },
            )
        if issue is None:
            return Reply(404, {"message": "Not Found"})
        if match.group("comments"):
            return self._comment(repo, number, request)
        if request.method == "PATCH":
            return self._edit(issue, request.json() or {})
        # Conditional requests, as GitHub serves them: 304 (and no rate-limit cost) if unchanged.
        etag = '"' + hashlib.sha1(json.dumps(issue, sort_keys=True).encode()).hexdigest() + '"'  # noqa: S324
        if request.headers.get("if-none-match") == etag:
            return Reply(304, None, {"ETag": etag})
        return Reply(200, issue, {"ETag": etag})

    def _repo(self, repo: str) -> dict[str, Any]:
        owner, name = repo.split("/")
        return {
            "id": _stable_id(repo),
            "node_id": f"R_{_stable_id(repo)}",
            "name": name,
            "full_name": repo,
            "owner": _user(owner),
            "private": True,
            "html_url": f"{self.base_url}/{repo}",
            "url": f"{self.base_url}/repos/{repo}",
            "has_issues": True,
            "open_issues_count": sum(
                1 for (r, _), i in self.issues.items() if r == repo and i["state"] == "open"
            ),
        }

    def _create(self, repo: str, body: dict[str, Any], creator: str = BOT) -> Reply:
        number = next(self._numbers.setdefault(repo, itertools.count(1)))
        now = _now()
        issue = {
            "id": 1000 + len(self.issues),
            "node_id": f"I_{len(self.issues)}",
            "number": number,
            "title": body["title"],
            "body": body.get("body"),
            "state": "open",
            "state_reason": None,
            "locked": False,
            "labels": [],
            "assignee": None,
            "assignees": [],
            "comments": 0,
            "user": _user(creator),
            "author_association": "OWNER" if creator == BOT else "MEMBER",
            "url": f"{self.base_url}/repos/{repo}/issues/{number}",
            "html_url": f"{self.base_url}/{repo}/issues/{number}",
            "repository_url": f"{self.base_url}/repos/{repo}",
            "labels_url": f"{self.base_url}/repos/{repo}/issues/{number}/labels{{/name}}",
            "comments_url": f"{self.base_url}/repos/{repo}/issues/{number}/comments",
            "events_url": f"{self.base_url}/repos/{repo}/issues/{number}/events",
            "created_at": now,
            "updated_at": now,
            "closed_at": None,
        }
        self._apply(issue, body)
        self.issues[(repo, number)] = issue
        return Reply(201, issue)

    def _apply(self, issue: dict[str, Any], body: dict[str, Any]) -> None:
        for key in ("title", "body"):
            if key in body:
                issue[key] = body[key]
        if "assignees" in body:
            issue["assignees"] = [_user(login) for login in body["assignees"]]
            issue["assignee"] = issue["assignees"][0] if issue["assignees"] else None
        if "labels" in body:
            # GitHub creates a label that the repository does not have yet.
            repo = issue["repository_url"].rsplit("/repos/", 1)[1]
            issue["labels"] = [
                _label(self.base_url, repo, n if isinstance(n, str) else n["name"])
                for n in body["labels"]
            ]
        if "state" in body:
            self._change_state(issue, body["state"], body.get("state_reason"))
        issue["updated_at"] = _now()

    @staticmethod
    def _change_state(issue: dict[str, Any], state: str, reason: str | None) -> None:
        """As GitHub does: `state_reason` counts only with `state` (it is ignored otherwise),
        closing without one means completed, and reopening a closed issue without one means
        reopened. Closing again keeps `closed_at` as it was."""
        was_closed = issue["state"] == "closed"
        if state == "closed":
            issue["state_reason"] = reason or "completed"
            issue["closed_at"] = issue["closed_at"] if was_closed else _now()
        else:
            issue["state_reason"] = reason or ("reopened" if was_closed else issue["state_reason"])
            issue["closed_at"] = None
        issue["state"] = state

    def _edit(self, issue: dict[str, Any], body: dict[str, Any]) -> Reply:
        reason = body.get("state_reason")
        closing = body.get("state") == "closed"
        if "state" in body and reason is not None and (reason == "reopened") == closing:
            # The fake is stricter than GitHub documents: a reason that contradicts the state
            # would only hide a connector bug.
            return Reply(
                422,
                {
                    "message": "Validation Failed",
                    "errors": [
                        {
                            "resource": "Issue",
                            "field": "state_reason",
                            "code": "invalid",
                            "message": f"state_reason {reason!r} does not go with "
                            f"state {body['state']!r}",
                        }
                    ],
                    "documentation_url": "https://docs.github.com/rest/issues/issues#update-an-issue",
                },
            )
        self._apply(issue, body)
        return Reply(200, issue)

    def _list(self, repo: str, params: dict[str, list[str]]) -> Reply:
        def one(name: str, default: str | None = None) -> str | None:
            return params.get(name, [default])[0]

        state = one("state", "open")
        creator = one("creator")
        since = one("since")
        found = [i for (r, _), i in self.issues.items() if r == repo]
        if state != "all":
            found = [i for i in found if i["state"] == state]
        if creator:
            found = [i for i in found if i["user"]["login"] == creator]
        if since:
            moment = datetime.fromisoformat(since.replace("Z", "+00:00"))
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
            found = [i for i in found if _parse(i["updated_at"]) >= moment.replace(microsecond=0)]
        sort = one("sort", "created") or "created"
        key = "updated_at" if sort == "updated" else "created_at"
        found.sort(key=lambda i: (i[key], i["number"]), reverse=one("direction", "desc") == "desc")
        per_page = min(int(one("per_page", "30") or 30), 100)
        page = int(one("page", "1") or 1)
        chunk = found[(page - 1) * per_page : page * per_page]
        headers = {}
        if page * per_page < len(found):
            # GitHub's Link keeps every filter of the request; only `page` changes.
            def link(to: int, rel: str) -> str:
                query = {k: v[0] for k, v in params.items()} | {"page": str(to)}
                return f'<{self.base_url}/repos/{repo}/issues?{urlencode(query)}>; rel="{rel}"'

            last = -(-len(found) // per_page)
            headers["Link"] = f"{link(page + 1, 'next')}, {link(last, 'last')}"
        return Reply(200, chunk, headers)

    def _comment(self, repo: str, number: int, request: Request) -> Reply:
        comments = self.comments.setdefault((repo, number), [])
        if request.method == "POST":
            comment = {
                "id": 5000 + len(comments),
                "body": (request.json() or {})["body"],
                "user": _user(BOT),
                "created_at": _now(),
                "updated_at": _now(),
                "html_url": f"{self.base_url}/{repo}/issues/{number}#issuecomment-{len(comments)}",
                "url": f"{self.base_url}/repos/{repo}/issues/comments/{5000 + len(comments)}",
            }
            comments.append(comment)
            self.issues[(repo, number)]["comments"] = len(comments)
            return Reply(201, comment)
        return Reply(200, comments)


@pytest.fixture
def fake_github() -> Iterator[FakeGitHub]:
    """A started FakeGitHub; the test fails if any request broke GitHub's contract."""
    contracts_dir()
    _contract()
    fake = FakeGitHub().start()
    try:
        yield fake
    finally:
        fake.stop()
    if fake.violations:
        pytest.fail("requests GitHub would refuse:\n" + "\n".join(fake.violations))
