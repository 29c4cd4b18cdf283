"""Linear `set_state`, `find_all_by_marker` and resent creates over real HTTP (httpx), against
the fake Linear that checks every document against Linear's schema."""

from __future__ import annotations

import time
import uuid

import pytest

from connectors.base import PermanentConnectorError, RetryableConnectorError, TicketState
from tests.contract.test_linear_connector import EPOCH, TARGET, connector, sent, spec
from tests.fake_trackers.linear import FakeLinear
from tests.fake_trackers.server import Fault


def roots(fake: FakeLinear) -> list[str]:
    """The first root field of each document sent, in order."""
    names = []
    for request in fake.requests:
        query = request.json()["query"]
        names.append(query.split("{", 2)[1].split("(")[0].strip())
    return names


@pytest.mark.parametrize(
    ("state", "name", "state_type"),
    [
        (TicketState.DONE, "Done", "completed"),
        (TicketState.WONT_DO, "Canceled", "canceled"),
    ],
)
def test_set_state_moves_to_the_teams_first_state_of_the_type(
    fake_linear: FakeLinear, state: TicketState, name: str, state_type: str
) -> None:
    fake_linear.add_state("Shipped", "completed", 9.0)
    fake_linear.add_state("Won't fix", "canceled", 7.0)
    c = connector(fake_linear)
    ref = c.create_ticket(TARGET, spec(labels=()))
    snapshot = c.set_state(ref, state)
    assert (snapshot.ref, snapshot.state, snapshot.raw_status) == (ref, state, name)
    assert fake_linear.issues[ref.external_id]["state"]["type"] == state_type
    [update] = sent(fake_linear, "issueUpdate")
    assert update == {
        "id": ref.external_id,
        "input": {"stateId": fake_linear.state_named(name)["id"]},
    }
    assert fake_linear.comments == []
    assert c.fetch_state(ref).state is state


def test_set_state_as_duplicate_uses_the_duplicate_state_and_comments_first(
    fake_linear: FakeLinear,
) -> None:
    fake_linear.add_state("Duplicate", "duplicate", 6.0)
    c = connector(fake_linear)
    original = c.create_ticket(TARGET, spec(labels=()))
    copy = c.create_ticket(TARGET, spec(labels=()))
    snapshot = c.set_state(
        copy, TicketState.WONT_DO, comment="Made twice by a retry.", duplicate_of=original
    )
    assert (snapshot.state, snapshot.raw_status) == (TicketState.WONT_DO, "Duplicate")
    assert fake_linear.comments == [
        {
            "issueId": copy.external_id,
            "body": f"Duplicate of {original.external_key}\n\nMade twice by a retry.",
        }
    ]
    assert roots(fake_linear)[-2:] == ["commentCreate", "issueUpdate"]
    assert fake_linear.issues[original.external_id]["state"]["name"] == "Todo"


def test_set_state_as_duplicate_without_a_duplicate_state_cancels(
    fake_linear: FakeLinear,
) -> None:
    c = connector(fake_linear)
    original = c.create_ticket(TARGET, spec(labels=()))
    copy = c.create_ticket(TARGET, spec(labels=()))
    snapshot = c.set_state(copy, TicketState.WONT_DO, duplicate_of=original)
    assert (snapshot.state, snapshot.raw_status) == (TicketState.WONT_DO, "Canceled")
    assert [c["body"] for c in fake_linear.comments] == [f"Duplicate of {original.external_key}"]


def test_set_state_open_prefers_unstarted_then_backlog_then_triage(
    fake_linear: FakeLinear,
) -> None:
    ref = connector(fake_linear).create_ticket(TARGET, spec(labels=()))
    fake_linear.add_state("Triage", "triage", 0.0)
    for removed, expected in ((None, "Todo"), ("Todo", "Backlog"), ("Backlog", "Triage")):
        if removed is not None:
            del fake_linear.states[fake_linear.state_named(removed)["id"]]
        fake_linear.set_state(ref.external_id, "Done", "completed")
        # A new connector each time: its cache would still hold the removed state.
        snapshot = connector(fake_linear).set_state(ref, TicketState.OPEN)
        assert (snapshot.state, snapshot.raw_status) == (TicketState.OPEN, expected)


def test_workflow_states_are_read_once_per_team(fake_linear: FakeLinear) -> None:
    c = connector(fake_linear)
    ref = c.create_ticket(TARGET, spec(labels=()))
    c.set_state(ref, TicketState.DONE)
    c.set_state(ref, TicketState.OPEN)
    c.set_state(ref, TicketState.WONT_DO)
    assert len(sent(fake_linear, "workflowStates")) == 1
    assert sent(fake_linear, "workflowStates")[0]["teamId"] == TARGET.project


def test_a_state_removed_since_it_was_cached_is_read_afresh_next_time(
    fake_linear: FakeLinear,
) -> None:
    c = connector(fake_linear)
    ref = c.create_ticket(TARGET, spec(labels=()))
    c.set_state(ref, TicketState.DONE)
    del fake_linear.states[fake_linear.state_named("Canceled")["id"]]
    fake_linear.add_state("Cancelled", "canceled", 5.0)
    with pytest.raises(PermanentConnectorError, match="ENTITY_NOT_FOUND"):
        c.set_state(ref, TicketState.WONT_DO)
    assert c.set_state(ref, TicketState.WONT_DO).raw_status == "Cancelled"
    assert len(sent(fake_linear, "workflowStates")) == 2


def test_a_team_without_the_state_type_is_permanent_and_nothing_is_written(
    fake_linear: FakeLinear,
) -> None:
    c = connector(fake_linear)
    ref = c.create_ticket(TARGET, spec(labels=()))
    del fake_linear.states[fake_linear.state_named("Canceled")["id"]]
    with pytest.raises(PermanentConnectorError, match=r"canceled.*Done \(completed\)"):
        c.set_state(ref, TicketState.WONT_DO, comment="Not doing this.")
    assert fake_linear.comments == []
    assert sent(fake_linear, "issueUpdate") == []


@pytest.mark.parametrize("state", [TicketState.DONE, TicketState.IN_PROGRESS])
def test_duplicate_of_and_unsettable_states_are_refused_before_any_call(
    fake_linear: FakeLinear, state: TicketState
) -> None:
    c = connector(fake_linear)
    ref = c.create_ticket(TARGET, spec(labels=()))
    before = len(fake_linear.requests)
    with pytest.raises(PermanentConnectorError):
        c.set_state(ref, state, duplicate_of=ref)
    assert len(fake_linear.requests) == before


def test_find_all_by_marker_is_the_one_issue_with_that_id(fake_linear: FakeLinear) -> None:
    c = connector(fake_linear)
    s = spec(labels=())
    ref = c.create_ticket(TARGET, s)
    c.create_ticket(TARGET, s)  # resent: Linear refuses the id, no second issue
    assert c.find_all_by_marker(TARGET, s.marker, EPOCH) == [ref]
    assert c.find_all_by_marker(TARGET, str(uuid.uuid4()), EPOCH) == []


def test_a_create_resent_after_a_lost_answer_answers_the_issue(fake_linear: FakeLinear) -> None:
    c = connector(fake_linear)
    s = spec(labels=())
    fake_linear.inject(Fault("drop", method="POST"))
    with pytest.raises(RetryableConnectorError):
        c.create_ticket(TARGET, s)
    ref = c.create_ticket(TARGET, s)
    assert ref.external_id == s.marker
    assert list(fake_linear.issues) == [s.marker]
    assert len(sent(fake_linear, "issueCreate")) == 2


def test_a_create_resent_while_the_first_answer_is_still_on_its_way(
    fake_linear: FakeLinear,
) -> None:
    s = spec(labels=())
    fake_linear.inject(Fault("delay_reply", method="POST", delay=1.5))
    started = time.monotonic()
    with pytest.raises(RetryableConnectorError):
        connector(fake_linear, timeout=0.5).create_ticket(TARGET, s)
    assert time.monotonic() - started < 1.4  # the first answer has not arrived yet
    ref = connector(fake_linear).create_ticket(TARGET, s)
    assert (ref.external_id, ref.external_key) == (s.marker, "ENG-1")
    assert list(fake_linear.issues) == [s.marker]
