"""The three webhook parsers against the vendors' payload examples in ../shared/contracts.

Every example is signed here as its vendor signs it, with a test secret; signature checking is
never patched away. Modified payloads (a not-planned close, a won't-do resolution, a Linear
state change, hostile field values) are built from the examples in memory, never written into
the repository. Sections follow behaviour: signatures and freshness, delivery ids, the examples
as published, ticket state, assignees, labels, comments, ignored events, malformed bodies.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from types import ModuleType
from typing import Any

import pytest

from connectors.base import (
    EventKind,
    MalformedPayload,
    TicketState,
    TrackerEvent,
    WebhookRejected,
)
from connectors.github import webhooks as github
from connectors.jira import webhooks as jira
from connectors.linear import webhooks as linear
from tests.fake_trackers.contracts import contracts_dir, load_json

SECRET = "test-webhook-secret"
WRONG = "not-the-secret"
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


# -- Signatures and freshness ------------------------------------------------------------------


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
def test_github_signature_of_every_example_is_checked(event: str, name: str) -> None:
    body = raw(f"github/webhooks/{name}")
    headers = github_headers(event, body)
    assert github.verify_signature(headers, body, SECRET, NOW)
    assert not github.verify_signature(github_headers(event, body, WRONG), body, SECRET, NOW)
    assert not github.verify_signature(headers, tampered(body), SECRET, NOW)
    missing = {k: v for k, v in headers.items() if k != "x-hub-signature-256"}
    assert not github.verify_signature(missing, body, SECRET, NOW)


def test_github_signature_is_refused_without_a_secret_or_the_prefix() -> None:
    body = raw("github/webhooks/issues/closed.payload.json")
    digest = hex_hmac(SECRET, body)
    assert not github.verify_signature({"x-hub-signature-256": f"sha256={digest}"}, body, None, NOW)
    assert not github.verify_signature({"x-hub-signature-256": f"sha256={digest}"}, body, "", NOW)
    assert not github.verify_signature({"x-hub-signature-256": digest}, body, SECRET, NOW)
    # The legacy SHA-1 header alone is not accepted.
    sha1 = hmac.new(SECRET.encode(), body, hashlib.sha1).hexdigest()
    assert not github.verify_signature({"x-hub-signature": f"sha1={sha1}"}, body, SECRET, NOW)


@pytest.mark.parametrize("name", JIRA_FILES)
def test_jira_signature_of_every_example_is_checked(name: str) -> None:
    body = raw(f"jira/webhooks/{name}")
    headers = jira_headers(body)
    assert jira.verify_signature(headers, body, SECRET, NOW)
    assert not jira.verify_signature(jira_headers(body, WRONG), body, SECRET, NOW)
    assert not jira.verify_signature(headers, tampered(body), SECRET, NOW)
    assert not jira.verify_signature({}, body, SECRET, NOW)


def test_jira_unsigned_delivery_is_accepted_only_without_a_secret() -> None:
    body = raw("jira/webhooks/jira_issue_updated.status_to_done.json")
    assert jira.verify_signature({}, body, None, NOW)
    assert jira.verify_signature(jira_headers(body, WRONG), body, None, NOW)
    assert not jira.verify_signature({}, body, "", NOW)
    digest = hex_hmac(SECRET, body)
    assert not jira.verify_signature({"x-hub-signature": digest}, body, SECRET, NOW)
    # GitHub's header name is not Jira's.
    assert not jira.verify_signature({"x-hub-signature-256": f"sha256={digest}"}, body, SECRET, NOW)


@pytest.mark.parametrize("name", LINEAR_FILES)
def test_linear_signature_of_every_example_is_checked(name: str) -> None:
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


def test_linear_delivery_within_sixty_seconds_either_way_is_accepted() -> None:
    body = raw("linear/webhooks/issue_update.json")
    headers = linear_headers(body)
    sent = sent_at(body)
    assert linear.verify_signature(headers, body, SECRET, sent + timedelta(seconds=60))
    assert linear.verify_signature(headers, body, SECRET, sent - timedelta(seconds=60))


LINEAR_UPDATE_SENT = ms(1681208213456)  # issue_update.json's webhookTimestamp


@pytest.mark.parametrize(
    ("now", "seconds"),
    [
        (LINEAR_UPDATE_SENT + timedelta(seconds=61), 61),
        (LINEAR_UPDATE_SENT - timedelta(seconds=61), 61),
        (NOW, round((NOW - LINEAR_UPDATE_SENT).total_seconds())),
    ],
    ids=["a minute and a second late", "a minute and a second early", "the example replayed"],
)
def test_linear_stale_delivery_is_refused_saying_so(now: datetime, seconds: int) -> None:
    body = raw("linear/webhooks/issue_update.json")
    with pytest.raises(WebhookRejected) as refused:
        linear.verify_signature(linear_headers(body), body, SECRET, now)
    message = str(refused.value)
    assert "webhookTimestamp (2023-04-11T10:16:53.456000+00:00)" in message
    assert f"is {seconds} s from now" in message
    assert "older than 60 s are refused" in message


def test_linear_stale_delivery_with_a_wrong_signature_is_just_unsigned() -> None:
    body = raw("linear/webhooks/issue_update.json")
    assert not linear.verify_signature(linear_headers(body, WRONG), body, SECRET, NOW)
    assert not linear.verify_signature({}, body, SECRET, NOW)


def test_linear_timestamp_header_is_the_fallback() -> None:
    def change(data: dict[str, Any]) -> None:
        del data["webhookTimestamp"]

    body = linear_example("issue_update.json", change)
    sent = LINEAR_UPDATE_SENT
    headers = {**linear_headers(body), "linear-timestamp": "1681208213456"}
    assert linear.verify_signature(headers, body, SECRET, sent + timedelta(seconds=30))
    with pytest.raises(WebhookRejected, match=r"Linear-Timestamp header \(.*\) is 90 s from now"):
        linear.verify_signature(headers, body, SECRET, sent + timedelta(seconds=90))


def test_linear_delivery_without_any_timestamp_is_refused_saying_so() -> None:
    def change(data: dict[str, Any]) -> None:
        del data["webhookTimestamp"]

    body = linear_example("issue_update.json", change)
    with pytest.raises(WebhookRejected, match="no webhookTimestamp and no Linear-Timestamp"):
        linear.verify_signature(linear_headers(body), body, SECRET, LINEAR_UPDATE_SENT)


def test_linear_unreadable_timestamp_is_refused_saying_so() -> None:
    def change(data: dict[str, Any]) -> None:
        data["webhookTimestamp"] = "yesterday"

    body = linear_example("issue_update.json", change)
    with pytest.raises(WebhookRejected, match="'yesterday' is not a time"):
        linear.verify_signature(linear_headers(body), body, SECRET, NOW)


# -- Delivery ids ------------------------------------------------------------------------------


def test_github_delivery_id_is_the_header_else_a_body_hash() -> None:
    body = raw("github/webhooks/issues/closed.payload.json")
    assert github.delivery_id({"x-github-delivery": "abc-123"}, body) == "abc-123"
    assert github.delivery_id({}, body) == "sha256:" + hashlib.sha256(body).hexdigest()


def test_jira_delivery_id_is_the_header_else_a_body_hash() -> None:
    body = raw("jira/webhooks/jira_issue_deleted.json")
    assert jira.delivery_id(jira_headers(body), body) == JIRA_DELIVERY
    assert jira.delivery_id({}, body) == "sha256:" + hashlib.sha256(body).hexdigest()


def test_linear_delivery_id_is_the_header_else_a_body_hash() -> None:
    body = raw("linear/webhooks/issue_remove.json")
    assert linear.delivery_id(linear_headers(body), body) == LINEAR_DELIVERY
    assert linear.delivery_id({}, body) == "sha256:" + hashlib.sha256(body).hexdigest()


# -- The examples as published -----------------------------------------------------------------


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
                    "labels": ("bug",),
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
            # Codertocat was the only assignee and is the one removed (the event's `assignee`),
            # however the example's `issue.assignee(s)` still name them: nobody is left.
            [
                {
                    "external_key": "Codertocat/Hello-World#1",
                    "occurred_at": at("2019-05-15T15:20:25Z"),
                    "kind": EventKind.ASSIGNEE_CHANGED,
                    "assignee": None,
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
            # The example still lists `bug` in issue.labels; a removed label is not current.
            [
                {
                    "external_key": "Codertocat/Hello-World#1",
                    "occurred_at": at("2019-05-15T15:20:26Z"),
                    "kind": EventKind.LABEL_REMOVED,
                    "label": "bug",
                    "labels": (),
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
def test_github_example_becomes_its_events(
    event: str, name: str, expected: list[dict[str, Any]]
) -> None:
    events = github_events(event, raw(f"github/webhooks/{name}"))
    assert_matches(events, [{**want, "delivery_id": GITHUB_DELIVERY} for want in expected])


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
                    "labels": ("test-label",),
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
                    "labels": ("test-label",),
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
def test_jira_example_becomes_its_events(name: str, expected: list[dict[str, Any]]) -> None:
    events = jira_events(raw(f"jira/webhooks/{name}"))
    assert_matches(events, [{**want, "delivery_id": JIRA_DELIVERY} for want in expected])


def test_linear_examples_become_their_events() -> None:
    # Created: nothing to follow yet.
    assert linear_events(raw("linear/webhooks/issue_create.json")) == []
    # The example update changed only the title (`updatedFrom` has title and updatedAt).
    assert linear_events(raw("linear/webhooks/issue_update.json")) == []
    # The examples have no `identifier`; the key is built from team.key and number.
    removed = {
        "external_key": "WEB-44",
        "kind": EventKind.DELETED,
        "occurred_at": at("2023-04-11T10:16:53.023Z"),
        "delivery_id": LINEAR_DELIVERY,
        "labels": ("Bug", "Improvement", "Feature", "Custom Label"),
    }
    assert_matches(linear_events(raw("linear/webhooks/issue_remove.json")), [removed])


# -- Ticket state: closed, won't do, reopened, deleted -----------------------------------------


@pytest.mark.parametrize(
    ("reason", "state", "raw_status"),
    [
        ("not_planned", TicketState.WONT_DO, "closed:not_planned"),
        ("duplicate", TicketState.WONT_DO, "closed:duplicate"),
        ("completed", TicketState.DONE, "closed:completed"),
        (None, TicketState.DONE, "closed"),
    ],
)
def test_github_close_reason_decides_done_or_wont_do(
    reason: str | None, state: TicketState, raw_status: str
) -> None:
    def change(data: dict[str, Any]) -> None:
        data["issue"]["state_reason"] = reason

    [event] = github_issue("closed.payload.json", change)
    assert (event.kind, event.state, event.raw_status) == (
        EventKind.STATE_CHANGED,
        state,
        raw_status,
    )


def test_github_transferred_issue_is_gone_from_its_repository() -> None:
    def transfer(data: dict[str, Any]) -> None:
        data["action"] = "transferred"

    [event] = github_issue("deleted.payload.json", transfer)
    assert (event.kind, event.state) == (EventKind.DELETED, TicketState.DELETED)


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
def test_jira_done_status_resolution_decides_done_or_wont_do(
    resolution: str, options: dict[str, Any] | None, state: TicketState
) -> None:
    body = jira_example("jira_issue_updated.status_to_done.json", _resolution(resolution))
    [event] = jira_events(body, options)
    assert (event.kind, event.state, event.resolution) == (
        EventKind.STATE_CHANGED,
        state,
        resolution,
    )


def test_jira_done_without_resolution_is_done_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    body = jira_example("jira_issue_updated.status_to_done.json", _resolution(None))
    with caplog.at_level(logging.WARNING, logger="connectors.jira.webhooks"):
        [event] = jira_events(body)
    assert event.state is TicketState.DONE and event.resolution is None
    assert any("TES-41" in record.getMessage() for record in caplog.records)


def test_jira_in_progress_category_is_in_progress_whatever_the_status_name() -> None:
    def change(data: dict[str, Any]) -> None:
        status = data["issue"]["fields"]["status"]
        status["name"] = "Doing"
        status["statusCategory"]["key"] = "indeterminate"
        data["issue"]["fields"]["resolution"] = None

    [event] = jira_events(jira_example("jira_issue_updated.status_to_done.json", change))
    assert (event.state, event.raw_status) == (TicketState.IN_PROGRESS, "Doing")


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
def test_linear_state_type_decides_the_ticket_state(
    state_type: str, name: str, state: TicketState
) -> None:
    [event] = linear_events(linear_example("issue_update.json", _to_state(state_type, name)))
    assert (event.kind, event.state, event.raw_status) == (EventKind.STATE_CHANGED, state, name)
    assert event.external_key == "WEB-44"
    assert event.occurred_at == at("2023-04-11T10:16:53.022Z")


# -- Assignees ---------------------------------------------------------------------------------


def _user(login: str) -> dict[str, Any]:
    return {"login": login, "id": abs(hash(login)) % 10_000, "type": "User"}


@pytest.mark.parametrize(
    ("remaining", "expected"),
    [(["Codertocat", "hubot"], "hubot"), (["hubot", "octocat"], "hubot"), ([], None)],
    ids=["removed still listed", "others remain", "nobody left"],
)
def test_github_unassigned_reports_the_first_remaining_assignee_not_the_removed_one(
    remaining: list[str], expected: str | None
) -> None:
    def change(data: dict[str, Any]) -> None:
        # The event's `assignee` (Codertocat) is the user removed; issue.assignee is deprecated.
        data["issue"]["assignees"] = [_user(login) for login in remaining]

    [event] = github_issue("unassigned.payload.json", change)
    assert event.kind is EventKind.ASSIGNEE_CHANGED
    assert event.assignee == expected


def test_github_unassigned_without_the_list_falls_back_to_the_issue_assignee() -> None:
    def someone_else_remains(data: dict[str, Any]) -> None:
        del data["issue"]["assignees"]
        data["issue"]["assignee"] = _user("hubot")

    [event] = github_issue("unassigned.payload.json", someone_else_remains)
    assert event.assignee == "hubot"

    def only_the_removed_user(data: dict[str, Any]) -> None:
        del data["issue"]["assignees"]

    [event] = github_issue("unassigned.payload.json", only_the_removed_user)
    assert event.assignee is None


def test_github_assigned_reports_the_first_of_the_full_list() -> None:
    def second_assignee(data: dict[str, Any]) -> None:
        data["assignee"] = _user("hubot")
        data["issue"]["assignees"] = [_user("Codertocat"), _user("hubot")]

    [event] = github_issue("assigned.payload.json", second_assignee)
    assert (event.kind, event.assignee) == (EventKind.ASSIGNEE_CHANGED, "Codertocat")

    def without_the_list(data: dict[str, Any]) -> None:
        data["assignee"] = _user("hubot")
        del data["issue"]["assignees"]

    [event] = github_issue("assigned.payload.json", without_the_list)
    assert event.assignee == "hubot"


def test_jira_assignee_and_due_date_cleared() -> None:
    def change(data: dict[str, Any]) -> None:
        data["issue"]["fields"]["assignee"] = None
        data["changelog"]["items"] = [
            {"field": "assignee", "from": "acc-1", "to": None},
            {"field": "duedate", "from": "2026-04-01", "to": None},
        ]

    events = jira_events(jira_example("jira_issue_updated.edited.json", change))
    assert [(e.kind, e.assignee, e.due_date) for e in events] == [
        (EventKind.ASSIGNEE_CHANGED, None, None),
        (EventKind.DUE_DATE_CHANGED, None, None),
    ]


# -- Several changes in one delivery -----------------------------------------------------------


def test_jira_assignee_due_date_and_label_changes_in_one_delivery() -> None:
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

    events = jira_events(jira_example("jira_issue_updated.edited.json", change))
    assert [(e.kind, e.assignee, e.due_date, e.label) for e in events] == [
        (EventKind.ASSIGNEE_CHANGED, "acc-2", None, None),
        (EventKind.DUE_DATE_CHANGED, None, date(2026, 4, 1), None),
        (EventKind.LABEL_ADDED, None, None, "sev1"),
        (EventKind.LABEL_REMOVED, None, None, "old"),
    ]
    assert all(e.labels == ("backend", "sev1") for e in events)
    assert all(e.external_key == "TES-41" for e in events)


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

    events = linear_events(linear_example("issue_update.json", change))
    assert [(e.kind, e.assignee, e.due_date, e.label) for e in events] == [
        (EventKind.ASSIGNEE_CHANGED, "674c90c8-35ea-454d-8ca4-5548258fd795", None, None),
        (EventKind.DUE_DATE_CHANGED, None, date(2026, 4, 1), None),
        (EventKind.LABEL_ADDED, None, None, "Feature"),
        # A removed label is no longer in data.labels, so only its id is known.
        (EventKind.LABEL_REMOVED, None, None, "gone-label-id"),
    ]
    assert all(e.external_key == "ENG-7" for e in events)
    assert all(e.actor == "Satyam Bansal" for e in events)
    assert all(e.labels == ("Improvement", "Feature") for e in events)


# -- Labels: every state and label event carries the ticket's current labels -------------------
# The service judges verification from the ticket's whole state (a verification label seen on a
# close verifies the item whatever order the deliveries arrive in), so the full list matters.


def _github_labels(*names: str) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        data["issue"]["labels"] = [{"id": i, "name": name} for i, name in enumerate(names)]

    return change


@pytest.mark.parametrize(
    "name", ["closed.payload.json", "reopened.payload.json", "labeled.payload.json"]
)
def test_github_state_and_label_events_carry_the_current_labels(name: str) -> None:
    [event] = github_issue(name, _github_labels("verified", "bug"))
    assert event.kind in (EventKind.STATE_CHANGED, EventKind.LABEL_ADDED)
    assert event.labels == ("verified", "bug")


def test_github_unlabeled_reports_label_removed_with_the_labels_left() -> None:
    [event] = github_issue("unlabeled.payload.json", _github_labels("verified"))
    assert (event.kind, event.label, event.labels) == (
        EventKind.LABEL_REMOVED,
        "bug",
        ("verified",),
    )
    # As GitHub publishes it, issue.labels still lists the removed label: it is left out.
    [event] = github_issue("unlabeled.payload.json", _github_labels("bug", "verified"))
    assert event.labels == ("verified",)


def test_github_labeled_counts_the_new_label_even_when_the_list_lags() -> None:
    [event] = github_issue("labeled.payload.json", _github_labels("verified"))
    assert (event.kind, event.label, event.labels) == (
        EventKind.LABEL_ADDED,
        "bug",
        ("verified", "bug"),
    )


@pytest.mark.parametrize(
    "name", ["jira_issue_updated.status_to_done.json", "jira_issue_updated.reopened.json"]
)
def test_jira_state_change_carries_the_current_labels(name: str) -> None:
    def change(data: dict[str, Any]) -> None:
        data["issue"]["fields"]["labels"] = ["test-label", "verified"]

    [event] = jira_events(jira_example(name, change))
    assert (event.kind, event.labels) == (EventKind.STATE_CHANGED, ("test-label", "verified"))


def test_jira_label_removed_in_the_changelog_carries_the_labels_left() -> None:
    def change(data: dict[str, Any]) -> None:
        data["changelog"]["items"] = [
            {"field": "labels", "fromString": "test-label verified", "toString": "test-label"}
        ]

    [event] = jira_events(jira_example("jira_issue_updated.edited.json", change))
    assert (event.kind, event.label, event.labels) == (
        EventKind.LABEL_REMOVED,
        "verified",
        ("test-label",),
    )


def test_jira_labels_come_from_the_changelog_when_fields_leave_them_out() -> None:
    def change(data: dict[str, Any]) -> None:
        del data["issue"]["fields"]["labels"]
        data["changelog"]["items"].append(
            {"field": "labels", "fromString": "test-label", "toString": "test-label verified"}
        )

    events = jira_events(jira_example("jira_issue_updated.status_to_done.json", change))
    assert [(e.kind, e.label) for e in events] == [
        (EventKind.STATE_CHANGED, None),
        (EventKind.LABEL_ADDED, "verified"),
    ]
    assert all(e.labels == ("test-label", "verified") for e in events)


def test_linear_state_and_label_events_carry_the_current_labels() -> None:
    def change(data: dict[str, Any]) -> None:
        _to_state("completed", "Done")(data)
        data["updatedFrom"]["labelIds"] = [*data["data"]["labelIds"], "gone-label-id"]

    events = linear_events(linear_example("issue_update.json", change))
    assert [(e.kind, e.label) for e in events] == [
        (EventKind.STATE_CHANGED, None),
        (EventKind.LABEL_REMOVED, "gone-label-id"),
    ]
    # `labelIds` orders them; `labels` names them.
    assert all(e.labels == ("Bug", "Improvement", "Feature", "Custom Label") for e in events)


def test_linear_labels_are_named_from_data_labels_without_label_ids() -> None:
    def change(data: dict[str, Any]) -> None:
        _to_state("completed", "Done")(data)
        del data["data"]["labelIds"]
        data["data"]["labels"] = [{"id": LINEAR_BUG, "name": "Bug"}]

    [event] = linear_events(linear_example("issue_update.json", change))
    assert (event.kind, event.labels) == (EventKind.STATE_CHANGED, ("Bug",))


# -- Comments ----------------------------------------------------------------------------------


def test_jira_comment_in_adf_becomes_text_timed_by_fields_updated() -> None:
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

    [event] = jira_events(jira_example("comment_created.json", change))
    assert event.comment == "Fixed in \nrelease 4.2"
    assert_matches([event], [{"occurred_at": datetime(2019, 2, 16, 3, 11, 18, 321000, tzinfo=UTC)}])


def _linear_comment(data: Mapping[str, Any]) -> bytes:
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


def test_linear_comment_created_names_its_issue_and_author() -> None:
    body = _linear_comment(
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


def test_linear_comment_with_only_an_issue_id_is_keyed_by_the_url_else_the_id() -> None:
    data = {"id": "c1", "body": "hi", "createdAt": "2026-02-28T09:00:00.000Z", "issueId": "i-9"}
    payload = json.loads(_linear_comment(data))
    del payload["url"]
    payload["actor"] = {"name": "Grace"}
    [event] = linear.parse_events({}, encode(payload), {})
    assert (event.external_key, event.actor) == ("i-9", "Grace")
    # The comment URL names the issue when the payload has no identifier.
    [event] = linear.parse_events({}, _linear_comment(data), {})
    assert event.external_key == "ENG-7"


# -- Events the service does not follow --------------------------------------------------------


def test_github_ignores_unused_actions_and_unknown_fields() -> None:
    def milestone(data: dict[str, Any]) -> None:
        data["action"] = "milestoned"

    assert github_issue("opened.payload.json", milestone) == []

    def extra(data: dict[str, Any]) -> None:
        data["brand_new_field"] = {"nested": [1, 2]}
        data["issue"]["another_new_field"] = "x"

    [event] = github_issue("closed.payload.json", extra)
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


def test_jira_ignores_events_not_about_issues() -> None:
    for event in ("project_created", "jira:version_released", "comment_updated", "worklog_updated"):
        body = encode({"webhookEvent": event, "timestamp": 1550286678321})
        assert jira.parse_events({}, body, {}) == []


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
    _to_state("completed", "Done")(data)
    data["updatedFrom"].update(
        {"assigneeId": None, "dueDate": None, "labelIds": [LINEAR_IMPROVEMENT, "gone"]}
    )
    data["data"]["dueDate"] = "2026-04-01"


def _linear_comment_payload(data: dict[str, Any]) -> None:
    data.clear()
    data.update(
        json.loads(
            _linear_comment(
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
