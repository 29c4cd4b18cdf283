"""The three webhook parsers' signature checks, Linear's freshness window and delivery ids,
against the vendors' payload examples signed as each vendor signs them.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta
from typing import Any

import pytest

from connectors.base import WebhookRejected
from connectors.github import webhooks as github
from connectors.jira import webhooks as jira
from connectors.linear import webhooks as linear
from tests.contract.webhook_parser_support import (
    GITHUB_ALL,
    JIRA_DELIVERY,
    JIRA_FILES,
    LINEAR_DELIVERY,
    LINEAR_FILES,
    NOW,
    SECRET,
    WRONG,
    github_headers,
    hex_hmac,
    jira_headers,
    linear_example,
    linear_headers,
    ms,
    raw,
    sent_at,
    tampered,
)

# -- Signatures and freshness ------------------------------------------------------------------


def test_github_signature_matches_githubs_published_test_vector() -> None:
    body = b"Hello, World!"
    secret = "It's a Secret to Everybody"
    header = {
        "x-hub-signature-256": "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    }
    assert github.verify_signature(header, body, secret, NOW)
    assert not github.verify_signature(header, body, WRONG, NOW)
    assert not github.verify_signature(header, b"Hello, World?", secret, NOW)


@pytest.mark.parametrize(("event", "name"), GITHUB_ALL)
def test_github_signature_of_every_example_is_checked(event: str, name: str) -> None:
    body = raw(f"github/webhooks/{name}")
    headers = github_headers(event, body)
    assert github.verify_signature(headers, body, SECRET, NOW)
    assert not github.verify_signature(github_headers(event, body, WRONG), body, SECRET, NOW)
    assert not github.verify_signature(headers, tampered(body), SECRET, NOW)
    missing = {k: v for k, v in headers.items() if k != "x-hub-signature-256"}
    assert not github.verify_signature(missing, body, SECRET, NOW)


def test_github_signature_is_refused_without_a_secret_or_the_prefix() -> None:
    body = raw("github/webhooks/issues/closed.payload.json")
    digest = hex_hmac(SECRET, body)
    assert not github.verify_signature({"x-hub-signature-256": f"sha256={digest}"}, body, None, NOW)
    assert not github.verify_signature({"x-hub-signature-256": f"sha256={digest}"}, body, "", NOW)
    assert not github.verify_signature({"x-hub-signature-256": digest}, body, SECRET, NOW)
    # The legacy SHA-1 header alone is not accepted.
    sha1 = hmac.new(SECRET.encode(), body, hashlib.sha1).hexdigest()
    assert not github.verify_signature({"x-hub-signature": f"sha1={sha1}"}, body, SECRET, NOW)


@pytest.mark.parametrize("name", JIRA_FILES)
def test_jira_signature_of_every_example_is_checked(name: str) -> None:
    body = raw(f"jira/webhooks/{name}")
    headers = jira_headers(body)
    assert jira.verify_signature(headers, body, SECRET, NOW)
    assert not jira.verify_signature(jira_headers(body, WRONG), body, SECRET, NOW)
    assert not jira.verify_signature(headers, tampered(body), SECRET, NOW)
    assert not jira.verify_signature({}, body, SECRET, NOW)


def test_jira_unsigned_delivery_is_accepted_only_without_a_secret() -> None:
    body = raw("jira/webhooks/jira_issue_updated.status_to_done.json")
    assert jira.verify_signature({}, body, None, NOW)
    assert jira.verify_signature(jira_headers(body, WRONG), body, None, NOW)
    assert not jira.verify_signature({}, body, "", NOW)
    digest = hex_hmac(SECRET, body)
    assert not jira.verify_signature({"x-hub-signature": digest}, body, SECRET, NOW)
    # GitHub's header name is not Jira's.
    assert not jira.verify_signature({"x-hub-signature-256": f"sha256={digest}"}, body, SECRET, NOW)


@pytest.mark.parametrize("name", LINEAR_FILES)
def test_linear_signature_of_every_example_is_checked(name: str) -> None:
    body = raw(f"linear/webhooks/{name}")
    now = sent_at(body) + timedelta(seconds=5)
    headers = linear_headers(body)
    assert linear.verify_signature(headers, body, SECRET, now)
    assert not linear.verify_signature(linear_headers(body, WRONG), body, SECRET, now)
    assert not linear.verify_signature(headers, tampered(body), SECRET, now)
    assert not linear.verify_signature({}, body, SECRET, now)
    assert not linear.verify_signature(headers, body, None, now)
    assert not linear.verify_signature(
        {"linear-signature": "sha256=" + hex_hmac(SECRET, body)}, body, SECRET, now
    )


def test_linear_delivery_within_sixty_seconds_either_way_is_accepted() -> None:
    body = raw("linear/webhooks/issue_update.json")
    headers = linear_headers(body)
    sent = sent_at(body)
    assert linear.verify_signature(headers, body, SECRET, sent + timedelta(seconds=60))
    assert linear.verify_signature(headers, body, SECRET, sent - timedelta(seconds=60))


LINEAR_UPDATE_SENT = ms(1681208213456)  # issue_update.json's webhookTimestamp


@pytest.mark.parametrize(
    ("now", "seconds"),
    [
        (LINEAR_UPDATE_SENT + timedelta(seconds=61), 61),
        (LINEAR_UPDATE_SENT - timedelta(seconds=61), 61),
        (NOW, round((NOW - LINEAR_UPDATE_SENT).total_seconds())),
    ],
    ids=["a minute and a second late", "a minute and a second early", "the example replayed"],
)
def test_linear_stale_delivery_is_refused_saying_so(now: datetime, seconds: int) -> None:
    body = raw("linear/webhooks/issue_update.json")
    with pytest.raises(WebhookRejected) as refused:
        linear.verify_signature(linear_headers(body), body, SECRET, now)
    message = str(refused.value)
    assert "webhookTimestamp (2023-04-11T10:16:53.456000+00:00)" in message
    assert f"is {seconds} s from now" in message
    assert "older than 60 s are refused" in message


def test_linear_stale_delivery_with_a_wrong_signature_is_just_unsigned() -> None:
    body = raw("linear/webhooks/issue_update.json")
    assert not linear.verify_signature(linear_headers(body, WRONG), body, SECRET, NOW)
    assert not linear.verify_signature({}, body, SECRET, NOW)


def test_linear_timestamp_header_is_the_fallback() -> None:
    def change(data: dict[str, Any]) -> None:
        del data["webhookTimestamp"]

    body = linear_example("issue_update.json", change)
    sent = LINEAR_UPDATE_SENT
    headers = {**linear_headers(body), "linear-timestamp": "1681208213456"}
    assert linear.verify_signature(headers, body, SECRET, sent + timedelta(seconds=30))
    with pytest.raises(WebhookRejected, match=r"Linear-Timestamp header \(.*\) is 90 s from now"):
        linear.verify_signature(headers, body, SECRET, sent + timedelta(seconds=90))


def test_linear_delivery_without_any_timestamp_is_refused_saying_so() -> None:
    def change(data: dict[str, Any]) -> None:
        del data["webhookTimestamp"]

    body = linear_example("issue_update.json", change)
    with pytest.raises(WebhookRejected, match="no webhookTimestamp and no Linear-Timestamp"):
        linear.verify_signature(linear_headers(body), body, SECRET, LINEAR_UPDATE_SENT)


def test_linear_unreadable_timestamp_is_refused_saying_so() -> None:
    def change(data: dict[str, Any]) -> None:
        data["webhookTimestamp"] = "yesterday"

    body = linear_example("issue_update.json", change)
    with pytest.raises(WebhookRejected, match="'yesterday' is not a time"):
        linear.verify_signature(linear_headers(body), body, SECRET, NOW)


# -- Delivery ids ------------------------------------------------------------------------------


def test_github_delivery_id_is_the_header_else_a_body_hash() -> None:
    body = raw("github/webhooks/issues/closed.payload.json")
    assert github.delivery_id({"x-github-delivery": "abc-123"}, body) == "abc-123"
    assert github.delivery_id({}, body) == "sha256:" + hashlib.sha256(body).hexdigest()


def test_jira_delivery_id_is_the_header_else_a_body_hash() -> None:
    body = raw("jira/webhooks/jira_issue_deleted.json")
    assert jira.delivery_id(jira_headers(body), body) == JIRA_DELIVERY
    assert jira.delivery_id({}, body) == "sha256:" + hashlib.sha256(body).hexdigest()


def test_linear_delivery_id_is_the_header_else_a_body_hash() -> None:
    body = raw("linear/webhooks/issue_remove.json")
    assert linear.delivery_id(linear_headers(body), body) == LINEAR_DELIVERY
    assert linear.delivery_id({}, body) == "sha256:" + hashlib.sha256(body).hexdigest()
