"""Malformed webhook bodies are refused, and valid JSON with hostile values (wrong types,
impossible numbers, NaN, deep nesting) is malformed or parsed, never a crash.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from types import ModuleType
from typing import Any

import pytest

from connectors.base import (
    MalformedPayload,
    TrackerEvent,
)
from connectors.github import webhooks as github
from connectors.jira import webhooks as jira
from connectors.linear import webhooks as linear
from connectors.webhook_support import MAX_DEPTH, nesting_depth
from tests.contract.webhook_parser_support import (
    GITHUB_ALL,
    JIRA_FILES,
    LINEAR_FILES,
    LINEAR_IMPROVEMENT,
    encode,
    linear_comment,
    modified,
    to_state,
)
from tests.fake_trackers.contracts import load_json

# -- Malformed and hostile bodies --------------------------------------------------------------


@pytest.mark.parametrize(
    ("event", "body"),
    [
        ("issues", b"not json"),
        ("issues", b"[1, 2]"),
        ("issues", b'{"action": "closed", "repository": {"full_name": "a/b"}}'),
        ("issues", b'{"action": "closed", "issue": {"number": 1}}'),
        ("issues", b'{"action": "closed", "issue": {"number": 1}, "repository": {}}'),
        (
            "issues",
            b'{"action": "closed", "issue": {"number": 1}, "repository": {"full_name": "a/b"}}',
        ),
        (
            "issues",
            b'{"action": "labeled", "issue": {"number": 1, "updated_at": "2026-01-01T00:00:00Z"},'
            b' "repository": {"full_name": "a/b"}}',
        ),
        (
            "issue_comment",
            b'{"action": "created", "issue": {"number": 1}, "repository": {"full_name": "a/b"}}',
        ),
        ("ping", b"{not json"),
    ],
)
def test_github_malformed_body_is_refused(event: str, body: bytes) -> None:
    with pytest.raises(MalformedPayload):
        github.parse_events({"x-github-event": event}, body, {})


@pytest.mark.parametrize(
    "body",
    [
        b"<html>",
        b'"a string"',
        encode({"timestamp": 1}),
        encode({"webhookEvent": "jira:issue_updated", "timestamp": 1}),
        encode({"webhookEvent": "jira:issue_deleted", "timestamp": 1, "issue": {"id": "1"}}),
        encode({"webhookEvent": "jira:issue_deleted", "issue": {"key": "OPS-1"}}),
        encode({"webhookEvent": "comment_created", "timestamp": 1, "issue": {"key": "OPS-1"}}),
        encode(
            {
                "webhookEvent": "jira:issue_updated",
                "timestamp": 1,
                "issue": {"key": "OPS-1", "fields": {}},
                "changelog": {"items": [{"field": "status", "toString": "Done"}]},
            }
        ),
        encode(
            {
                "webhookEvent": "jira:issue_updated",
                "timestamp": 1,
                "issue": {"key": "OPS-1", "fields": {}},
                "changelog": {"items": [{"field": "duedate", "to": "next week"}]},
            }
        ),
    ],
)
def test_jira_malformed_body_is_refused(body: bytes) -> None:
    with pytest.raises(MalformedPayload):
        jira.parse_events({}, body, {})


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"null",
        encode({"action": "update", "data": {}}),
        encode({"type": "Issue", "action": "remove"}),
        encode(
            {"type": "Issue", "action": "remove", "data": {"updatedAt": "2026-01-01T00:00:00Z"}}
        ),
        encode(
            {
                "type": "Comment",
                "action": "create",
                "data": {"body": "x", "createdAt": "2026-01-01T00:00:00Z"},
            }
        ),
        encode(
            {
                "type": "Issue",
                "action": "update",
                "data": {"identifier": "ENG-7", "updatedAt": "2026-01-01T00:00:00Z"},
                "updatedFrom": {"stateId": "s-old"},
            }
        ),
        encode(
            {
                "type": "Issue",
                "action": "update",
                "data": {"identifier": "ENG-7", "updatedAt": "yesterday"},
                "updatedFrom": {},
            }
        ),
    ],
)
def test_linear_malformed_body_is_refused(body: bytes) -> None:
    with pytest.raises(MalformedPayload):
        linear.parse_events({}, body, {})


# Valid JSON of the wrong shape: wrong types, numbers no clock can hold, NaN and infinities
# (Python's json reads them), dates at the calendar's ends.
HOSTILE_VALUES: list[Any] = [
    5,
    -1,
    1e20,
    -1e20,
    float("nan"),
    float("inf"),
    True,
    None,
    "",
    "x",
    "0001-01-01T00:00:00+01:00",
    ["closed"],
    [7, None, {}],
    {"name": 5},
]
GITHUB_PATHS = [
    "action",
    "issue",
    "issue.number",
    "issue.updated_at",
    "issue.state_reason",
    "issue.labels",
    "issue.labels.0",
    "issue.labels.0.name",
    "issue.assignee",
    "issue.assignees",
    "issue.assignees.0",
    "issue.assignees.0.login",
    "assignee",
    "assignee.login",
    "label",
    "label.name",
    "repository",
    "repository.full_name",
    "sender",
    "comment",
    "comment.body",
    "comment.created_at",
    "comment.user",
]
JIRA_PATHS = [
    "webhookEvent",
    "timestamp",
    "user",
    "issue",
    "issue.key",
    "issue.fields",
    "issue.fields.updated",
    "issue.fields.labels",
    "issue.fields.labels.0",
    "issue.fields.status",
    "issue.fields.status.name",
    "issue.fields.status.statusCategory",
    "issue.fields.status.statusCategory.key",
    "issue.fields.resolution",
    "issue.fields.resolution.name",
    "issue.fields.assignee",
    "issue.fields.duedate",
    "changelog",
    "changelog.items",
    "changelog.items.0",
    "changelog.items.0.field",
    "changelog.items.0.fromString",
    "changelog.items.0.toString",
    "changelog.items.0.to",
    "changelog.items.1",
    "changelog.items.2.to",
    "changelog.items.3.toString",
    "comment",
    "comment.body",
    "comment.body.content",
    "comment.body.content.0.attrs",
    "comment.author",
]
LINEAR_PATHS = [
    "type",
    "action",
    "url",
    "actor",
    "actor.name",
    "webhookTimestamp",
    "updatedFrom",
    "updatedFrom.stateId",
    "updatedFrom.labelIds",
    "updatedFrom.labelIds.0",
    "data",
    "data.id",
    "data.identifier",
    "data.number",
    "data.team",
    "data.team.key",
    "data.updatedAt",
    "data.createdAt",
    "data.state",
    "data.state.type",
    "data.state.name",
    "data.assigneeId",
    "data.dueDate",
    "data.labels",
    "data.labels.0",
    "data.labels.0.name",
    "data.labelIds",
    "data.labelIds.0",
    "data.body",
    "data.user",
    "data.issue",
    "data.issue.identifier",
    "data.issueId",
]


def _jira_with_every_change(data: dict[str, Any]) -> None:
    data["changelog"]["items"] = [
        {"field": "status", "fromString": "To Do", "toString": "Done"},
        {"field": "assignee", "from": "acc-1", "to": "acc-2"},
        {"field": "duedate", "from": None, "to": "2026-04-01"},
        {"field": "labels", "fromString": "a", "toString": "a b"},
    ]
    data["issue"]["fields"]["duedate"] = "2026-04-01"


def _jira_adf_comment(data: dict[str, Any]) -> None:
    data["comment"]["body"] = {
        "type": "doc",
        "content": [{"type": "mention", "attrs": {"text": "@Ada"}}],
    }


def _linear_with_every_change(data: dict[str, Any]) -> None:
    to_state("completed", "Done")(data)
    data["updatedFrom"].update(
        {"assigneeId": None, "dueDate": None, "labelIds": [LINEAR_IMPROVEMENT, "gone"]}
    )
    data["data"]["dueDate"] = "2026-04-01"


def _linear_comment_payload(data: dict[str, Any]) -> None:
    data.clear()
    data.update(
        json.loads(
            linear_comment(
                {
                    "id": "c1",
                    "body": "hi",
                    "createdAt": "2026-02-28T09:00:00.000Z",
                    "issue": {"id": "i-9", "identifier": "ENG-7"},
                    "user": {"name": "Ada"},
                }
            )
        )
    )


def _unchanged(data: dict[str, Any]) -> None:
    return None


HOSTILE_BASES: list[tuple[ModuleType, dict[str, str], str, Callable[..., None], list[str]]] = [
    *[
        (github, {"x-github-event": event}, f"github/webhooks/{name}", _unchanged, GITHUB_PATHS)
        for event, name in GITHUB_ALL
    ],
    *[(jira, {}, f"jira/webhooks/{name}", _unchanged, JIRA_PATHS) for name in JIRA_FILES],
    (jira, {}, "jira/webhooks/jira_issue_updated.edited.json", _jira_with_every_change, JIRA_PATHS),
    (jira, {}, "jira/webhooks/comment_created.json", _jira_adf_comment, JIRA_PATHS),
    *[(linear, {}, f"linear/webhooks/{name}", _unchanged, LINEAR_PATHS) for name in LINEAR_FILES],
    (linear, {}, "linear/webhooks/issue_update.json", _linear_with_every_change, LINEAR_PATHS),
    (linear, {}, "linear/webhooks/issue_update.json", _linear_comment_payload, LINEAR_PATHS),
]


def _set_path(data: Any, path: str, value: Any) -> bool:
    """Put `value` at the dotted `path` (list indexes as numbers); False when the path's parent
    is not in this payload."""
    *parents, last = path.split(".")
    node = data
    for part in parents:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return False
    if isinstance(node, dict):
        node[last] = value
        return True
    if isinstance(node, list) and last.isdigit() and int(last) < len(node):
        node[int(last)] = value
        return True
    return False


def _outcome(parser: ModuleType, headers: Mapping[str, str], body: bytes) -> str | None:
    """None when the parser answered as a parser may (events, [] or MalformedPayload), else
    what went wrong."""
    try:
        events = parser.parse_events(headers, body, {})
    except MalformedPayload:
        return None
    except Exception as exc:  # whatever escapes is the failure being looked for
        return f"{type(exc).__name__}: {exc}"
    if not isinstance(events, list) or not all(isinstance(e, TrackerEvent) for e in events):
        return f"not a list of events: {events!r:.200}"
    for event in events:
        if event.occurred_at.utcoffset() != timedelta(0):
            return f"a time that is not UTC: {event.occurred_at!r}"
        if not all(isinstance(label, str) for label in event.labels):
            return f"labels that are not strings: {event.labels!r}"
    return None


@pytest.mark.parametrize(
    ("parser", "headers", "example", "change", "paths"),
    HOSTILE_BASES,
    ids=[
        f"{example.split('/', 2)[2]}-{change.__name__}"
        for _, _, example, change, _ in HOSTILE_BASES
    ],
)
def test_hostile_but_valid_json_is_malformed_or_parsed_never_a_crash(
    parser: ModuleType,
    headers: dict[str, str],
    example: str,
    change: Callable[[dict[str, Any]], None],
    paths: Sequence[str],
) -> None:
    base = json.loads(modified(example, change))
    assert _outcome(parser, headers, encode(base)) is None
    failures = []
    for path in paths:
        for value in HOSTILE_VALUES:
            data = copy.deepcopy(base)
            if not _set_path(data, path, value):
                continue
            problem = _outcome(parser, headers, encode(data))
            if problem:
                failures.append(f"{path} = {value!r}: {problem}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("parser", [github, jira, linear], ids=["github", "jira", "linear"])
def test_json_nested_beyond_the_recursion_limit_is_malformed(parser: ModuleType) -> None:
    with pytest.raises(MalformedPayload):
        parser.parse_events({"x-github-event": "issues"}, b"[" * 100_000 + b"]" * 100_000, {})


@pytest.mark.parametrize("depth", [400, 5_000])
def test_jira_comment_nested_too_deeply_is_malformed_or_read(depth: int) -> None:
    comment = load_json("jira/webhooks/comment_created.json")
    comment["comment"]["body"] = "BODY"
    nested = '{"type": "blockquote", "content": [' * depth + "]}" * depth
    body = encode(comment).replace(b'"BODY"', nested.encode())
    assert _outcome(jira, {}, body) is None


# -- The nesting bound, counted on the bytes before parsing -------------------------------------


@pytest.mark.parametrize(
    ("body", "depth"),
    [
        (b"{}", 1),
        (b'{"a": [1, {"b": []}]}', 4),
        # Brackets inside strings, escaped quotes and escaped backslashes are text, not nesting.
        (b'{"a": "' + b"[" * 200 + b'"}', 1),
        (b'{"a": "\\"' + b"[" * 200 + b'\\""}', 1),
        (b'{"a": "\\\\", "b": ' + b"[" * 70 + b"]" * 70 + b"}", 71),
        (b"[" * 200_000 + b"]" * 200_000, 200_000),
    ],
    ids=["empty", "nested", "brackets in a string", "escaped quotes", "escaped backslash", "deep"],
)
def test_nesting_depth_counts_brackets_outside_strings(body: bytes, depth: int) -> None:
    assert nesting_depth(body) == depth


def test_a_long_bracketed_string_is_read_and_deep_nesting_is_not() -> None:
    title = "[" * 500 + "]" * 500
    ok = modified(
        "github/webhooks/issues/closed.payload.json", lambda d: d["issue"].update(title=title)
    )
    assert github.parse_events({"x-github-event": "issues"}, ok, {})
    deep = encode(
        {"action": "closed", "x": json.loads("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1))}
    )
    with pytest.raises(MalformedPayload, match=f"nested deeper than {MAX_DEPTH}"):
        github.parse_events({"x-github-event": "issues"}, deep, {})
