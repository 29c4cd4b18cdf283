"""The three webhook parsers against the vendors' payload examples in ../shared/contracts.

Every example is signed here as its vendor signs it, with a test secret; signature checking is
never patched away. Modified payloads (a not-planned close, a won't-do resolution, a Linear
state change) are built from the examples in memory, never written into the repository.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import logging
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from connectors.base import EventKind, MalformedPayload, TicketState, TrackerEvent
from connectors.github import webhooks as github
from connectors.jira import webhooks as jira
from connectors.linear import webhooks as linear
from tests.fake_trackers.contracts import contracts_dir, load_json

SECRET = "test-webhook-secret"
WRONG = "not-the-secret"
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
JIRA_ACCOUNT = "5c5f880629be9642ba529340"


def raw(relative: str) -> bytes:
    return (contracts_dir() / relative).read_bytes()


def encode(data: Any) -> bytes:
    return json.dumps(data).encode()


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


def assert_utc(events: list[TrackerEvent]) -> None:
    for event in events:
        assert event.occurred_at.utcoffset() == timedelta(0), event


# -- GitHub ------------------------------------------------------------------------------------

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


def github_headers(event: str, body: bytes, secret: str = SECRET) -> dict[str, str]:
    return {
        "x-github-event": event,
        "x-github-delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958",
        "x-hub-signature-256": "sha256=" + hex_hmac(secret, body),
        "content-type": "application/json",
    }


def github_events(event: str, body: bytes) -> list[TrackerEvent]:
    headers = github_headers(event, body)
    assert github.verify_signature(headers, body, SECRET, NOW)
    return github.parse_events(headers, body, {})


def github_modified(name: str, change: Callable[[dict[str, Any]], None]) -> bytes:
    data = copy.deepcopy(load_json(f"github/webhooks/{name}"))
    change(data)
    return encode(data)


def test_github_signature_matches_githubs_published_test_vector() -> None:
    body = b"Hello, World!"
    secret = "It's a Secret to Everybody"
    header = {
        "x-hub-signature-256": "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    }
    assert github.verify_signature(header, body, secret, NOW)
    assert not github.verify_signature(header, body, WRONG, NOW)
    assert not github.verify_signature(header, b"Hello, World?", secret, NOW)


@pytest.mark.parametrize(("event", "name"), GITHUB_ALL)
def test_github_signature_of_every_example(event: str, name: str) -> None:
    body = raw(f"github/webhooks/{name}")
    headers = github_headers(event, body)
    assert github.verify_signature(headers, body, SECRET, NOW)
    assert not github.verify_signature(github_headers(event, body, WRONG), body, SECRET, NOW)
    assert not github.verify_signature(headers, tampered(body), SECRET, NOW)
    missing = {k: v for k, v in headers.items() if k != "x-hub-signature-256"}
    assert not github.verify_signature(missing, body, SECRET, NOW)


def test_github_signature_refuses_without_secret_or_prefix() -> None:
    body = raw("github/webhooks/issues/closed.payload.json")
    digest = hex_hmac(SECRET, body)
    assert not github.verify_signature({"x-hub-signature-256": f"sha256={digest}"}, body, None, NOW)
    assert not github.verify_signature({"x-hub-signature-256": f"sha256={digest}"}, body, "", NOW)
    assert not github.verify_signature({"x-hub-signature-256": digest}, body, SECRET, NOW)
    # The legacy SHA-1 header alone is not accepted.
    sha1 = hmac.new(SECRET.encode(), body, hashlib.sha1).hexdigest()
    assert not github.verify_signature({"x-hub-signature": f"sha1={sha1}"}, body, SECRET, NOW)


def test_github_delivery_id_is_the_header_else_a_body_hash() -> None:
    body = raw("github/webhooks/issues/closed.payload.json")
    assert github.delivery_id({"x-github-delivery": "abc-123"}, body) == "abc-123"
    assert github.delivery_id({}, body) == "sha256:" + hashlib.sha256(body).hexdigest()
    events = github_events("issues", body)
    assert events[0].delivery_id == "72d3162e-cc78-11e3-81ab-4c9367dc0958"


@pytest.mark.parametrize(
    ("event", "name", "expected"),
    [
        (
            "issues",
            "issues/closed.payload.json",
            [
                {
                    "external_key": "Pritesh-30/test-repo#8",
                    "occurred_at": at("2026-01-31T08:11:37Z"),
                    "kind": EventKind.STATE_CHANGED,
                    "state": TicketState.DONE,
                    "raw_status": "closed:completed",
                    "actor": "Pritesh-30",
                    "labels": (),
                }
            ],
        ),
        (
            "issues",
            "issues/reopened.payload.json",
            [
                {
                    "external_key": "Codertocat/Hello-World#1",
                    "occurred_at": at("2021-10-11T16:40:56Z"),
                    "kind": EventKind.STATE_CHANGED,
                    "state": TicketState.OPEN,
                    "actor": "Codertocat",
                }
            ],
        ),
        (
            "issues",
            "issues/deleted.payload.json",
            [
                {
                    "external_key": "Codertocat/Hello-World#1",
                    "occurred_at": at("2021-10-11T16:40:56Z"),
                    "kind": EventKind.DELETED,
                    "actor": "Codertocat",
                }
            ],
        ),
        (
            "issues",
            "issues/assigned.payload.json",
            [
                {
                    "external_key": "Codertocat/Hello-World#1",
                    "occurred_at": at("2019-05-15T15:20:18Z"),
                    "kind": EventKind.ASSIGNEE_CHANGED,
                    "assignee": "Codertocat",
                    "actor": "Codertocat",
                }
            ],
        ),
        (
            "issues",
            "issues/unassigned.payload.json",
            # The published example still shows the removed user as `issue.assignee`; the
            # parser reports the issue as the payload describes it.
            [
                {
                    "external_key": "Codertocat/Hello-World#1",
                    "occurred_at": at("2019-05-15T15:20:25Z"),
                    "kind": EventKind.ASSIGNEE_CHANGED,
                    "assignee": "Codertocat",
                }
            ],
        ),
        (
            "issues",
            "issues/labeled.payload.json",
            [
                {
                    "external_key": "Codertocat/Hello-World#1",
                    "occurred_at": at("2019-05-15T15:20:18Z"),
                    "kind": EventKind.LABEL_ADDED,
                    "label": "bug",
                    "labels": ("bug",),
                    "actor": "Codertocat",
                }
            ],
        ),
        (
            "issues",
            "issues/unlabeled.payload.json",
            [
                {
                    "external_key": "Codertocat/Hello-World#1",
                    "occurred_at": at("2019-05-15T15:20:26Z"),
                    "kind": EventKind.LABEL_REMOVED,
                    "label": "bug",
                }
            ],
        ),
        ("issues", "issues/edited.payload.json", []),
        ("issues", "issues/opened.payload.json", []),
        (
            "issue_comment",
            "issue_comment/created.payload.json",
            [
                {
                    "external_key": "Codertocat/Hello-World#1",
                    "occurred_at": at("2019-05-15T15:20:21Z"),
                    "kind": EventKind.COMMENT_ADDED,
                    "comment": "You are totally right! I'll get this fixed right away.",
                    "actor": "Codertocat",
                }
            ],
        ),
        ("ping", "ping/payload.json", []),
    ],
)
def test_github_examples(event: str, name: str, expected: list[dict[str, Any]]) -> None:
    events = github_events(event, raw(f"github/webhooks/{name}"))
    assert len(events) == len(expected)
    for got, want in zip(events, expected, strict=True):
        for field, value in want.items():
            assert getattr(got, field) == value, field
    assert_utc(events)


@pytest.mark.parametrize(
    ("reason", "state", "raw_status"),
    [
        ("not_planned", TicketState.WONT_DO, "closed:not_planned"),
        ("duplicate", TicketState.WONT_DO, "closed:duplicate"),
        ("completed", TicketState.DONE, "closed:completed"),
        (None, TicketState.DONE, "closed"),
    ],
)
def test_github_closed_reason(reason: str | None, state: TicketState, raw_status: str) -> None:
    def change(data: dict[str, Any]) -> None:
        data["issue"]["state_reason"] = reason

    [event] = github_events("issues", github_modified("issues/closed.payload.json", change))
    assert (event.kind, event.state, event.raw_status) == (
        EventKind.STATE_CHANGED,
        state,
        raw_status,
    )


def test_github_unassigned_to_nobody_and_transferred() -> None:
    def unassign(data: dict[str, Any]) -> None:
        data["issue"]["assignee"] = None
        data["issue"]["assignees"] = []

    [event] = github_events("issues", github_modified("issues/unassigned.payload.json", unassign))
    assert event.kind is EventKind.ASSIGNEE_CHANGED and event.assignee is None

    def transfer(data: dict[str, Any]) -> None:
        data["action"] = "transferred"

    [event] = github_events("issues", github_modified("issues/deleted.payload.json", transfer))
    assert event.kind is EventKind.DELETED


def test_github_ignores_unused_actions_and_unknown_fields() -> None:
    def milestone(data: dict[str, Any]) -> None:
        data["action"] = "milestoned"

    assert github_events("issues", github_modified("issues/opened.payload.json", milestone)) == []

    def extra(data: dict[str, Any]) -> None:
        data["brand_new_field"] = {"nested": [1, 2]}
        data["issue"]["another_new_field"] = "x"

    body = github_modified("issues/closed.payload.json", extra)
    [event] = github_events("issues", body)
    assert event.state is TicketState.DONE


def test_github_infers_the_event_when_the_header_is_missing() -> None:
    ping = raw("github/webhooks/ping/payload.json")
    assert github.parse_events({}, ping, {}) == []
    comment = raw("github/webhooks/issue_comment/created.payload.json")
    [event] = github.parse_events({}, comment, {})
    assert event.kind is EventKind.COMMENT_ADDED
    closed = raw("github/webhooks/issues/closed.payload.json")
    [event] = github.parse_events({}, closed, {})
    assert event.kind is EventKind.STATE_CHANGED


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
def test_github_malformed(event: str, body: bytes) -> None:
    with pytest.raises(MalformedPayload):
        github.parse_events({"x-github-event": event}, body, {})


# -- Jira --------------------------------------------------------------------------------------

JIRA_FILES = [
    "jira_issue_created.json",
    "jira_issue_updated.status_to_done.json",
    "jira_issue_updated.reopened.json",
    "jira_issue_updated.edited.json",
    "jira_issue_deleted.json",
    "comment_created.json",
]


def jira_headers(body: bytes, secret: str = SECRET) -> dict[str, str]:
    return {
        "x-hub-signature": "sha256=" + hex_hmac(secret, body),
        "x-atlassian-webhook-identifier": "41cdb8b4-d3c0-4f02-8e59-c0c5c0f3e1a2",
        "x-atlassian-webhook-flow": "Primary",
    }


def jira_events(body: bytes, options: Mapping[str, Any] | None = None) -> list[TrackerEvent]:
    headers = jira_headers(body)
    assert jira.verify_signature(headers, body, SECRET, NOW)
    return jira.parse_events(headers, body, options or {})


def jira_modified(name: str, change: Callable[[dict[str, Any]], None]) -> bytes:
    data = copy.deepcopy(load_json(f"jira/webhooks/{name}"))
    change(data)
    return encode(data)


@pytest.mark.parametrize("name", JIRA_FILES)
def test_jira_signature_of_every_example(name: str) -> None:
    body = raw(f"jira/webhooks/{name}")
    headers = jira_headers(body)
    assert jira.verify_signature(headers, body, SECRET, NOW)
    assert not jira.verify_signature(jira_headers(body, WRONG), body, SECRET, NOW)
    assert not jira.verify_signature(headers, tampered(body), SECRET, NOW)
    assert not jira.verify_signature({}, body, SECRET, NOW)


def test_jira_unsigned_accepted_only_without_a_secret() -> None:
    body = raw("jira/webhooks/jira_issue_updated.status_to_done.json")
    assert jira.verify_signature({}, body, None, NOW)
    assert jira.verify_signature(jira_headers(body, WRONG), body, None, NOW)
    assert not jira.verify_signature({}, body, "", NOW)
    digest = hex_hmac(SECRET, body)
    assert not jira.verify_signature({"x-hub-signature": digest}, body, SECRET, NOW)
    # GitHub's header name is not Jira's.
    assert not jira.verify_signature({"x-hub-signature-256": f"sha256={digest}"}, body, SECRET, NOW)


def test_jira_delivery_id() -> None:
    body = raw("jira/webhooks/jira_issue_deleted.json")
    assert jira.delivery_id(jira_headers(body), body) == "41cdb8b4-d3c0-4f02-8e59-c0c5c0f3e1a2"
    assert jira.delivery_id({}, body) == "sha256:" + hashlib.sha256(body).hexdigest()


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("jira_issue_created.json", []),
        (
            "jira_issue_updated.status_to_done.json",
            [
                {
                    "external_key": "TES-41",
                    "occurred_at": ms(1550286940507),
                    "kind": EventKind.STATE_CHANGED,
                    "state": TicketState.DONE,
                    "raw_status": "Done",
                    "resolution": "Done",
                    "actor": JIRA_ACCOUNT,
                }
            ],
        ),
        (
            "jira_issue_updated.reopened.json",
            [
                {
                    "external_key": "TES-41",
                    "occurred_at": ms(1550287026531),
                    "kind": EventKind.STATE_CHANGED,
                    "state": TicketState.OPEN,
                    "raw_status": "To Do",
                    "resolution": None,
                }
            ],
        ),
        # Only the description changed: nothing the service follows.
        ("jira_issue_updated.edited.json", []),
        (
            "jira_issue_deleted.json",
            [
                {
                    "external_key": "IDT-19",
                    "occurred_at": ms(1562177136176),
                    "kind": EventKind.DELETED,
                    "actor": JIRA_ACCOUNT,
                }
            ],
        ),
        (
            "comment_created.json",
            [
                {
                    "external_key": "TES-41",
                    "occurred_at": ms(1550286678321),
                    "kind": EventKind.COMMENT_ADDED,
                    "comment": "Added a comment",
                    "actor": JIRA_ACCOUNT,
                }
            ],
        ),
    ],
)
def test_jira_examples(name: str, expected: list[dict[str, Any]]) -> None:
    events = jira_events(raw(f"jira/webhooks/{name}"))
    assert len(events) == len(expected)
    for got, want in zip(events, expected, strict=True):
        for field, value in want.items():
            assert getattr(got, field) == value, field
        assert got.delivery_id == "41cdb8b4-d3c0-4f02-8e59-c0c5c0f3e1a2"
    assert_utc(events)


def _resolution(name: str | None) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        fields = data["issue"]["fields"]
        fields["resolution"] = None if name is None else {"id": "10001", "name": name}

    return change


@pytest.mark.parametrize(
    ("resolution", "options", "state"),
    [
        ("Won't Do", None, TicketState.WONT_DO),
        ("won\u2019t fix", None, TicketState.WONT_DO),
        ("DUPLICATE", None, TicketState.WONT_DO),
        ("Fixed", None, TicketState.DONE),
        ("Abandoned", {"wont_do_resolutions": ["Abandoned"]}, TicketState.WONT_DO),
        ("Won't Do", {"wont_do_resolutions": ["Abandoned"]}, TicketState.DONE),
    ],
)
def test_jira_done_with_resolution(
    resolution: str, options: dict[str, Any] | None, state: TicketState
) -> None:
    body = jira_modified("jira_issue_updated.status_to_done.json", _resolution(resolution))
    [event] = jira_events(body, options)
    assert (event.kind, event.state, event.resolution) == (
        EventKind.STATE_CHANGED,
        state,
        resolution,
    )


def test_jira_done_without_resolution_is_done_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    body = jira_modified("jira_issue_updated.status_to_done.json", _resolution(None))
    with caplog.at_level(logging.WARNING, logger="connectors.jira.webhooks"):
        [event] = jira_events(body)
    assert event.state is TicketState.DONE and event.resolution is None
    assert any("TES-41" in record.getMessage() for record in caplog.records)


def test_jira_in_progress_category() -> None:
    def change(data: dict[str, Any]) -> None:
        status = data["issue"]["fields"]["status"]
        status["name"] = "Doing"
        status["statusCategory"]["key"] = "indeterminate"
        data["issue"]["fields"]["resolution"] = None

    [event] = jira_events(jira_modified("jira_issue_updated.status_to_done.json", change))
    assert (event.state, event.raw_status) == (TicketState.IN_PROGRESS, "Doing")


def test_jira_assignee_due_date_and_label_changes() -> None:
    def change(data: dict[str, Any]) -> None:
        fields = data["issue"]["fields"]
        fields["assignee"] = {"accountId": "acc-2", "displayName": "Second"}
        fields["labels"] = ["backend", "sev1"]
        data["changelog"]["items"] = [
            {"field": "assignee", "fieldtype": "jira", "from": "acc-1", "to": "acc-2"},
            {"field": "duedate", "fieldtype": "jira", "from": None, "to": "2026-04-01"},
            {"field": "labels", "fromString": "backend old", "toString": "backend sev1"},
            {"field": "new-custom-field", "toString": "ignored"},
        ]

    events = jira_events(jira_modified("jira_issue_updated.edited.json", change))
    assert [(e.kind, e.assignee, e.due_date, e.label) for e in events] == [
        (EventKind.ASSIGNEE_CHANGED, "acc-2", None, None),
        (EventKind.DUE_DATE_CHANGED, None, date(2026, 4, 1), None),
        (EventKind.LABEL_ADDED, None, None, "sev1"),
        (EventKind.LABEL_REMOVED, None, None, "old"),
    ]
    assert all(e.labels == ("backend", "sev1") for e in events)
    assert all(e.external_key == "TES-41" for e in events)


def test_jira_due_date_and_assignee_cleared() -> None:
    def change(data: dict[str, Any]) -> None:
        data["issue"]["fields"]["assignee"] = None
        data["changelog"]["items"] = [
            {"field": "assignee", "from": "acc-1", "to": None},
            {"field": "duedate", "from": "2026-04-01", "to": None},
        ]

    events = jira_events(jira_modified("jira_issue_updated.edited.json", change))
    assert [(e.kind, e.assignee, e.due_date) for e in events] == [
        (EventKind.ASSIGNEE_CHANGED, None, None),
        (EventKind.DUE_DATE_CHANGED, None, None),
    ]


def test_jira_comment_in_adf_and_time_from_fields_updated() -> None:
    def change(data: dict[str, Any]) -> None:
        data["comment"]["body"] = {
            "type": "doc",
            "version": 1,
            "content": [
                {"type": "paragraph", "content": [{"type": "text", "text": "Fixed in "}]},
                {"type": "paragraph", "content": [{"type": "text", "text": "release 4.2"}]},
            ],
        }
        del data["timestamp"]
        data["issue"]["fields"]["updated"] = "2019-02-15T19:11:18.321-0800"

    [event] = jira_events(jira_modified("comment_created.json", change))
    assert event.comment == "Fixed in \nrelease 4.2"
    assert event.occurred_at == datetime(2019, 2, 16, 3, 11, 18, 321000, tzinfo=UTC)
    assert_utc([event])


def test_jira_ignores_events_not_about_issues() -> None:
    for event in ("project_created", "jira:version_released", "comment_updated", "worklog_updated"):
        body = encode({"webhookEvent": event, "timestamp": 1550286678321})
        assert jira.parse_events({}, body, {}) == []


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
def test_jira_malformed(body: bytes) -> None:
    with pytest.raises(MalformedPayload):
        jira.parse_events({}, body, {})


# -- Linear ------------------------------------------------------------------------------------

LINEAR_FILES = ["issue_create.json", "issue_update.json", "issue_remove.json"]


def linear_headers(body: bytes, secret: str = SECRET) -> dict[str, str]:
    return {
        "linear-signature": hex_hmac(secret, body),
        "linear-delivery": "234d1a4e-b617-4388-90fe-adc3633d6b72",
        "linear-event": "Issue",
    }


def sent_at(body: bytes) -> datetime:
    return ms(int(json.loads(body)["webhookTimestamp"]))


def linear_events(body: bytes) -> list[TrackerEvent]:
    headers = linear_headers(body)
    assert linear.verify_signature(headers, body, SECRET, sent_at(body) + timedelta(seconds=2))
    return linear.parse_events(headers, body, {})


def linear_modified(name: str, change: Callable[[dict[str, Any]], None]) -> bytes:
    data = copy.deepcopy(load_json(f"linear/webhooks/{name}"))
    change(data)
    return encode(data)


@pytest.mark.parametrize("name", LINEAR_FILES)
def test_linear_signature_of_every_example(name: str) -> None:
    body = raw(f"linear/webhooks/{name}")
    now = sent_at(body) + timedelta(seconds=5)
    headers = linear_headers(body)
    assert linear.verify_signature(headers, body, SECRET, now)
    assert not linear.verify_signature(linear_headers(body, WRONG), body, SECRET, now)
    assert not linear.verify_signature(headers, tampered(body), SECRET, now)
    assert not linear.verify_signature({}, body, SECRET, now)
    assert not linear.verify_signature(headers, body, None, now)
    assert not linear.verify_signature(
        {"linear-signature": "sha256=" + hex_hmac(SECRET, body)}, body, SECRET, now
    )


def test_linear_freshness_window() -> None:
    body = raw("linear/webhooks/issue_update.json")
    headers = linear_headers(body)
    sent = sent_at(body)
    assert linear.verify_signature(headers, body, SECRET, sent + timedelta(seconds=60))
    assert linear.verify_signature(headers, body, SECRET, sent - timedelta(seconds=60))
    assert not linear.verify_signature(headers, body, SECRET, sent + timedelta(seconds=61))
    assert not linear.verify_signature(headers, body, SECRET, sent - timedelta(seconds=61))
    # The 2023 example replayed today is stale, however well signed.
    assert not linear.verify_signature(headers, body, SECRET, NOW)


def test_linear_timestamp_header_is_the_fallback() -> None:
    def change(data: dict[str, Any]) -> None:
        del data["webhookTimestamp"]

    body = linear_modified("issue_update.json", change)
    sent = ms(1681208213456)
    headers = linear_headers(body)
    assert not linear.verify_signature(headers, body, SECRET, sent)
    headers["linear-timestamp"] = "1681208213456"
    assert linear.verify_signature(headers, body, SECRET, sent + timedelta(seconds=30))
    assert not linear.verify_signature(headers, body, SECRET, sent + timedelta(seconds=90))


def test_linear_delivery_id() -> None:
    body = raw("linear/webhooks/issue_remove.json")
    assert linear.delivery_id(linear_headers(body), body) == "234d1a4e-b617-4388-90fe-adc3633d6b72"
    assert linear.delivery_id({}, body) == "sha256:" + hashlib.sha256(body).hexdigest()


def test_linear_examples() -> None:
    # Created: nothing to follow yet.
    assert linear_events(raw("linear/webhooks/issue_create.json")) == []
    # The example update changed only the title (`updatedFrom` has title and updatedAt).
    assert linear_events(raw("linear/webhooks/issue_update.json")) == []
    [removed] = linear_events(raw("linear/webhooks/issue_remove.json"))
    # The examples have no `identifier`; the key is built from team.key and number.
    assert removed.external_key == "WEB-44"
    assert removed.kind is EventKind.DELETED
    assert removed.occurred_at == at("2023-04-11T10:16:53.023Z")
    assert removed.delivery_id == "234d1a4e-b617-4388-90fe-adc3633d6b72"
    assert set(removed.labels) == {"Improvement", "Feature", "Bug", "Custom Label"}
    assert_utc([removed])


def _to_state(state_type: str, name: str) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        data["data"]["state"] = {"id": "s-new", "name": name, "type": state_type}
        data["data"]["stateId"] = "s-new"
        data["updatedFrom"]["stateId"] = "a2530cac-36a0-4b6d-9af0-6357784035d4"

    return change


@pytest.mark.parametrize(
    ("state_type", "name", "state"),
    [
        ("completed", "Done", TicketState.DONE),
        ("canceled", "Canceled", TicketState.WONT_DO),
        ("duplicate", "Duplicate", TicketState.WONT_DO),
        ("started", "In Progress", TicketState.IN_PROGRESS),
        ("backlog", "Backlog", TicketState.OPEN),
        ("unstarted", "Todo", TicketState.OPEN),
    ],
)
def test_linear_state_change(state_type: str, name: str, state: TicketState) -> None:
    [event] = linear_events(linear_modified("issue_update.json", _to_state(state_type, name)))
    assert (event.kind, event.state, event.raw_status) == (EventKind.STATE_CHANGED, state, name)
    assert event.external_key == "WEB-44"
    assert event.occurred_at == at("2023-04-11T10:16:53.022Z")


def test_linear_identifier_wins_and_several_changes_in_one_delivery() -> None:
    def change(data: dict[str, Any]) -> None:
        issue = data["data"]
        issue["identifier"] = "ENG-7"
        issue["dueDate"] = "2026-04-01"
        issue["labelIds"] = [label["id"] for label in issue["labels"][:2]]
        data["updatedFrom"] = {
            "updatedAt": "2023-04-11T10:13:05.980Z",
            "assigneeId": None,
            "dueDate": None,
            "labelIds": [issue["labels"][0]["id"], "gone-label-id"],
        }
        data["actor"] = {"id": "u1", "name": "Satyam Bansal", "type": "user"}
        data["webhookId"] = "wh-1"

    events = linear_events(linear_modified("issue_update.json", change))
    assert [(e.kind, e.assignee, e.due_date, e.label) for e in events] == [
        (EventKind.ASSIGNEE_CHANGED, "674c90c8-35ea-454d-8ca4-5548258fd795", None, None),
        (EventKind.DUE_DATE_CHANGED, None, date(2026, 4, 1), None),
        (EventKind.LABEL_ADDED, None, None, "Feature"),
        # A removed label is no longer in data.labels, so only its id is known.
        (EventKind.LABEL_REMOVED, None, None, "gone-label-id"),
    ]
    assert all(e.external_key == "ENG-7" for e in events)
    assert all(e.actor == "Satyam Bansal" for e in events)
    assert events[0].labels == ("Improvement", "Feature")


def _comment(data: Mapping[str, Any]) -> bytes:
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


def test_linear_comment_created() -> None:
    body = _comment(
        {
            "id": "c1",
            "body": "Verified in staging",
            "createdAt": "2026-02-28T09:00:00.000Z",
            "updatedAt": "2026-02-28T09:00:00.000Z",
            "issueId": "issue-uuid",
            "issue": {"id": "issue-uuid", "identifier": "ENG-7", "title": "x"},
            "user": {"id": "u1", "name": "Ada"},
        }
    )
    [event] = linear_events(body)
    assert (event.external_key, event.kind, event.comment, event.actor) == (
        "ENG-7",
        EventKind.COMMENT_ADDED,
        "Verified in staging",
        "Ada",
    )
    assert event.occurred_at == at("2026-02-28T09:00:00Z")


def test_linear_comment_with_only_an_issue_id() -> None:
    data = {"id": "c1", "body": "hi", "createdAt": "2026-02-28T09:00:00.000Z", "issueId": "i-9"}
    payload = json.loads(_comment(data))
    del payload["url"]
    payload["actor"] = {"name": "Grace"}
    [event] = linear.parse_events({}, encode(payload), {})
    assert (event.external_key, event.actor) == ("i-9", "Grace")
    # The comment URL names the issue when the payload has no identifier.
    [event] = linear.parse_events({}, _comment(data), {})
    assert event.external_key == "ENG-7"


def test_linear_ignores_other_types_and_actions() -> None:
    for kind, action in [
        ("Project", "update"),
        ("Cycle", "create"),
        ("Reaction", "create"),
        ("Comment", "update"),
        ("Comment", "remove"),
        ("Issue", "create"),
    ]:
        body = encode({"type": kind, "action": action, "data": {"id": "x"}})
        assert linear.parse_events({}, body, {}) == []


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
def test_linear_malformed(body: bytes) -> None:
    with pytest.raises(MalformedPayload):
        linear.parse_events({}, body, {})
