"""The Linear connector over real HTTP (httpx) against a fake Linear that checks every document and
its variables against Linear's published schema and answers only the fields a document selects."""

from __future__ import annotations

import email.utils
import socket
import time
import uuid
from datetime import UTC, date, datetime
from typing import Any

import httpx
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
from connectors.linear.connector import LinearConnector
from tests.fake_trackers.linear import API_KEY, OAUTH_TOKEN, TEAM_ID, FakeLinear
from tests.fake_trackers.server import LOOPBACK_EGRESS, Fault

TARGET = Target(project=TEAM_ID)
CREDS = {"api_key": API_KEY}
# A well-formed answer to the connector's issue query, to spoil one field at a time.
ISSUE_ANSWER: dict[str, Any] = {
    "id": "x",
    "identifier": "ENG-1",
    "url": "https://linear.app/acme/issue/ENG-1/x",
    "updatedAt": "2026-05-01T10:00:00.000Z",
    "dueDate": None,
    "trashed": None,
    "assignee": None,
    "labels": {"nodes": []},
    "state": {"name": "Todo", "type": "unstarted"},
}
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


def connector(fake: FakeLinear, timeout: float = 5, **credentials: str) -> LinearConnector:
    creds = credentials or {"api_key": API_KEY}
    return LinearConnector(
        ConnectorConfig(
            egress=LOOPBACK_EGRESS, base_url=fake.base_url, credentials=creds, timeout=timeout
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
        "assignee": "user-alice",
        "due_date": date(2026, 12, 1),
        "labels": ["postmortem"],
        "priority": "high",
    }
    values.update(overrides)
    return TicketSpec(**values)  # type: ignore[arg-type]


def sent(fake: FakeLinear, root: str) -> list[dict[str, Any]]:
    """The variables of every request whose document names `root`."""
    bodies = [r.json() for r in fake.requests]
    return [b.get("variables") or {} for b in bodies if f"{root}(" in b["query"]]


# -- credentials ---------------------------------------------------------------------------


def test_credentials_api_key_bare_and_oauth_bearer(fake_linear: FakeLinear) -> None:
    assert connector(fake_linear).check_credentials() == "Followthrough Bot"
    assert fake_linear.requests[-1].headers["authorization"] == API_KEY
    assert fake_linear.requests[-1].path == "/graphql"
    assert (
        connector(fake_linear, oauth_token=OAUTH_TOKEN).check_credentials() == "Followthrough Bot"
    )
    assert fake_linear.requests[-1].headers["authorization"] == f"Bearer {OAUTH_TOKEN}"


@pytest.mark.parametrize(
    "credentials",
    [{"api_key": "wrong"}, {"oauth_token": "wrong"}, {"oauth_token": API_KEY}],
)
def test_bad_credentials_are_permanent(
    fake_linear: FakeLinear, credentials: dict[str, str]
) -> None:
    with pytest.raises(PermanentConnectorError) as failure:
        connector(fake_linear, 5, **credentials).check_credentials()
    assert "AUTHENTICATION_ERROR" in failure.value.message
    assert len(fake_linear.requests) == 1


@pytest.mark.parametrize("credentials", [{}, {"api_key": "  "}, {"api_key": "lin_api_é"}])
def test_unusable_credentials_are_permanent(
    fake_linear: FakeLinear, credentials: dict[str, str]
) -> None:
    with pytest.raises(PermanentConnectorError):
        LinearConnector(
            ConnectorConfig(
                egress=LOOPBACK_EGRESS, base_url=fake_linear.base_url, credentials=credentials
            )
        )
    assert fake_linear.requests == []


def test_pasted_whitespace_around_the_key_is_dropped(fake_linear: FakeLinear) -> None:
    assert connector(fake_linear, api_key=f" {API_KEY}\n").check_credentials()
    assert fake_linear.requests[-1].headers["authorization"] == API_KEY


def test_a_base_url_that_is_not_http_is_permanent() -> None:
    with pytest.raises(PermanentConnectorError):
        LinearConnector(
            ConnectorConfig(
                egress=LOOPBACK_EGRESS, base_url="ftp://linear.example", credentials=CREDS
            )
        ).check_credentials()


# -- create --------------------------------------------------------------------------------


def test_create_uses_our_id_and_writes_everything(fake_linear: FakeLinear) -> None:
    s = spec()
    ref = connector(fake_linear).create_ticket(TARGET, s)
    assert ref == TicketRef(
        external_key="ENG-1",
        external_id=s.marker,
        url="https://linear.app/acme/issue/ENG-1/x",
    )
    [create] = sent(fake_linear, "issueCreate")
    assert create["input"]["id"] == s.marker
    issue = fake_linear.issues[s.marker]
    assert issue["title"] == s.title
    assert issue["team"]["id"] == TEAM_ID
    assert issue["assignee"] == {"id": "user-alice"}
    assert issue["dueDate"] == "2026-12-01"
    assert issue["priority"] == 2
    assert [label["name"] for label in issue["labels"]["nodes"]] == ["postmortem"]
    description = issue["description"]
    for expected in (
        "Config pushes skipped the canary.",
        "## Definition of done",
        "- [ ] Deploys halt above 1% 5xx",
        "- [ ] Runbook updated",
        "## Verification",
        "Game day in staging",
        s.postmortem_url,
    ):
        assert expected in description
    # The missing label was created on the target team.
    [label] = fake_linear.labels.values()
    assert (label["name"], label["team"]["id"]) == ("postmortem", TEAM_ID)


def test_labels_are_reused_not_duplicated(fake_linear: FakeLinear) -> None:
    workspace = fake_linear.add_label("security", team_id=None)
    c = connector(fake_linear)
    c.create_ticket(TARGET, spec(labels=["postmortem"]))
    ref = c.create_ticket(TARGET, spec(labels=["postmortem", "security", " postmortem "]))
    assert len(sent(fake_linear, "issueLabelCreate")) == 1
    assert len(fake_linear.labels) == 2
    names = [label["name"] for label in fake_linear.issues[ref.external_id]["labels"]["nodes"]]
    assert names == ["postmortem", "security"]
    assert fake_linear.issues[ref.external_id]["labels"]["nodes"][1]["id"] == workspace["id"]


@pytest.mark.parametrize("owner", [TEAM_ID, None], ids=["team label", "workspace label"])
def test_labels_are_matched_ignoring_case(fake_linear: FakeLinear, owner: str | None) -> None:
    existing = fake_linear.add_label("Postmortem", team_id=owner)
    ref = connector(fake_linear).create_ticket(TARGET, spec(labels=["postmortem", "POSTMORTEM"]))
    assert sent(fake_linear, "issueLabelCreate") == []
    assert [label["id"] for label in fake_linear.issues[ref.external_id]["labels"]["nodes"]] == [
        existing["id"]
    ]


def test_a_label_created_meanwhile_by_someone_else_is_used(fake_linear: FakeLinear) -> None:
    # Our lookup sees no label; by the time we create it, another worker has.
    fake_linear.inject(
        Fault("status", method="POST", status=200, body={"data": {"issueLabels": {"nodes": []}}})
    )
    theirs = fake_linear.add_label("postmortem")
    ref = connector(fake_linear).create_ticket(TARGET, spec())
    assert len(sent(fake_linear, "issueLabelCreate")) == 1  # refused as a duplicate
    [label] = fake_linear.issues[ref.external_id]["labels"]["nodes"]
    assert label["id"] == theirs["id"]
    assert len(fake_linear.labels) == 1


def test_another_teams_label_is_not_borrowed(fake_linear: FakeLinear) -> None:
    fake_linear.teams["other-team"] = {"id": "other-team", "key": "OPS", "name": "Ops"}
    theirs = fake_linear.add_label("postmortem", team_id="other-team")
    ref = connector(fake_linear).create_ticket(TARGET, spec())
    [label] = fake_linear.issues[ref.external_id]["labels"]["nodes"]
    assert label["id"] != theirs["id"] and label["team"]["id"] == TEAM_ID


def test_create_without_optional_fields(fake_linear: FakeLinear) -> None:
    s = spec(assignee=None, due_date=None, labels=(), priority=None)
    connector(fake_linear).create_ticket(TARGET, s)
    [create] = sent(fake_linear, "issueCreate")
    assert set(create["input"]) == {"id", "teamId", "title", "description"}
    assert sent(fake_linear, "issueLabels") == []


def test_a_second_create_with_the_same_id_answers_the_first_issue(fake_linear: FakeLinear) -> None:
    c = connector(fake_linear)
    s = spec(labels=())
    first = c.create_ticket(TARGET, s)
    assert c.create_ticket(TARGET, s) == first
    assert list(fake_linear.issues) == [s.marker]
    assert len(sent(fake_linear, "issueCreate")) == 2


def test_a_refused_create_with_nothing_behind_it_stays_refused(fake_linear: FakeLinear) -> None:
    with pytest.raises(PermanentConnectorError, match="INVALID_INPUT"):
        connector(fake_linear).create_ticket(TARGET, spec(labels=(), marker="not-a-uuid"))
    assert fake_linear.issues == {}


def test_unknown_team_is_permanent(fake_linear: FakeLinear) -> None:
    with pytest.raises(PermanentConnectorError):
        connector(fake_linear).create_ticket(Target(project="no-such-team"), spec(labels=()))
    assert fake_linear.issues == {}


# -- find, update, state, comment, refs ----------------------------------------------------


def test_find_by_marker_is_certain(fake_linear: FakeLinear) -> None:
    c = connector(fake_linear)
    s = spec()
    ref = c.create_ticket(TARGET, s)
    assert c.find_by_marker(TARGET, s.marker, EPOCH) == ref
    assert c.find_by_marker(TARGET, str(uuid.uuid4()), EPOCH) is None


def test_update_sends_only_what_changed_and_never_the_state(fake_linear: FakeLinear) -> None:
    c = connector(fake_linear)
    ref = c.create_ticket(TARGET, spec())
    fake_linear.set_state(ref.external_id, "In Progress", "started")
    c.update_ticket(
        ref,
        TicketChanges(
            spec=spec(title="New title", definition_of_done=["Alert fires"]),
            assignee="user-bob",
            due_date=date(2027, 1, 2),
        ),
    )
    issue = fake_linear.issues[ref.external_id]
    assert (issue["title"], issue["dueDate"]) == ("New title", "2027-01-02")
    assert issue["assignee"] == {"id": "user-bob"}
    assert "- [ ] Alert fires" in issue["description"]
    assert issue["state"]["type"] == "started"
    [update] = sent(fake_linear, "issueUpdate")
    assert update["id"] == ref.external_id
    assert set(update["input"]) == {"title", "description", "assigneeId", "dueDate"}

    c.update_ticket(ref, TicketChanges(title="Shorter", clear_assignee=True))
    assert (issue["title"], issue["assignee"]) == ("Shorter", None)
    assert issue["dueDate"] == "2027-01-02"

    before = len(fake_linear.requests)
    c.update_ticket(ref, TicketChanges())
    assert len(fake_linear.requests) == before


def test_update_labels(fake_linear: FakeLinear) -> None:
    c = connector(fake_linear)
    ref = c.create_ticket(TARGET, spec())
    c.update_ticket(ref, TicketChanges(labels=["postmortem", "reliability"]))
    names = [label["name"] for label in fake_linear.issues[ref.external_id]["labels"]["nodes"]]
    assert names == ["postmortem", "reliability"]
    c.update_ticket(ref, TicketChanges(labels=[]))
    assert fake_linear.issues[ref.external_id]["labels"]["nodes"] == []


@pytest.mark.parametrize(
    ("state_type", "name", "expected"),
    [
        ("triage", "Triage", TicketState.OPEN),
        ("backlog", "Backlog", TicketState.OPEN),
        ("unstarted", "Todo", TicketState.OPEN),
        ("started", "In Review", TicketState.IN_PROGRESS),
        ("completed", "Shipped", TicketState.DONE),
        ("canceled", "Canceled", TicketState.WONT_DO),
        ("duplicate", "Duplicate", TicketState.WONT_DO),
    ],
)
def test_fetch_state(
    fake_linear: FakeLinear, state_type: str, name: str, expected: TicketState
) -> None:
    c = connector(fake_linear)
    ref = c.create_ticket(TARGET, spec())
    fake_linear.set_state(ref.external_id, name, state_type)
    snapshot = c.fetch_state(ref)
    assert snapshot.ref == ref
    assert (snapshot.state, snapshot.raw_status) == (expected, name)
    assert (snapshot.assignee, snapshot.due_date, list(snapshot.labels)) == (
        "user-alice",
        date(2026, 12, 1),
        ["postmortem"],
    )
    assert snapshot.updated_at.tzinfo is not None


def test_fetch_state_of_a_deleted_issue_is_permanent(fake_linear: FakeLinear) -> None:
    c = connector(fake_linear)
    ref = c.create_ticket(TARGET, spec(labels=()))
    del fake_linear.issues[ref.external_id]
    with pytest.raises(PermanentConnectorError):
        c.fetch_state(ref)


def test_fetch_states_in_one_query(fake_linear: FakeLinear) -> None:
    c = connector(fake_linear)
    refs = [c.create_ticket(TARGET, spec(labels=())) for _ in range(3)]
    fake_linear.set_state(refs[1].external_id, "Done", "completed")
    gone = TicketRef("ENG-99", str(uuid.uuid4()), "https://linear.app/acme/issue/ENG-99/x")
    before = len(fake_linear.requests)
    states = c.fetch_states([*refs, gone], {})
    assert len(fake_linear.requests) - before == 1
    assert set(states) == {ref.external_key for ref in refs}
    assert states[refs[1].external_key].state is TicketState.DONE  # type: ignore[union-attr]


def test_fetch_states_reads_archived_issues_and_leaves_deleted_ones_out(
    fake_linear: FakeLinear,
) -> None:
    c = connector(fake_linear)
    closed, deleted = (c.create_ticket(TARGET, spec(labels=())) for _ in range(2))
    fake_linear.set_state(closed.external_id, "Done", "completed")
    fake_linear.archive(closed.external_id)  # Linear's auto-archive of old closed issues
    fake_linear.trash(deleted.external_id)
    states = c.fetch_states([closed, deleted], {})
    assert set(states) == {closed.external_key}
    assert states[closed.external_key].state is TicketState.DONE  # type: ignore[union-attr]
    assert c.fetch_state(closed).state is TicketState.DONE
    with pytest.raises(PermanentConnectorError):
        c.fetch_state(deleted)
    # Its id stays taken, so a lost create's lookup still finds it.
    assert c.find_by_marker(TARGET, deleted.external_id, EPOCH) == deleted


def test_fetch_states_keys_a_moved_issue_by_the_key_asked_for(fake_linear: FakeLinear) -> None:
    c = connector(fake_linear)
    ref = c.create_ticket(TARGET, spec(labels=()))
    fake_linear.teams["team-ops"] = {"id": "team-ops", "key": "OPS", "name": "Ops"}
    moved = fake_linear.move(ref.external_id, "team-ops")
    states = c.fetch_states([ref], {})
    assert set(states) == {ref.external_key}
    new_ref = states[ref.external_key].ref  # type: ignore[union-attr]
    assert (new_ref.external_key, new_ref.external_id) == (moved["identifier"], ref.external_id)


def test_fetch_states_of_a_ref_known_by_key_only(fake_linear: FakeLinear) -> None:
    c = connector(fake_linear)
    ref = c.create_ticket(TARGET, spec(labels=()))
    by_key = TicketRef(ref.external_key, "", ref.url)
    gone = TicketRef("ENG-404", "", "")
    states = c.fetch_states([by_key, gone], {})
    assert set(states) == {ref.external_key}
    assert states[ref.external_key].ref == ref  # type: ignore[union-attr]


def test_comment(fake_linear: FakeLinear) -> None:
    c = connector(fake_linear)
    ref = c.create_ticket(TARGET, spec())
    c.comment(ref, "Verified in **staging**")
    assert fake_linear.comments == [{"issueId": ref.external_id, "body": "Verified in **staging**"}]


def test_resolve_ref(fake_linear: FakeLinear) -> None:
    c = connector(fake_linear)
    ref = c.create_ticket(TARGET, spec())
    assert c.resolve_ref("ENG-1") == ref
    assert c.resolve_ref("eng-1") == ref
    assert c.resolve_ref("https://linear.app/acme/issue/ENG-1/gate-deploys") == ref
    assert c.resolve_ref("https://linear.app/acme/issue/ENG-1") == ref
    with pytest.raises(PermanentConnectorError):
        c.resolve_ref("ENG-99")
    with pytest.raises(PermanentConnectorError):
        c.resolve_ref("https://example.com/nothing")


def test_register_webhook(fake_linear: FakeLinear) -> None:
    hook_id = connector(fake_linear).register_webhook(TARGET, "https://ft.example/hooks", "s3cret")
    [hook] = fake_linear.webhooks
    assert hook["id"] == hook_id
    assert (hook["teamId"], hook["secret"]) == (TEAM_ID, "s3cret")
    assert set(hook["resourceTypes"]) == {"Issue", "Comment"}


# -- failures ------------------------------------------------------------------------------


def test_server_error_is_retryable_and_sent_once(fake_linear: FakeLinear) -> None:
    fake_linear.inject(
        Fault("status", method="POST", status=500, body={"errors": [{"message": "boom"}]})
    )
    with pytest.raises(RetryableConnectorError) as failure:
        connector(fake_linear).create_ticket(TARGET, spec(labels=()))
    assert failure.value.status == 500
    assert len(fake_linear.requests) == 1
    assert fake_linear.issues == {}


def test_bad_gateway_without_json_is_retryable(fake_linear: FakeLinear) -> None:
    fake_linear.inject(Fault("status", method="POST", status=502, body=b"<html>bad gateway"))
    with pytest.raises(RetryableConnectorError):
        connector(fake_linear).check_credentials()


def test_forbidden_without_json_is_permanent(fake_linear: FakeLinear) -> None:
    fake_linear.inject(Fault("status", method="POST", status=403, body=b"<html>forbidden"))
    with pytest.raises(PermanentConnectorError):
        connector(fake_linear).check_credentials()


def test_http_429_retry_after(fake_linear: FakeLinear) -> None:
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
    assert failure.value.status == 429


def test_ratelimited_error_on_http_200_is_retryable(fake_linear: FakeLinear) -> None:
    fake_linear.inject(
        Fault(
            "status",
            method="POST",
            status=200,
            headers={"Retry-After": "3"},
            body={
                "data": None,
                "errors": [
                    {"message": "Rate limit exceeded", "extensions": {"code": "RATELIMITED"}}
                ],
            },
        )
    )
    with pytest.raises(RetryableConnectorError) as failure:
        connector(fake_linear).check_credentials()
    assert failure.value.retry_after == 3


def test_ratelimited_error_uses_the_request_budget_reset(fake_linear: FakeLinear) -> None:
    reset_ms = int((time.time() + 30) * 1000)
    fake_linear.inject(
        Fault(
            "status",
            method="POST",
            status=400,
            headers={"X-RateLimit-Requests-Reset": str(reset_ms)},
            body={"errors": [{"message": "Rate limited", "extensions": {"code": "RATELIMITED"}}]},
        )
    )
    with pytest.raises(RetryableConnectorError) as failure:
        connector(fake_linear).check_credentials()
    assert failure.value.retry_after is not None and 25 <= failure.value.retry_after <= 30


def test_ratelimited_by_error_type_alone_is_retryable(fake_linear: FakeLinear) -> None:
    # Linear's SDK classifies by `extensions.type`; an answer may carry no `code`.
    fake_linear.inject(
        Fault(
            "status",
            method="POST",
            status=400,
            headers={"Retry-After": "2"},
            body={"errors": [{"message": "Rate limited", "extensions": {"type": "ratelimited"}}]},
        )
    )
    with pytest.raises(RetryableConnectorError) as failure:
        connector(fake_linear).check_credentials()
    assert failure.value.retry_after == 2


def test_the_exhausted_budget_decides_the_wait(fake_linear: FakeLinear) -> None:
    now = time.time()
    fake_linear.inject(
        Fault(
            "status",
            method="POST",
            status=400,
            headers={
                "X-RateLimit-Requests-Remaining": "812",
                "X-RateLimit-Requests-Reset": str(int((now + 5) * 1000)),
                "X-RateLimit-Complexity-Remaining": "0",
                "X-RateLimit-Complexity-Reset": str(int((now + 40) * 1000)),
            },
            body={"errors": [{"message": "Rate limited", "extensions": {"code": "RATELIMITED"}}]},
        )
    )
    with pytest.raises(RetryableConnectorError) as failure:
        connector(fake_linear).check_credentials()
    assert failure.value.retry_after is not None and 35 <= failure.value.retry_after <= 40


def test_retry_after_as_an_http_date(fake_linear: FakeLinear) -> None:
    when = email.utils.formatdate(time.time() + 60, usegmt=True)
    fake_linear.inject(Fault("status", method="POST", status=429, headers={"Retry-After": when}))
    with pytest.raises(RetryableConnectorError) as failure:
        connector(fake_linear).check_credentials()
    assert failure.value.retry_after is not None and 55 <= failure.value.retry_after <= 60


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (
            {"message": "Lock timeout", "extensions": {"type": "lock timeout"}},
            RetryableConnectorError,
        ),
        ({"message": "Forbidden", "extensions": {"code": "FORBIDDEN"}}, PermanentConnectorError),
    ],
)
def test_graphql_errors_on_http_200_are_retryable_only_when_linear_is_at_fault(
    fake_linear: FakeLinear, error: dict[str, Any], expected: type[Exception]
) -> None:
    body = {"data": None, "errors": [error]}
    fake_linear.inject(Fault("status", method="POST", status=200, body=body))
    with pytest.raises(expected):
        connector(fake_linear).check_credentials()


def test_a_redirect_is_permanent_and_not_followed(fake_linear: FakeLinear) -> None:
    fake_linear.inject(
        Fault("status", method="POST", status=301, headers={"Location": "https://elsewhere/"})
    )
    with pytest.raises(PermanentConnectorError) as failure:
        connector(fake_linear).check_credentials()
    assert failure.value.status == 301
    assert len(fake_linear.requests) == 1


@pytest.mark.parametrize(
    "body",
    [
        {"data": {"issue": "not an issue"}},
        {"data": {"issue": {**ISSUE_ANSWER, "updatedAt": "soon"}}},
        {"data": {"issue": {**ISSUE_ANSWER, "dueDate": "someday"}}},
        {"data": {"issue": {**ISSUE_ANSWER, "assignee": ["x"]}}},
        {"errors": [{"message": "odd", "extensions": "not an object"}]},
        {"errors": "just a string"},
    ],
)
def test_answers_that_make_no_sense_are_connector_errors(
    fake_linear: FakeLinear, body: dict[str, Any]
) -> None:
    ref = TicketRef("ENG-1", str(uuid.uuid4()), "https://linear.app/acme/issue/ENG-1/x")
    fake_linear.inject(Fault("status", method="POST", status=200, body=body))
    with pytest.raises(PermanentConnectorError):
        connector(fake_linear).fetch_state(ref)


def test_slow_answers_time_out_as_retryable(fake_linear: FakeLinear) -> None:
    fake_linear.inject(Fault("slow", method="POST", delay=2))
    started = time.monotonic()
    with pytest.raises(RetryableConnectorError):
        connector(fake_linear, timeout=0.5).check_credentials()
    assert time.monotonic() - started < 1.5


def test_unreachable_is_retryable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    c = LinearConnector(
        ConnectorConfig(
            egress=LOOPBACK_EGRESS, base_url=f"http://127.0.0.1:{port}", credentials=CREDS
        )
    )
    with pytest.raises(RetryableConnectorError):
        c.check_credentials()


def test_lost_create_answer_is_found_for_certain(fake_linear: FakeLinear) -> None:
    c = connector(fake_linear)
    s = spec(labels=())
    fake_linear.inject(Fault("drop", method="POST"))
    with pytest.raises(RetryableConnectorError):
        c.create_ticket(TARGET, s)
    found = c.find_by_marker(TARGET, s.marker, EPOCH)
    assert found is not None and found.external_id == s.marker
    assert list(fake_linear.issues) == [s.marker]
    assert len(sent(fake_linear, "issueCreate")) == 1


def test_create_answer_without_the_issue_is_retryable(fake_linear: FakeLinear) -> None:
    fake_linear.inject(
        Fault(
            "status",
            method="POST",
            status=200,
            body={"data": {"issueCreate": {"success": False, "issue": None}}},
        )
    )
    with pytest.raises(RetryableConnectorError):
        connector(fake_linear).create_ticket(TARGET, spec(labels=()))


# -- the fake itself -----------------------------------------------------------------------


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

    bad_variables = httpx.post(
        f"{fake_linear.base_url}/graphql",
        json={
            "query": "mutation M($input: IssueCreateInput!) { issueCreate(input: $input) { success } }",
            "variables": {"input": {"title": "no team"}},
        },
        headers={"Authorization": API_KEY},
        timeout=5,
    )
    assert bad_variables.status_code == 400
    assert any("teamId" in v for v in fake_linear.violations)
    fake_linear.violations.clear()


def test_the_fake_answers_only_what_was_selected(fake_linear: FakeLinear) -> None:
    ref = connector(fake_linear).create_ticket(TARGET, spec())
    answer = httpx.post(
        f"{fake_linear.base_url}/graphql",
        json={
            "query": 'query { issue(id: "ENG-1") { key: identifier state { type } } }',
        },
        headers={"Authorization": f"Bearer {OAUTH_TOKEN}"},
        timeout=5,
    ).json()
    assert answer == {"data": {"issue": {"key": ref.external_key, "state": {"type": "unstarted"}}}}
    assert fake_linear.violations == []
