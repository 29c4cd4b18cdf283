"""The GitHub connector through the real PyGithub over HTTP, against a contract-checked fake."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, date, datetime, timedelta

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
from connectors.github.connector import GitHubConnector
from tests.fake_trackers.github import BOT, TOKEN, FakeGitHub
from tests.fake_trackers.server import Fault

TARGET = Target(project="acme/api")
FAST = {"seconds_between_requests": 0, "seconds_between_writes": 0}


def connector(fake: FakeGitHub, token: str = TOKEN, timeout: float = 5) -> GitHubConnector:
    return GitHubConnector(
        ConnectorConfig(
            base_url=fake.base_url, credentials={"token": token}, timeout=timeout, options=FAST
        )
    )


def spec(**overrides: object) -> TicketSpec:
    values: dict[str, object] = {
        "title": "Gate deploys on the canary 5xx rate",
        "description": "Config pushes skipped the canary.",
        "definition_of_done": ["Deploys halt above 1% 5xx", "Runbook updated"],
        "verification": "Game day in staging",
        "postmortem_url": "https://followthrough.example/v1/postmortems/42",
        "marker": str(uuid.uuid4()),
        "assignee": "alice",
        "due_date": date(2026, 12, 1),
        "labels": ["postmortem"],
    }
    values.update(overrides)
    return TicketSpec(**values)  # type: ignore[arg-type]


def posts(fake: FakeGitHub) -> int:
    return len(fake.requests_to("POST", "/repos/acme/api/issues"))


def test_credentials(fake_github: FakeGitHub) -> None:
    assert connector(fake_github).check_credentials() == BOT
    with pytest.raises(PermanentConnectorError) as failure:
        connector(fake_github, token="wrong").check_credentials()
    assert failure.value.status == 401


def test_create_writes_everything_people_need(fake_github: FakeGitHub) -> None:
    s = spec()
    ref = connector(fake_github).create_ticket(TARGET, s)
    assert ref.external_key == "acme/api#1"
    assert ref.url == "https://github.example/acme/api/issues/1"
    issue = fake_github.issue("acme/api", 1)
    assert [a["login"] for a in issue["assignees"]] == ["alice"]
    assert [label["name"] for label in issue["labels"]] == ["postmortem"]
    body = issue["body"]
    for expected in (
        "- [ ] Deploys halt above 1% 5xx",
        "## Verification",
        "**Due:** 2026-12-01",
        s.postmortem_url,
        f"<!-- followthrough:action-item={s.marker} -->",
    ):
        assert expected in body


def test_find_by_marker(fake_github: FakeGitHub) -> None:
    c = connector(fake_github)
    since = datetime.now(UTC) - timedelta(minutes=1)
    wanted = spec()
    c.create_ticket(TARGET, spec())
    ref = c.create_ticket(TARGET, wanted)
    assert c.find_by_marker(TARGET, wanted.marker, since) == ref
    assert c.find_by_marker(TARGET, str(uuid.uuid4()), since) is None
    assert (
        "creator=followthrough-bot"
        in fake_github.requests_to("GET", "/repos/acme/api/issues")[-1].query
    )


def test_issues_by_someone_else_are_not_ours(fake_github: FakeGitHub) -> None:
    c = connector(fake_github)
    s = spec()
    c.create_ticket(TARGET, s)
    fake_github.issue("acme/api", 1)["user"] = {"login": "mallory"}
    assert c.find_by_marker(TARGET, s.marker, datetime.now(UTC) - timedelta(minutes=1)) is None


def test_update_never_sends_state(fake_github: FakeGitHub) -> None:
    c = connector(fake_github)
    ref = c.create_ticket(TARGET, spec())
    fake_github.close("acme/api", 1, "not_planned")
    c.update_ticket(
        ref, TicketChanges(title="New title", spec=spec(title="New title"), assignee="bob")
    )
    issue = fake_github.issue("acme/api", 1)
    assert issue["title"] == "New title"
    assert issue["assignee"]["login"] == "bob"
    assert issue["state_reason"] == "not_planned"
    patch = fake_github.requests_to("PATCH", "/repos/acme/api/issues/1")[-1].json()
    assert "state" not in patch


@pytest.mark.parametrize(
    ("reason", "state", "raw"),
    [
        (None, TicketState.OPEN, "open"),
        ("completed", TicketState.DONE, "closed:completed"),
        ("not_planned", TicketState.WONT_DO, "closed:not_planned"),
        ("duplicate", TicketState.WONT_DO, "closed:duplicate"),
    ],
)
def test_fetch_state(
    fake_github: FakeGitHub, reason: str | None, state: TicketState, raw: str
) -> None:
    c = connector(fake_github)
    ref = c.create_ticket(TARGET, spec())
    if reason:
        fake_github.close("acme/api", 1, reason)
    snapshot = c.fetch_state(ref)
    assert (snapshot.state, snapshot.raw_status, snapshot.assignee) == (state, raw, "alice")
    assert snapshot.labels == ["postmortem"]
    assert snapshot.updated_at.tzinfo is not None


def test_comment_and_resolve_ref(fake_github: FakeGitHub) -> None:
    c = connector(fake_github)
    ref = c.create_ticket(TARGET, spec())
    c.comment(ref, "Verified in the game day")
    assert fake_github.comments[("acme/api", 1)][0]["body"] == "Verified in the game day"
    assert c.resolve_ref("https://github.example/acme/api/issues/1") == ref
    assert c.resolve_ref("acme/api#1") == ref
    with pytest.raises(PermanentConnectorError):
        c.resolve_ref("acme/api#99")
    with pytest.raises(PermanentConnectorError):
        c.resolve_ref("not a ticket")


def test_unknown_repo_is_permanent(fake_github: FakeGitHub) -> None:
    with pytest.raises(PermanentConnectorError) as failure:
        connector(fake_github).create_ticket(Target(project="acme/nope"), spec())
    assert failure.value.status == 404


def test_server_error_is_retryable_and_sent_once(fake_github: FakeGitHub) -> None:
    fake_github.inject(
        Fault(
            "status",
            method="POST",
            path_part="/issues",
            status=502,
            body={"message": "bad gateway"},
        )
    )
    with pytest.raises(RetryableConnectorError):
        connector(fake_github).create_ticket(TARGET, spec())
    assert posts(fake_github) == 1
    assert fake_github.issues == {}


def test_rate_limits_carry_when_to_retry(fake_github: FakeGitHub) -> None:
    fake_github.inject(
        Fault(
            "status",
            method="POST",
            path_part="/issues",
            status=429,
            headers={"Retry-After": "7"},
            body={"message": "slow down"},
        )
    )
    with pytest.raises(RetryableConnectorError) as failure:
        connector(fake_github).create_ticket(TARGET, spec())
    assert failure.value.retry_after == 7
    assert posts(fake_github) == 1
    reset = int(time.time()) + 30
    fake_github.inject(
        Fault(
            "status",
            method="POST",
            path_part="/issues",
            status=403,
            headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset)},
            body={"message": "API rate limit exceeded"},
        )
    )
    with pytest.raises(RetryableConnectorError) as primary:
        connector(fake_github).create_ticket(TARGET, spec())
    assert 20 <= (primary.value.retry_after or 0) <= 31


def test_secondary_rate_limit_is_retryable(fake_github: FakeGitHub) -> None:
    fake_github.inject(
        Fault(
            "status",
            method="POST",
            path_part="/issues",
            status=403,
            body={"message": "You have exceeded a secondary rate limit"},
        )
    )
    with pytest.raises(RetryableConnectorError) as failure:
        connector(fake_github).create_ticket(TARGET, spec())
    assert failure.value.retry_after == 60


def test_slow_answers_time_out_as_retryable(fake_github: FakeGitHub) -> None:
    fake_github.inject(Fault("slow", method="GET", path_part="/user", delay=3))
    started = time.monotonic()
    with pytest.raises(RetryableConnectorError):
        connector(fake_github, timeout=1).check_credentials()
    assert time.monotonic() - started < 2.5


def test_lost_create_answer_is_found_by_marker(fake_github: FakeGitHub) -> None:
    c = connector(fake_github)
    s = spec()
    fake_github.inject(Fault("drop", method="POST", path_part="/issues"))
    since = datetime.now(UTC) - timedelta(minutes=1)
    with pytest.raises(RetryableConnectorError):
        c.create_ticket(TARGET, s)
    assert posts(fake_github) == 1
    found = c.find_by_marker(TARGET, s.marker, since)
    assert found is not None and found.external_key == "acme/api#1"
    assert len(fake_github.issues) == 1
