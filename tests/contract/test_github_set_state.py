"""GitHub `set_state` and `find_all_by_marker` through the real PyGithub over HTTP, against the
contract-checked fake."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from connectors.base import (
    PermanentConnectorError,
    RetryableConnectorError,
    TicketRef,
    TicketState,
)
from tests.contract.test_github_connector import TARGET, backdate, connector, spec
from tests.fake_trackers.github import FakeGitHub
from tests.fake_trackers.server import Fault

ISSUE_1 = "/repos/acme/api/issues/1"


def patches(fake: FakeGitHub) -> list[dict[str, object]]:
    return [r.json() for r in fake.requests_to("PATCH", ISSUE_1)]


@pytest.mark.parametrize(
    ("state", "reason", "raw"),
    [
        (TicketState.DONE, "completed", "closed:completed"),
        (TicketState.WONT_DO, "not_planned", "closed:not_planned"),
    ],
)
def test_set_state_closes_with_the_reason(
    fake_github: FakeGitHub, state: TicketState, reason: str, raw: str
) -> None:
    c = connector(fake_github)
    ref = c.create_ticket(TARGET, spec())
    snapshot = c.set_state(ref, state)
    assert (snapshot.ref, snapshot.state, snapshot.raw_status) == (ref, state, raw)
    assert patches(fake_github) == [{"state": "closed", "state_reason": reason}]
    stored = fake_github.issue("acme/api", 1)
    assert (stored["state"], stored["state_reason"]) == ("closed", reason)
    assert stored["closed_at"] is not None
    assert fake_github.comments.get(("acme/api", 1), []) == []
    assert c.fetch_state(ref).state is state


def test_set_state_as_duplicate_comments_first_naming_the_real_ticket(
    fake_github: FakeGitHub,
) -> None:
    c = connector(fake_github)
    original = c.create_ticket(TARGET, spec())
    copy = c.create_ticket(TARGET, spec())
    snapshot = c.set_state(
        copy, TicketState.WONT_DO, comment="Created twice by a retried sync.", duplicate_of=original
    )
    assert (snapshot.state, snapshot.raw_status) == (TicketState.WONT_DO, "closed:duplicate")
    [comment] = fake_github.comments[("acme/api", 2)]
    assert comment["body"] == "Duplicate of acme/api#1\n\nCreated twice by a retried sync."
    writes = [
        (r.method, r.path)
        for r in fake_github.requests
        if r.method in ("POST", "PATCH") and r.path.startswith("/repos/acme/api/issues/2")
    ]
    assert writes == [
        ("POST", "/repos/acme/api/issues/2/comments"),
        ("PATCH", "/repos/acme/api/issues/2"),
    ]
    assert fake_github.issue("acme/api", 2)["state_reason"] == "duplicate"
    assert fake_github.issue("acme/api", 1)["state"] == "open"


def test_set_state_open_reopens_what_a_person_closed(fake_github: FakeGitHub) -> None:
    c = connector(fake_github)
    ref = c.create_ticket(TARGET, spec())
    fake_github.close("acme/api", 1, "completed")
    snapshot = c.set_state(ref, TicketState.OPEN, comment="The alert fired again.")
    assert (snapshot.state, snapshot.raw_status) == (TicketState.OPEN, "open")
    assert patches(fake_github) == [{"state": "open", "state_reason": "reopened"}]
    stored = fake_github.issue("acme/api", 1)
    assert (stored["state"], stored["state_reason"], stored["closed_at"]) == (
        "open",
        "reopened",
        None,
    )
    assert [c["body"] for c in fake_github.comments[("acme/api", 1)]] == ["The alert fired again."]


@pytest.mark.parametrize("state", [TicketState.DONE, TicketState.OPEN])
def test_duplicate_of_goes_with_wont_do_only(fake_github: FakeGitHub, state: TicketState) -> None:
    c = connector(fake_github)
    ref = c.create_ticket(TARGET, spec())
    before = len(fake_github.requests)
    with pytest.raises(PermanentConnectorError):
        c.set_state(ref, state, duplicate_of=ref)
    with pytest.raises(PermanentConnectorError):
        c.set_state(ref, TicketState.IN_PROGRESS)
    assert len(fake_github.requests) == before


def test_set_state_of_a_missing_issue_is_permanent(fake_github: FakeGitHub) -> None:
    missing = TicketRef("acme/api#9", "acme/api#9", "https://github.example/acme/api/issues/9")
    with pytest.raises(PermanentConnectorError) as failure:
        connector(fake_github).set_state(missing, TicketState.DONE)
    assert failure.value.status == 404


def test_set_state_server_error_is_retryable(fake_github: FakeGitHub) -> None:
    c = connector(fake_github)
    ref = c.create_ticket(TARGET, spec())
    fake_github.inject(Fault("status", method="PATCH", status=502, body={"message": "Bad"}))
    with pytest.raises(RetryableConnectorError):
        c.set_state(ref, TicketState.DONE)
    assert len(fake_github.requests_to("PATCH", ISSUE_1)) == 1
    assert fake_github.issue("acme/api", 1)["state"] == "open"


def test_find_all_by_marker_lists_every_copy_oldest_first(fake_github: FakeGitHub) -> None:
    c = connector(fake_github)
    s = spec()
    c.create_ticket(TARGET, spec())  # another action item
    first = c.create_ticket(TARGET, s)
    second = c.create_ticket(TARGET, s)
    # Someone pasted the body into an issue of their own: not ours, not a copy.
    fake_github.add_issue("acme/api", "copy", fake_github.issue("acme/api", 2)["body"], "mallory")
    now = datetime.now(UTC)
    backdate(fake_github, 2, now - timedelta(minutes=2))
    backdate(fake_github, 3, now - timedelta(minutes=1))
    since = now - timedelta(minutes=10)
    assert c.find_all_by_marker(TARGET, s.marker, since) == [first, second]
    assert c.find_by_marker(TARGET, s.marker, since) == first
    assert c.find_all_by_marker(TARGET, "no-such-marker", since) == []
