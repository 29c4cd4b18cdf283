"""Pure Linear mapping and error translation: states, refs, inputs, labels, waits. No network."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from connectors.base import (
    PermanentConnectorError,
    RetryableConnectorError,
    TicketChanges,
    TicketSpec,
    TicketState,
)
from connectors.linear import mapping
from connectors.linear.client import NotFound, auth_header, error_for, retry_after_seconds

NOW = 1_780_000_000.0
TEAM = "team-eng"


def spec(**overrides: object) -> TicketSpec:
    values: dict[str, object] = {
        "title": "Add a replica lag alert",
        "description": "Lag hit 40 minutes.",
        "definition_of_done": ["Alert fires", "Runbook links the alert"],
        "verification": "Pause replication in staging.",
        "postmortem_url": "https://followthrough.example.com/postmortems/42",
        "marker": "5f0c3c1e-8f0b-4d7e-9a51-3f0d2b1c9e77",
    }
    values.update(overrides)
    return TicketSpec(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("state_type", "expected"),
    [
        ("triage", TicketState.OPEN),
        ("backlog", TicketState.OPEN),
        ("unstarted", TicketState.OPEN),
        ("started", TicketState.IN_PROGRESS),
        ("completed", TicketState.DONE),
        ("canceled", TicketState.WONT_DO),
        ("duplicate", TicketState.WONT_DO),
        ("something-new", TicketState.OPEN),
    ],
)
def test_state_type_decides(state_type: str, expected: TicketState) -> None:
    assert mapping.state_of(state_type) is expected


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("ENG-7", "ENG-7"),
        (" eng-7 ", "ENG-7"),
        ("https://linear.app/acme/issue/ENG-7/gate-deploys-on-canary", "ENG-7"),
        ("https://linear.app/acme/issue/ENG-7", "ENG-7"),
        ("https://linear.app/acme/issue/ENG-7?comment=1", "ENG-7"),
        ("https://linear.app/acme/project/ENG-7", None),
        ("https://example.com/acme/issue/ENG-7", None),
        ("ENG7", None),
        ("", None),
    ],
)
def test_parse_ref(text: str, key: str | None) -> None:
    assert mapping.parse_ref(text) == key


def test_create_input_carries_our_id_and_a_markdown_body() -> None:
    fields = mapping.create_input(
        TEAM,
        spec(assignee="user-1", due_date=date(2026, 6, 30), priority="urgent"),
        ["label-1"],
    )
    assert fields["id"] == spec().marker
    assert (fields["teamId"], fields["assigneeId"], fields["dueDate"]) == (
        TEAM,
        "user-1",
        "2026-06-30",
    )
    assert (fields["priority"], fields["labelIds"]) == (1, ["label-1"])
    body = fields["description"]
    assert body.index("## Definition of done") < body.index("## Verification")
    assert "- [ ] Alert fires\n- [ ] Runbook links the alert" in body
    assert body.rstrip().endswith(spec().postmortem_url)


def test_update_input_never_touches_the_state() -> None:
    assert mapping.update_input(TicketChanges()) == {}
    assert mapping.update_input(TicketChanges(clear_assignee=True, assignee="x")) == {
        "assigneeId": None
    }
    fields = mapping.update_input(TicketChanges(spec=spec(), title="Shorter"), [])
    assert set(fields) == {"title", "description", "labelIds"}
    assert fields["title"] == "Shorter"


def test_label_names_are_unique_ignoring_case() -> None:
    assert mapping.label_names([" Post  mortem", "post mortem", "", "db"]) == ["Post mortem", "db"]


def test_pick_labels_prefers_the_teams_own_then_the_exact_spelling() -> None:
    nodes: list[dict[str, Any]] = [
        {"id": "other", "name": "db", "team": {"id": "team-ops"}},
        {"id": "workspace", "name": "db", "team": None},
        {"id": "own-upper", "name": "DB", "team": {"id": TEAM}},
        {"id": "own-exact", "name": "db", "team": {"id": TEAM}},
        {"id": "ws-only", "name": "Security", "team": None},
    ]
    assert mapping.pick_labels(nodes, TEAM, ["db", "security", "missing"]) == {
        "db": "own-exact",
        "security": "ws-only",
    }
    assert mapping.pick_labels(nodes[:1], TEAM, ["db"]) == {}


def test_retry_after_prefers_the_header_then_the_exhausted_budget() -> None:
    reset = {
        "x-ratelimit-requests-reset": str(int((NOW + 5) * 1000)),
        "x-ratelimit-complexity-reset": str(int((NOW + 30) * 1000)),
    }
    assert retry_after_seconds({"retry-after": "7", **reset}, NOW) == 7
    assert retry_after_seconds(reset, NOW) == 30  # neither says which: the later one
    assert retry_after_seconds({**reset, "x-ratelimit-requests-remaining": "0"}, NOW) == 5
    assert retry_after_seconds({"retry-after": "Thu, 01 Jan 1970 00:00:00 GMT"}, NOW) == 0
    assert retry_after_seconds({}, NOW) is None
    assert retry_after_seconds({"retry-after": "soon"}, NOW) is None


@pytest.mark.parametrize(
    ("error", "status", "expected"),
    [
        ({"message": "x", "extensions": {"code": "RATELIMITED"}}, 400, RetryableConnectorError),
        ({"message": "x", "extensions": {"type": "ratelimited"}}, 200, RetryableConnectorError),
        ({"message": "x", "extensions": {"type": "internal error"}}, 200, RetryableConnectorError),
        ({"message": "x"}, 503, RetryableConnectorError),
        ({"message": "x", "extensions": {"code": "AUTHENTICATION_ERROR"}}, 400, None),
        ({"message": "x", "extensions": {"code": "FORBIDDEN"}}, 200, None),
        ({"message": "x", "extensions": {"code": "INVALID_INPUT"}}, 400, None),
        ({"message": "x", "extensions": ["odd"]}, 200, None),
        ("a bare string", 200, None),
    ],
)
def test_error_translation(
    error: object, status: int, expected: type[RetryableConnectorError] | None
) -> None:
    translated = error_for([error], status, {"retry-after": "3"})
    if expected is None:
        assert type(translated) is PermanentConnectorError
    else:
        assert isinstance(translated, expected)


def test_entity_not_found_is_its_own_permanent_error() -> None:
    error = {"message": "Entity not found: Issue", "extensions": {"code": "INVALID_INPUT"}}
    assert isinstance(error_for([error], 200, {}), NotFound)


def test_auth_header() -> None:
    assert auth_header({"api_key": "lin_api_1"}) == "lin_api_1"
    assert auth_header({"oauth_token": "tok"}) == "Bearer tok"
    assert auth_header({"api_key": "lin_api_1", "oauth_token": "tok"}) == "lin_api_1"
    with pytest.raises(PermanentConnectorError):
        auth_header({"oauth_token": "tok\r\nX-Evil: 1"})
