"""The Jira connector through the real `jira` library over HTTP, against the fake Jira Cloud."""

from __future__ import annotations

import logging
import socket
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from jira import JIRA, JIRAError

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
from connectors.jira.connector import JiraConnector
from connectors.jira.mapping import marker_label
from tests.fake_trackers.contracts import contracts_dir
from tests.fake_trackers.jira import FakeJira
from tests.fake_trackers.jira_rules import adf_text
from tests.fake_trackers.server import LOOPBACK_EGRESS, Fault

OPS = Target(project="OPS")
CREATE = "/rest/api/3/issue"
EPOCH = datetime(2020, 1, 1, tzinfo=UTC)


def make_spec(**overrides: Any) -> TicketSpec:
    values: dict[str, Any] = {
        "title": "Add a replica lag alert",
        "description": "Replica lag reached 40 minutes before anyone noticed.\nPage on it.",
        "definition_of_done": ["Alert fires above 60 s of lag", "Runbook linked from the alert"],
        "verification": "Pause replication in staging and watch the page arrive.",
        "postmortem_url": "https://followthrough.example.com/postmortems/42",
        "marker": str(uuid.uuid4()),
        "assignee": "557058:alice",
        "due_date": date(2026, 4, 30),
        "labels": ["postmortem", "sev-2"],
    }
    values.update(overrides)
    return TicketSpec(**values)


def make_connector(fake: FakeJira, **config: Any) -> JiraConnector:
    credentials = config.pop("credentials", {"email": fake.email, "api_token": fake.api_token})
    return JiraConnector(
        ConnectorConfig(
            egress=LOOPBACK_EGRESS, base_url=fake.base_url, credentials=credentials, **config
        )
    )


@pytest.fixture
def jira(fake_jira: FakeJira) -> JiraConnector:
    return make_connector(fake_jira)


# -- credentials ---------------------------------------------------------------------------------


def test_check_credentials_with_cloud_api_token_returns_account_id(
    fake_jira: FakeJira, jira: JiraConnector
) -> None:
    assert jira.check_credentials() == fake_jira.account_id
    (request,) = fake_jira.requests_to("GET", "/rest/api/3/myself")
    assert request.headers["authorization"].startswith("Basic ")


def test_check_credentials_with_pat_sends_bearer(fake_jira: FakeJira) -> None:
    jira = make_connector(fake_jira, credentials={"pat": fake_jira.pat})
    assert jira.check_credentials() == fake_jira.account_id
    (request,) = fake_jira.requests_to("GET", "/rest/api/3/myself")
    assert request.headers["authorization"] == f"Bearer {fake_jira.pat}"


@pytest.mark.parametrize(
    "credentials",
    [{"email": "bot@example.com", "api_token": "revoked"}, {"pat": "expired-token"}],
    ids=["api-token", "pat"],
)
def test_bad_credentials_are_permanent(fake_jira: FakeJira, credentials: dict[str, str]) -> None:
    jira = make_connector(fake_jira, credentials=credentials)
    with pytest.raises(PermanentConnectorError) as caught:
        jira.check_credentials()
    assert caught.value.status == 401


def test_missing_credentials_are_permanent(fake_jira: FakeJira) -> None:
    with pytest.raises(PermanentConnectorError):
        make_connector(fake_jira, credentials={"email": "bot@example.com"})


# -- create --------------------------------------------------------------------------------------


def test_create_ticket_writes_fields_adf_description_marker_label_and_property(
    fake_jira: FakeJira, jira: JiraConnector
) -> None:
    spec = make_spec()
    ref = jira.create_ticket(OPS, spec)

    stored = fake_jira.issue("OPS-1")
    assert ref == TicketRef("OPS-1", stored["id"], f"{fake_jira.base_url}/browse/OPS-1")
    fields = stored["fields"]
    assert fields["summary"] == spec.title
    assert fields["project"]["key"] == "OPS"
    assert fields["issuetype"]["name"] == "Task"
    assert fields["assignee"]["accountId"] == "557058:alice"
    assert fields["duedate"] == "2026-04-30"
    assert fields["labels"] == ["postmortem", "sev-2", marker_label(spec.marker)]
    assert stored["properties"] == {"followthrough": {"marker": spec.marker}}

    description = fields["description"]
    assert description["type"] == "doc" and description["version"] == 1
    kinds = [node["type"] for node in description["content"]]
    assert kinds == ["paragraph", "heading", "bulletList", "heading", "paragraph", "paragraph"]
    text = adf_text(description)
    assert "Replica lag reached 40 minutes before anyone noticed.\nPage on it." in text
    assert (
        "Definition of done\nAlert fires above 60 s of lag\nRunbook linked from the alert" in text
    )
    assert "Verification\nPause replication in staging" in text
    link = description["content"][-1]["content"][-1]
    assert link["marks"] == [{"type": "link", "attrs": {"href": spec.postmortem_url}}]

    # One request: no project/issuetype lookups, no re-read, nothing the engine did not ask for.
    assert [(r.method, r.path) for r in fake_jira.requests] == [("POST", CREATE)]


def test_create_ticket_uses_target_issue_type_and_sanitises_summary_and_labels(
    fake_jira: FakeJira, jira: JiraConnector
) -> None:
    spec = make_spec(title="Rotate\nthe  keys " + "x" * 300, labels=["needs review"], assignee=None)
    jira.create_ticket(Target(project="OPS", issue_type="Bug"), spec)

    fields = fake_jira.issue("OPS-1")["fields"]
    assert fields["issuetype"]["name"] == "Bug"
    assert fields["summary"].startswith("Rotate the keys xxx") and len(fields["summary"]) == 255
    assert fields["labels"] == ["needs-review", marker_label(spec.marker)]
    assert fields["assignee"] is None


@pytest.mark.parametrize(
    ("target", "spec_overrides", "field"),
    [
        (Target(project="NOPE"), {}, "project"),
        (OPS, {"assignee": "557058:nobody"}, "assignee"),
        (Target(project="OPS", issue_type="Epic Saga"), {}, "issuetype"),
    ],
    ids=["unknown-project", "unknown-assignee", "unknown-issue-type"],
)
def test_create_rejected_field_is_permanent(
    fake_jira: FakeJira,
    jira: JiraConnector,
    target: Target,
    spec_overrides: dict[str, Any],
    field: str,
) -> None:
    with pytest.raises(PermanentConnectorError) as caught:
        jira.create_ticket(target, make_spec(**spec_overrides))
    assert caught.value.status == 400
    assert fake_jira.issues == {}
    assert len(fake_jira.requests_to("POST", CREATE)) == 1


# -- find by marker ------------------------------------------------------------------------------


def test_find_by_marker_finds_the_created_ticket_and_nothing_for_another_marker(
    fake_jira: FakeJira, jira: JiraConnector
) -> None:
    spec = make_spec()
    jira.create_ticket(OPS, make_spec())  # another action item's ticket
    ref = jira.create_ticket(OPS, spec)

    assert jira.find_by_marker(OPS, spec.marker, EPOCH) == ref
    assert jira.find_by_marker(OPS, str(uuid.uuid4()), EPOCH) is None
    searches = fake_jira.requests_to("GET", "/rest/api/3/search/jql")
    assert len(searches) == 2
    assert not fake_jira.requests_to("GET", "/rest/api/3/search")  # the removed endpoint


def test_find_by_marker_returns_the_oldest_of_duplicates(
    fake_jira: FakeJira, jira: JiraConnector, caplog: pytest.LogCaptureFixture
) -> None:
    spec = make_spec()
    first = jira.create_ticket(OPS, spec)
    jira.create_ticket(OPS, spec)

    with caplog.at_level(logging.WARNING, logger="connectors.jira"):
        assert jira.find_by_marker(OPS, spec.marker, EPOCH) == first
    assert "carry marker label" in caplog.text


# -- update --------------------------------------------------------------------------------------


def test_update_ticket_changes_content_and_keeps_marker_label(
    fake_jira: FakeJira, jira: JiraConnector
) -> None:
    spec = make_spec()
    ref = jira.create_ticket(OPS, spec)
    new_spec = make_spec(
        title="Alert on replica lag",
        definition_of_done=["Alert at 30 s"],
        marker=spec.marker,
    )

    jira.update_ticket(
        ref,
        TicketChanges(
            spec=new_spec, assignee="557058:bob", due_date=date(2026, 5, 15), labels=["sev-1"]
        ),
    )

    fields = fake_jira.issue("OPS-1")["fields"]
    assert fields["summary"] == "Alert on replica lag"
    assert "Definition of done\nAlert at 30 s" in adf_text(fields["description"])
    assert fields["assignee"]["accountId"] == "557058:bob"
    assert fields["duedate"] == "2026-05-15"
    assert fields["labels"] == ["sev-1", marker_label(spec.marker)]
    (put,) = fake_jira.requests_to("PUT", f"/rest/api/3/issue/{ref.external_id}")
    assert put.json()["fields"]["description"]["type"] == "doc"


def test_update_labels_alone_keeps_the_marker_label_from_the_issue(
    fake_jira: FakeJira, jira: JiraConnector
) -> None:
    spec = make_spec()
    ref = jira.create_ticket(OPS, spec)

    jira.update_ticket(ref, TicketChanges(labels=[]))

    assert fake_jira.issue("OPS-1")["fields"]["labels"] == [marker_label(spec.marker)]


def test_update_title_and_clear_assignee(fake_jira: FakeJira, jira: JiraConnector) -> None:
    ref = jira.create_ticket(OPS, make_spec())

    jira.update_ticket(ref, TicketChanges(title="Renamed", clear_assignee=True))

    fields = fake_jira.issue("OPS-1")["fields"]
    assert fields["summary"] == "Renamed"
    assert fields["assignee"] is None
    assert fields["duedate"] == "2026-04-30"  # untouched


def test_update_without_changes_sends_nothing(fake_jira: FakeJira, jira: JiraConnector) -> None:
    ref = jira.create_ticket(OPS, make_spec())
    before = len(fake_jira.requests)

    jira.update_ticket(ref, TicketChanges())

    assert len(fake_jira.requests) == before


def test_update_with_unknown_assignee_is_permanent(
    fake_jira: FakeJira, jira: JiraConnector
) -> None:
    ref = jira.create_ticket(OPS, make_spec())
    with pytest.raises(PermanentConnectorError) as caught:
        jira.update_ticket(ref, TicketChanges(assignee="557058:nobody"))
    assert caught.value.status == 400


# -- fetch state ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "category", "resolution", "state"),
    [
        (None, None, None, TicketState.OPEN),
        ("In Progress", "indeterminate", None, TicketState.IN_PROGRESS),
        ("Done", "done", "Done", TicketState.DONE),
        ("Done", "done", "Won't Do", TicketState.WONT_DO),
        ("Closed", "done", "Duplicate", TicketState.WONT_DO),
        ("Shipped", "done", "Fixed", TicketState.DONE),
    ],
    ids=["new", "indeterminate", "done", "wont-do", "duplicate", "renamed-done-status"],
)
def test_fetch_state_maps_status_category_and_resolution(
    fake_jira: FakeJira,
    jira: JiraConnector,
    status: str | None,
    category: str | None,
    resolution: str | None,
    state: TicketState,
) -> None:
    ref = jira.create_ticket(OPS, make_spec())
    if status is not None and category is not None:
        fake_jira.transition("OPS-1", status, category, resolution)

    snapshot = jira.fetch_state(ref)

    assert snapshot.state is state
    assert snapshot.raw_status == (status or "To Do")
    assert snapshot.resolution == resolution


def test_fetch_state_done_without_resolution_is_done_and_warns(
    fake_jira: FakeJira, jira: JiraConnector, caplog: pytest.LogCaptureFixture
) -> None:
    ref = jira.create_ticket(OPS, make_spec())
    fake_jira.transition("OPS-1", "Closed", "done", None)

    with caplog.at_level(logging.WARNING, logger="connectors.jira"):
        snapshot = jira.fetch_state(ref)

    assert snapshot.state is TicketState.DONE
    assert snapshot.resolution is None
    assert "without a resolution" in caplog.text


def test_fetch_state_uses_the_configured_wont_do_resolutions(fake_jira: FakeJira) -> None:
    jira = make_connector(fake_jira, options={"wont_do_resolutions": ["Obsolete"]})
    ref = jira.create_ticket(OPS, make_spec())

    fake_jira.transition("OPS-1", "Done", "done", "Obsolete")
    assert jira.fetch_state(ref).state is TicketState.WONT_DO
    fake_jira.transition("OPS-1", "Done", "done", "Won't Do")
    assert jira.fetch_state(ref).state is TicketState.DONE


def test_fetch_state_reports_assignee_due_date_labels_and_update_time(
    fake_jira: FakeJira, jira: JiraConnector
) -> None:
    spec = make_spec()
    ref = jira.create_ticket(OPS, spec)

    snapshot = jira.fetch_state(ref)

    assert snapshot.ref == ref
    assert snapshot.assignee == "557058:alice"
    assert snapshot.due_date == date(2026, 4, 30)
    assert set(snapshot.labels) == {"postmortem", "sev-2", marker_label(spec.marker)}
    assert snapshot.updated_at.tzinfo is not None
    assert abs(datetime.now(UTC) - snapshot.updated_at) < timedelta(minutes=1)


def test_fetch_state_of_a_deleted_issue_is_permanent_404(
    fake_jira: FakeJira, jira: JiraConnector
) -> None:
    ref = jira.create_ticket(OPS, make_spec())
    del fake_jira.issues["OPS-1"]

    with pytest.raises(PermanentConnectorError) as caught:
        jira.fetch_state(ref)
    assert caught.value.status == 404


# -- comment and resolve_ref ---------------------------------------------------------------------


def test_comment_posts_an_adf_body(fake_jira: FakeJira, jira: JiraConnector) -> None:
    ref = jira.create_ticket(OPS, make_spec())

    jira.comment(ref, "Verified by the owner.\n\nSee https://followthrough.example.com/a/7.")

    (comment,) = fake_jira.issue("OPS-1")["comments"]
    assert comment["body"]["type"] == "doc"
    assert adf_text(comment["body"]) == (
        "Verified by the owner.\nSee https://followthrough.example.com/a/7."
    )
    link = comment["body"]["content"][1]["content"][1]
    assert link["marks"][0]["attrs"]["href"] == "https://followthrough.example.com/a/7"


@pytest.mark.parametrize(
    "given",
    [
        "OPS-1",
        "ops-1",
        "{base}/browse/OPS-1",
        "{base}/browse/OPS-1?focusedCommentId=10",
        "{base}/jira/software/projects/OPS/boards/1?selectedIssue=OPS-1",
    ],
    ids=["key", "lowercase-key", "browse-url", "browse-url-with-query", "board-url"],
)
def test_resolve_ref_by_key_or_url(fake_jira: FakeJira, jira: JiraConnector, given: str) -> None:
    created = jira.create_ticket(OPS, make_spec())

    assert jira.resolve_ref(given.format(base=fake_jira.base_url)) == created
    assert fake_jira.requests_to("GET", "/rest/api/3/issue/OPS-1")  # confirmed with the tracker


@pytest.mark.parametrize(
    ("given", "status"),
    [
        ("OPS-999", 404),
        ("https://other-site.atlassian.net/browse/OPS-1", None),
        ("not a ticket", None),
    ],
    ids=["unknown-key", "other-site", "garbage"],
)
def test_resolve_ref_refuses_what_is_not_an_issue_here(
    fake_jira: FakeJira, jira: JiraConnector, given: str, status: int | None
) -> None:
    jira.create_ticket(OPS, make_spec())
    with pytest.raises(PermanentConnectorError) as caught:
        jira.resolve_ref(given)
    assert caught.value.status == status


# -- faults: sent once, classified, recoverable by marker ------------------------------------------


@pytest.mark.parametrize(
    ("status", "headers", "retry_after"),
    [
        (500, {}, None),
        (503, {}, None),
        # The library itself would resend this one (503 with Retry-After) if retries were on.
        (503, {"Retry-After": "3"}, 3.0),
        (429, {"Retry-After": "7", "RateLimit-Reason": "jira-burst-based"}, 7.0),
    ],
    ids=["500", "503", "503-retry-after", "429-retry-after"],
)
def test_create_failure_is_retryable_and_sent_once(
    fake_jira: FakeJira,
    jira: JiraConnector,
    status: int,
    headers: dict[str, str],
    retry_after: float | None,
) -> None:
    fake_jira.inject(
        Fault(
            kind="status",
            method="POST",
            path_part=CREATE,
            status=status,
            headers=headers,
            body={"errorMessages": ["Try again later"], "errors": {}},
        )
    )
    started = time.monotonic()

    with pytest.raises(RetryableConnectorError) as caught:
        jira.create_ticket(OPS, make_spec())

    assert caught.value.status == status
    assert caught.value.retry_after == retry_after
    assert len(fake_jira.requests_to("POST", CREATE)) == 1
    assert time.monotonic() - started < 1.0  # and no library back-off sleep
    assert fake_jira.issues == {}


@pytest.mark.parametrize(
    "body", [b"<html>Down for maintenance</html>", {"message": "created"}], ids=["html", "no-key"]
)
def test_create_answer_that_is_not_an_issue_is_retryable(
    fake_jira: FakeJira, jira: JiraConnector, body: Any
) -> None:
    """A 2xx without an issue in it leaves the outcome unknown: the caller must look it up."""
    fake_jira.inject(Fault(kind="status", method="POST", path_part=CREATE, status=201, body=body))

    with pytest.raises(RetryableConnectorError):
        jira.create_ticket(OPS, make_spec())

    assert len(fake_jira.requests_to("POST", CREATE)) == 1


def test_rate_limited_read_is_retryable_with_retry_after(
    fake_jira: FakeJira, jira: JiraConnector
) -> None:
    ref = jira.create_ticket(OPS, make_spec())
    fake_jira.inject(
        Fault(
            kind="status",
            method="GET",
            path_part="/issue/",
            status=429,
            headers={"Retry-After": "12"},
        )
    )

    with pytest.raises(RetryableConnectorError) as caught:
        jira.fetch_state(ref)

    assert caught.value.retry_after == 12.0
    assert len(fake_jira.requests_to("GET", f"/rest/api/3/issue/{ref.external_id}")) == 1


def test_slow_create_times_out_quickly_as_retryable(fake_jira: FakeJira) -> None:
    jira = make_connector(fake_jira, timeout=0.5)
    spec = make_spec()
    fake_jira.inject(Fault(kind="slow", method="POST", path_part=CREATE, delay=2.0))
    started = time.monotonic()

    with pytest.raises(RetryableConnectorError):
        jira.create_ticket(OPS, spec)

    assert time.monotonic() - started < 1.5
    assert len(fake_jira.requests_to("POST", CREATE)) == 1
    # The server still finishes the create after we gave up; the marker then finds it.
    deadline = time.monotonic() + 5
    while not fake_jira.issues and time.monotonic() < deadline:
        time.sleep(0.05)
    found = jira.find_by_marker(OPS, spec.marker, EPOCH)
    assert found is not None and found.external_key == "OPS-1"


def test_lost_create_answer_is_retryable_and_the_marker_finds_the_one_issue(
    fake_jira: FakeJira, jira: JiraConnector
) -> None:
    spec = make_spec()
    fake_jira.inject(Fault(kind="drop", method="POST", path_part=CREATE))

    with pytest.raises(RetryableConnectorError):
        jira.create_ticket(OPS, spec)

    assert len(fake_jira.requests_to("POST", CREATE)) == 1
    (created,) = fake_jira.issues.values()
    found = jira.find_by_marker(OPS, spec.marker, EPOCH)
    assert found is not None
    assert (found.external_key, found.external_id) == (created["key"], created["id"])


def test_unreachable_server_is_retryable() -> None:
    with socket.socket() as sock:  # a port nobody listens on once closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    jira = JiraConnector(
        ConnectorConfig(
            egress=LOOPBACK_EGRESS,
            base_url=f"http://127.0.0.1:{port}",
            credentials={"pat": "x"},
            timeout=2,
        )
    )
    with pytest.raises(RetryableConnectorError):
        jira.check_credentials()


# -- the fake itself -----------------------------------------------------------------------------


def test_fake_jira_refuses_a_plain_text_comment_as_real_jira_cloud_does() -> None:
    """The published spec accepts a string comment body; Jira Cloud v3 does not, nor does the fake."""
    contracts_dir()
    fake = FakeJira().start()
    try:
        client = JIRA(
            server=fake.base_url,
            basic_auth=(fake.email, fake.api_token),
            options={"rest_api_version": "3"},
            get_server_info=False,
            max_retries=0,
            timeout=5,
        )
        created = make_connector(fake).create_ticket(OPS, make_spec())
        with pytest.raises(JIRAError) as caught:
            client.add_comment(created.external_key, "plain text")
    finally:
        fake.stop()
    assert caught.value.status_code == 400
    assert any("Atlassian Document" in v for v in fake.violations)
    assert fake.issue(created.external_key)["comments"] == []
