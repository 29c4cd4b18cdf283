"""Each parser against every vendor payload example in ../shared/contracts, signed as the vendor signs."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta

import pytest

from connectors.base import EventKind, MalformedPayload, TicketState
from connectors.github import webhooks as github
from connectors.jira import webhooks as jira
from connectors.linear import webhooks as linear
from tests.fake_trackers.contracts import contracts_dir, load_json

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
OPTIONS = {"wont_do_resolutions": ["Won't Do", "Duplicate"]}


def raw(relative: str) -> bytes:
    return (contracts_dir() / relative).read_bytes()


def hex_hmac(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def test_github_signature_matches_githubs_published_test_vector() -> None:
    body = b"Hello, World!"
    header = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    assert github.verify_signature(
        {"x-hub-signature-256": header}, body, "It's a Secret to Everybody", NOW
    )
    assert not github.verify_signature(
        {"x-hub-signature-256": header}, body + b" ", "It's a Secret to Everybody", NOW
    )
    assert not github.verify_signature({}, body, "It's a Secret to Everybody", NOW)
    assert not github.verify_signature({"x-hub-signature-256": header}, body, None, NOW)


@pytest.mark.parametrize(
    ("event", "name", "kinds"),
    [
        ("issues", "issues/closed.payload.json", [EventKind.STATE_CHANGED]),
        ("issues", "issues/reopened.payload.json", [EventKind.STATE_CHANGED]),
        ("issues", "issues/deleted.payload.json", [EventKind.DELETED]),
        ("issues", "issues/assigned.payload.json", [EventKind.ASSIGNEE_CHANGED]),
        ("issues", "issues/unassigned.payload.json", [EventKind.ASSIGNEE_CHANGED]),
        ("issues", "issues/labeled.payload.json", [EventKind.LABEL_ADDED]),
        ("issues", "issues/unlabeled.payload.json", [EventKind.LABEL_REMOVED]),
        ("issues", "issues/opened.payload.json", []),
        ("issues", "issues/edited.payload.json", []),
        ("issue_comment", "issue_comment/created.payload.json", [EventKind.COMMENT_ADDED]),
        ("ping", "ping/payload.json", []),
    ],
)
def test_github_examples(event: str, name: str, kinds: list[EventKind]) -> None:
    body = raw(f"github/webhooks/{name}")
    headers = {"x-github-event": event, "x-github-delivery": "d-1"}
    events = github.parse_events(headers, body, {})
    assert [e.kind for e in events] == kinds
    payload = json.loads(body)
    for parsed in events:
        assert (
            parsed.external_key
            == f"{payload['repository']['full_name']}#{payload['issue']['number']}"
        )
        assert parsed.occurred_at.tzinfo is not None and parsed.delivery_id == "d-1"


def test_github_closure_reasons() -> None:
    payload = load_json("github/webhooks/issues/closed.payload.json")
    [done] = github.parse_events({"x-github-event": "issues"}, json.dumps(payload).encode(), {})
    assert (done.state, done.raw_status) == (TicketState.DONE, "closed:completed")
    payload["issue"]["state_reason"] = "not_planned"
    [wont] = github.parse_events({"x-github-event": "issues"}, json.dumps(payload).encode(), {})
    assert wont.state == TicketState.WONT_DO
    assert github.delivery_id({}, b"{}").startswith("sha256:")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("jira_issue_updated.status_to_done.json", [(EventKind.STATE_CHANGED, TicketState.DONE)]),
        ("jira_issue_updated.reopened.json", [(EventKind.STATE_CHANGED, TicketState.OPEN)]),
        ("jira_issue_deleted.json", [(EventKind.DELETED, TicketState.DELETED)]),
        ("comment_created.json", [(EventKind.COMMENT_ADDED, None)]),
        ("jira_issue_created.json", []),
    ],
)
def test_jira_examples(name: str, expected: list[tuple[EventKind, TicketState | None]]) -> None:
    body = raw(f"jira/webhooks/{name}")
    events = jira.parse_events({"x-atlassian-webhook-identifier": "j-1"}, body, OPTIONS)
    kinds = [
        (e.kind, e.state)
        for e in events
        if e.kind in (EventKind.STATE_CHANGED, EventKind.DELETED, EventKind.COMMENT_ADDED)
    ]
    assert kinds == expected
    payload = json.loads(body)
    assert all(e.external_key == payload["issue"]["key"] for e in events)
    assert all(
        e.occurred_at == datetime.fromtimestamp(payload["timestamp"] / 1000, UTC) for e in events
    )


def test_jira_wont_do_resolution_and_signatures() -> None:
    payload = load_json("jira/webhooks/jira_issue_updated.status_to_done.json")
    payload["issue"]["fields"]["resolution"] = {"name": "Won't Do"}
    body = json.dumps(payload).encode()
    [event] = [e for e in jira.parse_events({}, body, OPTIONS) if e.kind == EventKind.STATE_CHANGED]
    assert event.state == TicketState.WONT_DO
    signed = {"x-hub-signature": "sha256=" + hex_hmac("s3cret", body)}
    assert jira.verify_signature(signed, body, "s3cret", NOW)
    assert not jira.verify_signature(signed, body, "other", NOW)
    assert not jira.verify_signature({}, body, "s3cret", NOW)
    assert jira.verify_signature({}, body, None, NOW), "no secret configured: Jira sends none"


def test_linear_examples_and_signatures() -> None:
    for name, kinds in [
        ("issue_update.json", []),
        ("issue_remove.json", [EventKind.DELETED]),
        ("issue_create.json", []),
    ]:
        payload = load_json(f"linear/webhooks/{name}")
        events = linear.parse_events({"linear-delivery": "l-1"}, json.dumps(payload).encode(), {})
        assert [e.kind for e in events] == kinds, name
        assert all(
            e.external_key == f"{payload['data']['team']['key']}-{payload['data']['number']}"
            for e in events
        )
    payload = load_json("linear/webhooks/issue_update.json")
    payload["updatedFrom"]["stateId"] = "old"
    payload["data"]["state"] = {"name": "Done", "type": "completed"}
    [done] = linear.parse_events({}, json.dumps(payload).encode(), {})
    assert done.state == TicketState.DONE
    payload["data"]["state"] = {"name": "Canceled", "type": "canceled"}
    [canceled] = linear.parse_events({}, json.dumps(payload).encode(), {})
    assert canceled.state == TicketState.WONT_DO

    sent = int(NOW.timestamp() * 1000)
    payload["webhookTimestamp"] = sent
    body = json.dumps(payload).encode()
    headers = {"linear-signature": hex_hmac("s3cret", body)}
    assert linear.verify_signature(headers, body, "s3cret", NOW)
    assert not linear.verify_signature(headers, body, "s3cret", NOW + timedelta(minutes=2)), "stale"
    assert not linear.verify_signature(
        headers, body.replace(b"Canceled", b"Cancelled"), "s3cret", NOW
    )
    assert not linear.verify_signature(
        {"linear-signature": "sha256=" + hex_hmac("s3cret", body)}, body, "s3cret", NOW
    )


@pytest.mark.parametrize("parser", [github, jira, linear])
def test_malformed_bodies_are_refused(parser: object) -> None:
    headers = {"x-github-event": "issues"}
    with pytest.raises(MalformedPayload):
        parser.parse_events(headers, b"{not json", {})  # type: ignore[attr-defined]
