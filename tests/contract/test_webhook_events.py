"""What each vendor's webhook example turns into as published, and the events the service
does not follow.
"""

from __future__ import annotations

from typing import Any

import pytest

from connectors.base import (
    EventKind,
    TicketState,
)
from connectors.github import webhooks as github
from connectors.jira import webhooks as jira
from connectors.linear import webhooks as linear
from tests.contract.webhook_parser_support import (
    GITHUB_DELIVERY,
    JIRA_ACCOUNT,
    JIRA_DELIVERY,
    LINEAR_DELIVERY,
    assert_matches,
    at,
    encode,
    github_events,
    github_issue,
    jira_events,
    linear_events,
    ms,
    raw,
)

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
