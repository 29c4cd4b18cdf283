"""Ticket state from the three webhook parsers: closed, won't do, reopened, deleted, decided
from each tracker's category rather than renameable status names.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest

from connectors.base import (
    EventKind,
    TicketState,
)
from tests.contract.webhook_parser_support import (
    at,
    github_issue,
    jira_events,
    jira_example,
    linear_events,
    linear_example,
    to_state,
)

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
    [event] = linear_events(linear_example("issue_update.json", to_state(state_type, name)))
    assert (event.kind, event.state, event.raw_status) == (EventKind.STATE_CHANGED, state, name)
    assert event.external_key == "WEB-44"
    assert event.occurred_at == at("2023-04-11T10:16:53.022Z")
