"""The GitHub connector through the real PyGithub over HTTP, against a contract-checked fake."""

from __future__ import annotations

import os
import socket
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from urllib.parse import parse_qs

import pytest

from connectors.base import (
    ConnectorConfig,
    PermanentConnectorError,
    RetryableConnectorError,
    Target,
    TicketChanges,
    TicketRef,
    TicketSpec,
    TicketState,
)
from connectors.github.connector import GitHubConnector
from tests.fake_trackers.github import BOT, TOKEN, FakeGitHub
from tests.fake_trackers.server import LOOPBACK_EGRESS, Fault

TARGET = Target(project="acme/api")
FAST = {"seconds_between_requests": 0, "seconds_between_writes": 0}


def connector(
    fake: FakeGitHub, token: str = TOKEN, timeout: float = 5, options: dict[str, float] = FAST
) -> GitHubConnector:
    return GitHubConnector(
        ConnectorConfig(
            egress=LOOPBACK_EGRESS,
            base_url=fake.base_url,
            credentials={"token": token},
            timeout=timeout,
            options=options,
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


def backdate(fake: FakeGitHub, number: int, moment: datetime) -> None:
    stamp = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    fake.issue("acme/api", number).update(created_at=stamp, updated_at=stamp)


def test_credentials(fake_github: FakeGitHub) -> None:
    assert connector(fake_github).check_credentials() == BOT
    with pytest.raises(PermanentConnectorError) as failure:
        connector(fake_github, token="wrong").check_credentials()
    assert failure.value.status == 401


def test_create_writes_everything_people_need(fake_github: FakeGitHub) -> None:
    s = spec()
    ref = connector(fake_github).create_ticket(TARGET, s)
    assert ref.external_key == "acme/api#1"
    assert ref.url == f"{fake_github.base_url}/acme/api/issues/1"
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
    # Someone pasted our marker into an issue of their own: it is not the ticket we created.
    fake_github.add_issue(
        "acme/api", "Copy", f"<!-- followthrough:action-item={s.marker} -->", "mallory"
    )
    assert c.find_by_marker(TARGET, s.marker, datetime.now(UTC) - timedelta(minutes=1)) is None
    (listing,) = fake_github.requests_to("GET", "/repos/acme/api/issues")
    query = parse_qs(listing.query)
    assert query["creator"] == [BOT] and query["state"] == ["all"] and query["sort"] == ["created"]
    assert "since" in query
    assert not fake_github.requests_to("GET", "/search/issues")


def test_find_by_marker_pages_with_its_filters(fake_github: FakeGitHub) -> None:
    c = connector(fake_github)
    since = datetime.now(UTC) - timedelta(minutes=1)
    for _ in range(100):
        fake_github.add_issue("acme/api", "Noise", "created by us, another item", BOT)
    wanted = spec()
    ref = c.create_ticket(TARGET, wanted)
    assert c.find_by_marker(TARGET, wanted.marker, since) == ref
    pages = fake_github.requests_to("GET", "/repos/acme/api/issues")
    assert len(pages) == 2
    assert parse_qs(pages[1].query)["creator"] == [BOT]


def test_find_by_marker_looks_back_past_clock_skew_but_not_further(
    fake_github: FakeGitHub,
) -> None:
    c = connector(fake_github)
    created_after = datetime.now(UTC)
    skewed, old = spec(), spec()
    c.create_ticket(TARGET, skewed)
    c.create_ticket(TARGET, old)
    # GitHub's clock runs three minutes behind ours: the issue still counts.
    backdate(fake_github, 1, created_after - timedelta(minutes=3))
    backdate(fake_github, 2, created_after - timedelta(hours=1))
    assert c.find_by_marker(TARGET, skewed.marker, created_after) is not None
    assert c.find_by_marker(TARGET, old.marker, created_after) is None
    since = parse_qs(fake_github.requests_to("GET", "/repos/acme/api/issues")[-1].query)["since"]
    expected = created_after - timedelta(minutes=5)
    assert since == [expected.strftime("%Y-%m-%dT%H:%M:%SZ")]


def test_find_by_marker_reads_naive_times_as_utc(fake_github: FakeGitHub) -> None:
    c = connector(fake_github)
    previous = os.environ.get("TZ")
    os.environ["TZ"] = "IST-5:30"  # POSIX form of UTC+05:30, no tz database needed
    time.tzset()
    try:
        c.find_by_marker(TARGET, "m", datetime(2026, 3, 1, 12, 0))
    finally:
        if previous is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = previous
        time.tzset()
    (listing,) = fake_github.requests_to("GET", "/repos/acme/api/issues")
    assert parse_qs(listing.query)["since"] == ["2026-03-01T11:55:00Z"]


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


def test_reopened_issue_is_open_again(fake_github: FakeGitHub) -> None:
    c = connector(fake_github)
    ref = c.create_ticket(TARGET, spec(assignee=None, labels=[]))
    fake_github.close("acme/api", 1, "completed")
    fake_github.reopen("acme/api", 1)
    snapshot = c.fetch_state(ref)
    assert (snapshot.state, snapshot.raw_status, snapshot.assignee) == (
        TicketState.OPEN,
        "open",
        None,
    )
    assert snapshot.updated_at.utcoffset() == timedelta(0)


def test_update_clears_assignee_and_sets_labels_only(fake_github: FakeGitHub) -> None:
    c = connector(fake_github)
    ref = c.create_ticket(TARGET, spec())
    before = fake_github.issue("acme/api", 1)["body"]
    c.update_ticket(ref, TicketChanges(clear_assignee=True, labels=["postmortem", "sev-1"]))
    issue = fake_github.issue("acme/api", 1)
    assert issue["assignees"] == [] and issue["body"] == before
    assert [label["name"] for label in issue["labels"]] == ["postmortem", "sev-1"]
    patch = fake_github.requests_to("PATCH", "/repos/acme/api/issues/1")[-1].json()
    assert patch == {"assignees": [], "labels": ["postmortem", "sev-1"]}
    c.update_ticket(ref, TicketChanges())
    assert len(fake_github.requests_to("PATCH", "/repos/acme/api/issues/1")) == 1


def test_due_date_change_rewrites_the_due_line_only(fake_github: FakeGitHub) -> None:
    c = connector(fake_github)
    ref = c.create_ticket(TARGET, spec())
    fake_github.close("acme/api", 1, "completed")
    before = fake_github.issue("acme/api", 1)["body"]
    c.update_ticket(ref, TicketChanges(due_date=date(2027, 1, 15)))
    issue = fake_github.issue("acme/api", 1)
    assert issue["body"] == before.replace("**Due:** 2026-12-01", "**Due:** 2027-01-15")
    assert issue["state_reason"] == "completed"
    (patch,) = fake_github.requests_to("PATCH", "/repos/acme/api/issues/1")
    assert set(patch.json()) == {"body"}
    # With the whole spec, the body is rendered again and the change's due date wins.
    c.update_ticket(ref, TicketChanges(spec=spec(), due_date=date(2027, 2, 1)))
    assert "**Due:** 2027-02-01" in fake_github.issue("acme/api", 1)["body"]


def test_comment_and_resolve_ref(fake_github: FakeGitHub) -> None:
    c = connector(fake_github)
    ref = c.create_ticket(TARGET, spec())
    c.comment(ref, "Verified in the game day")
    assert fake_github.comments[("acme/api", 1)][0]["body"] == "Verified in the game day"
    # An issue URL is read on the integration's own web host (here the fake's, like a GHE
    # server's), and on no other.
    assert c.resolve_ref(f"{fake_github.base_url}/acme/api/issues/1") == ref
    assert c.resolve_ref("acme/api#1") == ref
    assert c.resolve_ref(f"{fake_github.base_url}/acme/api/issues/1#issuecomment-5") == ref
    assert len(fake_github.requests_to("GET", "/repos/acme/api/issues/1")) == 3
    for elsewhere in (
        "https://github.com/acme/api/issues/1",
        "https://evil.example/acme/api/issues/1",
    ):
        with pytest.raises(PermanentConnectorError, match="not a GitHub issue reference"):
            c.resolve_ref(elsewhere)
    assert len(fake_github.requests_to("GET", "/repos/acme/api/issues/1")) == 3
    with pytest.raises(PermanentConnectorError):
        c.resolve_ref("acme/api#99")
    with pytest.raises(PermanentConnectorError):
        c.resolve_ref("not a ticket")


def test_unknown_repo_is_permanent(fake_github: FakeGitHub) -> None:
    with pytest.raises(PermanentConnectorError) as failure:
        connector(fake_github).create_ticket(Target(project="acme/nope"), spec())
    assert failure.value.status == 404


def test_fetch_states_reads_conditionally_and_leaves_out_missing_issues(
    fake_github: FakeGitHub,
) -> None:
    c = connector(fake_github)
    first, second, gone = (c.create_ticket(TARGET, spec()) for _ in range(3))
    never = TicketRef("acme/api#99", "acme/api#99", "")
    fake_github.delete("acme/api", 3)
    states = c.fetch_states([first, second, gone, never], {})
    assert set(states) == {first.external_key, second.external_key}
    etags = {key: snap.etag for key, snap in states.items() if snap is not None and snap.etag}
    assert set(etags) == set(states)
    fake_github.close("acme/api", 2, "not_planned")
    again = c.fetch_states([first, second], etags)
    assert again[first.external_key] is None  # 304: unchanged
    changed = again[second.external_key]
    assert changed is not None and changed.state == TicketState.WONT_DO
    fake_github.inject(Fault("status", method="GET", path_part="/issues/2", status=503))
    with pytest.raises(RetryableConnectorError):
        c.fetch_states([first, second], {})


def test_moved_repository_is_permanent_and_creates_nothing(fake_github: FakeGitHub) -> None:
    # GitHub answers writes to a renamed or transferred repository with 307.
    moved = f"{fake_github.base_url}/repositories/42/issues"
    fake_github.inject(
        Fault(
            "status",
            method="POST",
            status=307,
            headers={"Location": moved},
            body={"message": "Moved Permanently", "url": moved},
        )
    )
    with pytest.raises(PermanentConnectorError, match="moved or renamed"):
        connector(fake_github).create_ticket(TARGET, spec())
    assert fake_github.issues == {}


def test_half_an_answer_is_retryable(fake_github: FakeGitHub) -> None:
    fake_github.inject(
        Fault("status", method="POST", status=201, body=b'{"number": 1, "html_url": "https:')
    )
    with pytest.raises(RetryableConnectorError):
        connector(fake_github).create_ticket(TARGET, spec())


def test_register_webhook(fake_github: FakeGitHub) -> None:
    hook_id = connector(fake_github).register_webhook(
        TARGET, "https://followthrough.example/v1/webhooks/7", "s3cret"
    )
    (hook,) = fake_github.hooks
    assert hook_id == "700"
    assert hook["config"] == {
        "url": "https://followthrough.example/v1/webhooks/7",
        "content_type": "json",
        "secret": "s3cret",
        "insecure_ssl": "0",
    }
    assert set(hook["events"]) == {"issues", "issue_comment"}


def test_writes_are_spaced_as_configured(fake_github: FakeGitHub) -> None:
    c = connector(
        fake_github, options={"seconds_between_requests": 0, "seconds_between_writes": 0.4}
    )
    c.create_ticket(TARGET, spec())
    started = time.monotonic()
    c.create_ticket(TARGET, spec())
    assert time.monotonic() - started >= 0.35


@pytest.mark.parametrize("status", [500, 502])
def test_server_error_is_retryable_and_sent_once(fake_github: FakeGitHub, status: int) -> None:
    fake_github.inject(
        Fault(
            "status",
            method="POST",
            path_part="/issues",
            status=status,
            body={"message": "Server Error"},
        )
    )
    with pytest.raises(RetryableConnectorError) as failure:
        connector(fake_github).create_ticket(TARGET, spec())
    assert failure.value.status == status
    assert posts(fake_github) == 1
    assert fake_github.issues == {}


def test_unknown_issue_and_gone_repo_are_permanent(fake_github: FakeGitHub) -> None:
    c = connector(fake_github)
    with pytest.raises(PermanentConnectorError) as missing:
        c.fetch_state(TicketRef("acme/api#7", "acme/api#7", "https://github.example/x"))
    assert missing.value.status == 404
    fake_github.inject(
        Fault("status", method="POST", status=422, body={"message": "Validation Failed"})
    )
    with pytest.raises(PermanentConnectorError) as invalid:
        c.create_ticket(TARGET, spec())
    assert invalid.value.status == 422


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
    assert posts(fake_github) == 1
    fake_github.inject(
        Fault(
            "status",
            method="POST",
            status=403,
            headers={"Retry-After": "12"},
            body={"message": "You have exceeded a secondary rate limit"},
        )
    )
    with pytest.raises(RetryableConnectorError) as told:
        connector(fake_github).create_ticket(TARGET, spec())
    assert told.value.retry_after == 12


def test_plain_forbidden_is_permanent(fake_github: FakeGitHub) -> None:
    fake_github.inject(
        Fault("status", method="POST", status=403, body={"message": "Resource not accessible"})
    )
    with pytest.raises(PermanentConnectorError) as failure:
        connector(fake_github).create_ticket(TARGET, spec())
    assert failure.value.status == 403


def test_slow_answers_time_out_as_retryable(fake_github: FakeGitHub) -> None:
    fake_github.inject(Fault("slow", method="POST", path_part="/issues", delay=2))
    c = connector(fake_github, timeout=0.5)
    s = spec()
    since = datetime.now(UTC)
    started = time.monotonic()
    with pytest.raises(RetryableConnectorError):
        c.create_ticket(TARGET, s)
    # PyGithub takes whole seconds only, so 0.5 s becomes 1 s; still far short of the delay.
    assert time.monotonic() - started < 1.5
    assert posts(fake_github) == 1
    # GitHub finishes the create after we stopped listening; the marker finds it.
    deadline = time.monotonic() + 5
    while not fake_github.issues and time.monotonic() < deadline:
        time.sleep(0.05)
    found = c.find_by_marker(TARGET, s.marker, since)
    assert found is not None and found.external_key == "acme/api#1"
    assert posts(fake_github) == 1


def test_refused_connection_is_retryable(fake_github: FakeGitHub) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    c = GitHubConnector(
        ConnectorConfig(
            egress=LOOPBACK_EGRESS,
            base_url=f"http://127.0.0.1:{port}",
            credentials={"token": TOKEN},
            options=FAST,
        )
    )
    with pytest.raises(RetryableConnectorError):
        c.check_credentials()


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
    assert found.url == fake_github.issue("acme/api", 1)["html_url"]
    assert len(fake_github.issues) == 1
    assert len(fake_github.with_marker(s.marker)) == 1
    assert posts(fake_github) == 1
