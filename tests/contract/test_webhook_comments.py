"""Comments from the Jira and Linear webhook parsers: text, issue key, author and time."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from connectors.base import EventKind
from connectors.linear import webhooks as linear
from tests.contract.webhook_parser_support import (
    assert_matches,
    at,
    encode,
    jira_events,
    jira_example,
    linear_comment,
    linear_events,
)

# -- Comments ----------------------------------------------------------------------------------


def test_jira_comment_in_adf_becomes_text_timed_by_fields_updated() -> None:
    def change(data: dict[str, Any]) -> None:
        data["comment"]["body"] = {
            "type": "doc",
            "version": 1,
            "content": [
                {"type": "paragraph", "content": [{"type": "text", "text": "Fixed in "}]},
                {"type": "paragraph", "content": [{"type": "text", "text": "release 4.2"}]},
            ],
        }
        del data["timestamp"]
        data["issue"]["fields"]["updated"] = "2019-02-15T19:11:18.321-0800"

    [event] = jira_events(jira_example("comment_created.json", change))
    assert event.comment == "Fixed in \nrelease 4.2"
    assert_matches([event], [{"occurred_at": datetime(2019, 2, 16, 3, 11, 18, 321000, tzinfo=UTC)}])


def test_linear_comment_created_names_its_issue_and_author() -> None:
    body = linear_comment(
        {
            "id": "c1",
            "body": "Verified in staging",
            "createdAt": "2026-02-28T09:00:00.000Z",
            "updatedAt": "2026-02-28T09:00:00.000Z",
            "issueId": "issue-uuid",
            "issue": {"id": "issue-uuid", "identifier": "ENG-7", "title": "x"},
            "user": {"id": "u1", "name": "Ada"},
        }
    )
    [event] = linear_events(body)
    assert (event.external_key, event.kind, event.comment, event.actor) == (
        "ENG-7",
        EventKind.COMMENT_ADDED,
        "Verified in staging",
        "u1",
    ), "the author is named by user id, the account people's tracker_accounts hold"
    assert event.occurred_at == at("2026-02-28T09:00:00Z")


def test_linear_comment_with_only_an_issue_id_is_keyed_by_the_url_else_the_id() -> None:
    data = {"id": "c1", "body": "hi", "createdAt": "2026-02-28T09:00:00.000Z", "issueId": "i-9"}
    payload = json.loads(linear_comment(data))
    del payload["url"]
    payload["actor"] = {"name": "Grace"}
    [event] = linear.parse_events({}, encode(payload), {})
    assert (event.external_key, event.actor) == ("i-9", "Grace")
    # The comment URL names the issue when the payload has no identifier.
    [event] = linear.parse_events({}, linear_comment(data), {})
    assert event.external_key == "ENG-7"
