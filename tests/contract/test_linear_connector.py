"""The Linear connector over real HTTP (httpx) against a fake checked with Linear's schema."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, date, datetime

import httpx
import pytest

from connectors.base import (
    ConnectorConfig,
    PermanentConnectorError,
    RetryableConnectorError,
    Target,
    TicketChanges,
    TicketSpec,
    TicketState,
)
from connectors.linear.connector import LinearConnector
from tests.fake_trackers.linear import API_KEY, OAUTH_TOKEN, TEAM_ID, FakeLinear
from tests.fake_trackers.server import Fault

TARGET = Target(project=TEAM_ID)
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


def connector(fake: FakeLinear, timeout: float = 5, **credentials: str) -> LinearConnector:
    creds = credentials or {"api_key": API_KEY}
    return LinearConnector(
        ConnectorConfig(base_url=fake.base_url, credentials=creds, timeout=timeout)
    )


def spec(**overrides: object) -> TicketSpec:
    values: dict[str, object] = {
        "title": "Gate deploys on the canary 5xx rate",
        "description": "Config pushes skipped the canary.",
        "definition_of_done": ["Deploys halt above 1% 5xx"],
        "verification": "Game day in staging",
        "postmortem_url": "https://followthrough.example/v1/postmortems/42",
        "marker": str(uuid.uuid4()),
        "assignee": "user-alice",
        "due_date": date(2026, 12, 1),
        "labels": ["postmortem"],
        "priority": "high",
    }
    values.update(overrides)
    return TicketSpec(**values)  # type: ignore[arg-type]


def test_credentials_api_key_bare_and_oauth_bearer(fake_linear: FakeLinear) -> None:
    assert connector(fake_linear).check_credentials() == "Followthrough Bot"
    assert fake_linear.requests[-1].headers["authorization"] == API_KEY
    assert (
        connector(fake_linear, oauth_token=OAUTH_TOKEN).check_credentials() == "Followthrough Bot"
    )
    assert fake_linear.requests[-1].headers["authorization"] == f"Bearer {OAUTH_TOKEN}"
    with pytest.raises(PermanentConnectorError):
        connector(fake_linear, api_key="wrong").check_credentials()


def test_create_uses_our_id_and_writes_everything(fake_linear: FakeLinear) -> None:
    s = spec()
    ref = connector(fake_linear).create_ticket(TARGET, s)
    assert (ref.external_key, ref.external_id) == ("ENG-1", s.marker)
    issue = fake_linear.issues[s.marker]
    assert issue["assignee"] == {"id": "user-alice"}
    assert issue["dueDate"] == "2026-12-01"
    assert issue["priority"] == 2
    assert [label["name"] for label in issue["labels"]["nodes"]] == ["postmortem"]
    for expected in ("- [ ] Deploys halt above 1% 5xx", "## Verification", s.postmortem_url):
        assert expected in issue["description"]
    # A second create reuses the existing label instead of making another.
    connector(fake_linear).create_ticket(TARGET, spec())
    assert len(fake_linear.labels) == 1


def test_find_by_marker_is_certain(fake_linear: FakeLinear) -> None:
    c = connector(fake_linear)
    s = spec()
    ref = c.create_ticket(TARGET, s)
    assert c.find_by_marker(TARGET, s.marker, EPOCH) == ref
    assert c.find_by_marker(TARGET, str(uuid.uuid4()), EPOCH) is None


def test_update_and_comment(fake_linear: FakeLinear) -> None:
    c = connector(fake_linear)
    ref = c.create_ticket(TARGET, spec())
    c.update_ticket(
        ref,
        TicketChanges(title="New title", spec=spec(title="New title"), due_date=date(2027, 1, 2)),
    )
    issue = fake_linear.issues[ref.external_id]
    assert (issue["title"], issue["dueDate"]) == ("New title", "2027-01-02")
    c.comment(ref, "verified in staging")
    assert fake_linear.comments == [{"issueId": ref.external_id, "body": "verified in staging"}]


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
    ],
)
def test_fetch_state(fake_linear: FakeLinear, state_type: str, expected: TicketState) -> None:
    c = connector(fake_linear)
    ref = c.create_ticket(TARGET, spec())
    fake_linear.set_state(ref.external_id, state_type.title(), state_type)
    snapshot = c.fetch_state(ref)
    assert (snapshot.state, snapshot.raw_status) == (expected, state_type.title())
    assert (snapshot.assignee, snapshot.due_date, list(snapshot.labels)) == (
        "user-alice",
        date(2026, 12, 1),
        ["postmortem"],
    )


def test_resolve_ref(fake_linear: FakeLinear) -> None:
    c = connector(fake_linear)
    ref = c.create_ticket(TARGET, spec())
    assert c.resolve_ref("ENG-1") == ref
    assert c.resolve_ref("https://linear.app/acme/issue/ENG-1/gate-deploys") == ref
    with pytest.raises(PermanentConnectorError):
        c.resolve_ref("ENG-99")
    with pytest.raises(PermanentConnectorError):
        c.resolve_ref("https://example.com/nothing")


def test_unknown_team_is_permanent(fake_linear: FakeLinear) -> None:
    with pytest.raises(PermanentConnectorError):
        connector(fake_linear).create_ticket(Target(project="no-such-team"), spec(labels=()))


def test_server_error_is_retryable_and_sent_once(fake_linear: FakeLinear) -> None:
    fake_linear.inject(
        Fault("status", method="POST", status=500, body={"errors": [{"message": "boom"}]})
    )
    with pytest.raises(RetryableConnectorError):
        connector(fake_linear).create_ticket(TARGET, spec(labels=()))
    assert len(fake_linear.requests) == 1
    assert fake_linear.issues == {}


def test_rate_limits(fake_linear: FakeLinear) -> None:
    fake_linear.inject(
        Fault(
            "status",
            method="POST",
            status=429,
            headers={"Retry-After": "7"},
            body={"errors": [{"message": "ratelimited"}]},
        )
    )
    with pytest.raises(RetryableConnectorError) as failure:
        connector(fake_linear).check_credentials()
    assert failure.value.retry_after == 7
    fake_linear.inject(
        Fault(
            "status",
            method="POST",
            status=200,
            headers={"Retry-After": "3"},
            body={
                "errors": [
                    {"message": "Rate limit exceeded", "extensions": {"code": "RATELIMITED"}}
                ]
            },
        )
    )
    with pytest.raises(RetryableConnectorError) as graphql_limited:
        connector(fake_linear).check_credentials()
    assert graphql_limited.value.retry_after == 3


def test_slow_answers_time_out_as_retryable(fake_linear: FakeLinear) -> None:
    fake_linear.inject(Fault("slow", method="POST", delay=2))
    started = time.monotonic()
    with pytest.raises(RetryableConnectorError):
        connector(fake_linear, timeout=0.5).check_credentials()
    assert time.monotonic() - started < 1.5


def test_lost_create_answer_is_found_for_certain(fake_linear: FakeLinear) -> None:
    c = connector(fake_linear)
    s = spec(labels=())
    fake_linear.inject(Fault("drop", method="POST"))
    with pytest.raises(RetryableConnectorError):
        c.create_ticket(TARGET, s)
    found = c.find_by_marker(TARGET, s.marker, EPOCH)
    assert found is not None and found.external_id == s.marker
    assert list(fake_linear.issues) == [s.marker]


def test_the_fake_refuses_documents_the_schema_refuses(fake_linear: FakeLinear) -> None:
    refused = httpx.post(
        f"{fake_linear.base_url}/graphql",
        json={"query": "query { viewer { nonsense } }"},
        headers={"Authorization": API_KEY},
        timeout=5,
    )
    assert refused.status_code == 400
    assert any("nonsense" in v for v in fake_linear.violations)
    fake_linear.violations.clear()
