"""Assignees, due dates and labels from the three webhook parsers, alone and several in one
delivery; every state and label event carries the ticket's current labels.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest

from connectors.base import EventKind
from tests.contract.webhook_parser_support import (
    LINEAR_BUG,
    github_issue,
    jira_events,
    jira_example,
    linear_events,
    linear_example,
    to_state,
)

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
        to_state("completed", "Done")(data)
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
        to_state("completed", "Done")(data)
        del data["data"]["labelIds"]
        data["data"]["labels"] = [{"id": LINEAR_BUG, "name": "Bug"}]

    [event] = linear_events(linear_example("issue_update.json", change))
    assert (event.kind, event.labels) == (EventKind.STATE_CHANGED, ("Bug",))
