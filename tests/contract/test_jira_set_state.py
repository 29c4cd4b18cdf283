"""Jira `set_state` (transitions, resolutions, comments) and `find_all_by_marker` through the
real `jira` library over HTTP, against the fake Jira Cloud."""

from __future__ import annotations

import pytest

from connectors.base import PermanentConnectorError, RetryableConnectorError, TicketState
from connectors.jira.connector import JiraConnector
from tests.contract.test_jira_connector import EPOCH, OPS, make_connector, make_spec
from tests.fake_trackers.jira import FakeJira
from tests.fake_trackers.jira_rules import adf_text
from tests.fake_trackers.jira_workflow import Transition
from tests.fake_trackers.server import Fault

TRANSITIONS = "/rest/api/3/issue/10000/transitions"


@pytest.fixture
def jira(fake_jira: FakeJira) -> JiraConnector:
    return make_connector(fake_jira)


def posted(fake: FakeJira) -> list[dict[str, object]]:
    return [r.json() for r in fake.requests_to("POST", TRANSITIONS)]


@pytest.mark.parametrize(
    ("state", "resolution"),
    [(TicketState.DONE, "Done"), (TicketState.WONT_DO, "Won't Do")],
)
def test_set_state_takes_the_done_transition_with_the_resolution(
    fake_jira: FakeJira, jira: JiraConnector, state: TicketState, resolution: str
) -> None:
    ref = jira.create_ticket(OPS, make_spec())
    snapshot = jira.set_state(ref, state)
    assert (snapshot.ref, snapshot.state, snapshot.raw_status) == (ref, state, "Done")
    assert snapshot.resolution == resolution
    [listing] = fake_jira.requests_to("GET", TRANSITIONS)
    assert "expand=transitions.fields" in listing.query
    assert posted(fake_jira) == [
        {
            "transition": {"id": "31"},
            "fields": {"resolution": {"id": fake_jira.resolutions[resolution]}},
        }
    ]
    fields = fake_jira.issue("OPS-1")["fields"]
    assert fields["status"]["statusCategory"]["key"] == "done"
    assert fields["resolutiondate"] is not None
    assert fake_jira.issue("OPS-1")["comments"] == []


def test_set_state_as_duplicate_comments_first_and_resolves_as_duplicate(
    fake_jira: FakeJira, jira: JiraConnector
) -> None:
    original = jira.create_ticket(OPS, make_spec())
    copy = jira.create_ticket(OPS, make_spec())
    snapshot = jira.set_state(
        copy, TicketState.WONT_DO, comment="Created twice by a retry.", duplicate_of=original
    )
    assert (snapshot.state, snapshot.resolution) == (TicketState.WONT_DO, "Duplicate")
    [comment] = fake_jira.issue("OPS-2")["comments"]
    # Two ADF paragraphs: the duplicate line, then the caller's text.
    assert [block["type"] for block in comment["body"]["content"]] == ["paragraph", "paragraph"]
    assert " ".join(adf_text(comment["body"]).split()) == (
        "Duplicate of OPS-1 Created twice by a retry."
    )
    writes = [r.path for r in fake_jira.requests if r.method == "POST" and "10001" in r.path]
    assert writes == ["/rest/api/3/issue/10001/comment", "/rest/api/3/issue/10001/transitions"]
    assert fake_jira.issue("OPS-1")["fields"]["resolution"] is None


def test_set_state_open_reopens_and_clears_the_resolution(
    fake_jira: FakeJira, jira: JiraConnector
) -> None:
    ref = jira.create_ticket(OPS, make_spec())
    fake_jira.transition("OPS-1", "Done", "done", "Done")
    snapshot = jira.set_state(ref, TicketState.OPEN, comment="It fired again.")
    assert (snapshot.state, snapshot.raw_status, snapshot.resolution) == (
        TicketState.OPEN,
        "To Do",
        None,
    )
    assert posted(fake_jira) == [{"transition": {"id": "41"}}]
    assert fake_jira.issue("OPS-1")["fields"]["resolutiondate"] is None


def test_a_ticket_already_there_is_not_transitioned(
    fake_jira: FakeJira, jira: JiraConnector
) -> None:
    ref = jira.create_ticket(OPS, make_spec())
    fake_jira.transition("OPS-1", "In Progress", "indeterminate")
    assert jira.set_state(ref, TicketState.OPEN).state is TicketState.IN_PROGRESS
    snapshot = jira.set_state(ref, TicketState.OPEN, comment="Still on it.")
    assert snapshot.raw_status == "In Progress"
    assert fake_jira.requests_to("GET", TRANSITIONS) == []
    assert len(fake_jira.issue("OPS-1")["comments"]) == 1


def test_named_transition_and_resolution_options_come_first(fake_jira: FakeJira) -> None:
    fake_jira.add_transition(
        Transition("51", "Decline", "Declined", sets_resolution="Won't Do"), category="done"
    )
    jira = make_connector(
        fake_jira, options={"wont_do_transition": "DECLINE", "done_resolution": "cannot reproduce"}
    )
    first = jira.create_ticket(OPS, make_spec())
    second = jira.create_ticket(OPS, make_spec())
    declined = jira.set_state(first, TicketState.WONT_DO)
    assert (declined.state, declined.raw_status) == (TicketState.WONT_DO, "Declined")
    done = jira.set_state(second, TicketState.DONE)
    assert done.resolution == "Cannot Reproduce"
    bodies = [r.json() for r in fake_jira.requests if r.path.endswith("/transitions") and r.body]
    assert bodies[0] == {"transition": {"id": "51"}}
    assert bodies[1]["transition"] == {"id": "31"}


def test_a_named_resolution_that_does_not_exist_falls_back_to_one_of_its_kind(
    fake_jira: FakeJira,
) -> None:
    fake_jira.workflow.resolutions = ["Fixed", "Declined"]
    jira = make_connector(
        fake_jira,
        options={"done_resolution": "Shipped", "wont_do_resolutions": ["Declined"]},
    )
    first = jira.create_ticket(OPS, make_spec())
    second = jira.create_ticket(OPS, make_spec())
    assert jira.set_state(first, TicketState.DONE).resolution == "Fixed"
    wont = jira.set_state(second, TicketState.WONT_DO)
    assert (wont.state, wont.resolution) == (TicketState.WONT_DO, "Declined")


def test_no_usable_transition_is_permanent_and_lists_what_is_on_offer(
    fake_jira: FakeJira, jira: JiraConnector
) -> None:
    fake_jira.workflow.resolutions = ["Done", "Fixed"]  # nothing says "won't do"
    ref = jira.create_ticket(OPS, make_spec())
    with pytest.raises(PermanentConnectorError) as failure:
        jira.set_state(ref, TicketState.WONT_DO, comment="Not doing this.")
    message = failure.value.message
    assert "Start Progress -> In Progress (indeterminate)" in message
    assert "Done -> Done (done)" in message
    assert "won't do" in message
    assert fake_jira.issue("OPS-1")["comments"] == []
    assert posted(fake_jira) == []


def test_a_refused_or_failed_transition_is_a_connector_error(
    fake_jira: FakeJira, jira: JiraConnector
) -> None:
    ref = jira.create_ticket(OPS, make_spec())
    fake_jira.inject(Fault("status", method="POST", path_part="/transitions", status=503))
    with pytest.raises(RetryableConnectorError):
        jira.set_state(ref, TicketState.DONE)
    fake_jira.workflow.transitions[2].resolution_screen = False  # the screen went away
    fake_jira.inject(
        Fault(
            "status",
            method="POST",
            path_part="/transitions",
            status=400,
            body={"errorMessages": [], "errors": {"resolution": "Resolution is required."}},
        )
    )
    with pytest.raises(PermanentConnectorError) as refused:
        jira.set_state(ref, TicketState.DONE)
    assert refused.value.status == 400
    assert fake_jira.issue("OPS-1")["fields"]["status"]["name"] == "To Do"


def test_find_all_by_marker_lists_every_copy_oldest_first(
    fake_jira: FakeJira, jira: JiraConnector
) -> None:
    spec = make_spec()
    jira.create_ticket(OPS, make_spec())  # another action item
    first = jira.create_ticket(OPS, spec)
    second = jira.create_ticket(OPS, spec)
    # The same millisecond would tie on `created`; the id breaks it.
    fake_jira.issue(second.external_key)["fields"]["created"] = fake_jira.issue(first.external_key)[
        "fields"
    ]["created"]
    assert jira.find_all_by_marker(OPS, spec.marker, EPOCH) == [first, second]
    assert jira.find_by_marker(OPS, spec.marker, EPOCH) == first
    assert jira.find_all_by_marker(OPS, make_spec().marker, EPOCH) == []
