"""Tracker profiles: one per kind, cheap to import, and true to what each parser reads."""

from __future__ import annotations

import hashlib
import hmac
import json
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import BaseModel, ConfigDict

from connectors import registry
from connectors.base import TrackerKind
from connectors.profile import TrackerProfile, WebhookProfile

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _hmac_hex(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


# What each vendor puts in its signature header (../shared/TRACKERS.md §4); a new tracker adds
# its own here.
SIGNERS: dict[TrackerKind, Callable[[str, bytes], str]] = {
    TrackerKind.GITHUB: lambda secret, body: "sha256=" + _hmac_hex(secret, body),
    TrackerKind.JIRA: lambda secret, body: "sha256=" + _hmac_hex(secret, body),
    TrackerKind.LINEAR: _hmac_hex,
}


def steps(**overrides: object) -> WebhookProfile:
    fields: dict[str, object] = {
        "events": ("issue",),
        "signature_header": "X-Gitlab-Token",
        "delivery_id_header": "x-gitlab-event-uuid",
        "event_header": "x-gitlab-event",
        "kept_headers": ("x-gitlab-event-uuid", "x-gitlab-event"),
        "setup_steps": ("Add a webhook.",),
    }
    fields.update(overrides)
    return WebhookProfile(**fields)  # type: ignore[arg-type]


def test_every_kind_has_its_profile() -> None:
    assert set(registry.PROFILES) == set(TrackerKind)
    for kind in TrackerKind:
        assert registry.profile(kind).kind is kind
        assert registry.profile(kind) is registry.PROFILES[kind]


def test_profiles_do_not_load_client_libraries() -> None:
    code = (
        "import json, sys, connectors.registry as r; r.profile(r.TrackerKind.JIRA);"
        "print(json.dumps(sorted(m for m in sys.modules"
        " if m.split('.')[0] in ('github', 'jira', 'httpx')"
        " or m.startswith('connectors.') and m.endswith(('.connector', '.client')))))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert json.loads(loaded) == []


def test_resend_windows() -> None:
    assert registry.profile(TrackerKind.JIRA).resend_window == timedelta(minutes=5)
    assert registry.profile(TrackerKind.GITHUB).resend_window == timedelta(0)
    assert registry.profile(TrackerKind.LINEAR).resend_window == timedelta(0)


@pytest.mark.parametrize("kind", list(TrackerKind))
def test_the_parser_reads_the_declared_delivery_id_header(kind: TrackerKind) -> None:
    webhook = registry.profile(kind).webhook
    assert webhook.delivery_id_header is not None
    parser = registry.webhook_parser(kind)
    assert parser.delivery_id({webhook.delivery_id_header: "d-1"}, b"{}") == "d-1"


@pytest.mark.parametrize("kind", list(TrackerKind))
def test_the_parser_checks_the_declared_signature_header(kind: TrackerKind) -> None:
    webhook = registry.profile(kind).webhook
    body = json.dumps({"webhookTimestamp": int(NOW.timestamp() * 1000)}).encode()
    headers = {webhook.signature_header.lower(): SIGNERS[kind]("s3cret", body)}
    parser = registry.webhook_parser(kind)
    assert parser.verify_signature(headers, body, "s3cret", NOW)
    assert not parser.verify_signature({}, body, "s3cret", NOW)


@pytest.mark.parametrize("kind", list(TrackerKind))
def test_the_signature_is_never_kept(kind: TrackerKind) -> None:
    webhook = registry.profile(kind).webhook
    assert webhook.signature_header.lower() not in webhook.kept_headers
    assert all(name == name.lower() for name in webhook.kept_headers)


def test_event_name_from_the_header_else_the_body() -> None:
    github = registry.profile(TrackerKind.GITHUB).webhook
    jira = registry.profile(TrackerKind.JIRA).webhook
    linear = registry.profile(TrackerKind.LINEAR).webhook
    assert github.event_name({"X-GitHub-Event": "issues"}, None) == "issues"
    assert github.event_name({}, {"webhookEvent": "x"}) == ""
    assert jira.event_name({}, {"webhookEvent": "jira:issue_updated"}) == "jira:issue_updated"
    assert jira.event_name({"x-github-event": "issues"}, None) == ""
    assert linear.event_name({"linear-event": "Issue"}, {"type": "Comment"}) == "Issue"
    assert linear.event_name({}, {"type": "Comment"}) == "Comment"
    assert linear.event_name({}, {"type": 3}) == ""


def test_credentials_accept_each_shape_and_name_them_all_otherwise() -> None:
    jira = registry.profile(TrackerKind.JIRA)
    assert jira.credential_shapes == (("api_token", "email"), ("pat",))
    assert jira.parse_credentials({"pat": "x"}).model_dump() == {"pat": "x"}
    with pytest.raises(ValueError, match=r"exactly \{api_token, email\} or \{pat\}$"):
        jira.parse_credentials({"pat": "x", "email": "a@b.c"})
    with pytest.raises(ValueError) as refused:
        jira.parse_credentials({"email": "nobody", "api_token": "hidden-value"})
    assert "email not accepted" in str(refused.value)
    assert "nobody" not in str(refused.value) and "hidden-value" not in str(refused.value)


def test_projects_are_matched_whole() -> None:
    github = registry.profile(TrackerKind.GITHUB)
    assert github.accepts_project("acme/api")
    assert not github.accepts_project("acme/api\n")
    with pytest.raises(ValueError, match="expected owner/repo"):
        github.check_project("acme", "default_project")


def test_instructions_number_the_steps_and_name_the_integration() -> None:
    webhook = steps(setup_steps=("Add a webhook.", "PATCH /v1/integrations/{id}."))
    assert webhook.instructions("abc") == "1. Add a webhook. 2. PATCH /v1/integrations/abc."


@pytest.mark.parametrize(
    ("overrides", "complaint"),
    [
        ({"kept_headers": ("X-Gitlab-Event",)}, "lower-case"),
        ({"kept_headers": ("x-gitlab-event-uuid", "x-gitlab-event", "x-gitlab-token")}, "kept"),
        ({"kept_headers": ("x-gitlab-event",)}, "must be in kept_headers"),
        ({"setup_steps": ()}, "set-up steps"),
    ],
)
def test_a_webhook_profile_that_would_mislead_is_refused(
    overrides: dict[str, object], complaint: str
) -> None:
    with pytest.raises(ValueError, match=complaint):
        steps(**overrides)


def test_credential_models_must_forbid_extra_fields() -> None:
    class Loose(BaseModel):
        token: str

    class Strict(BaseModel):
        model_config = ConfigDict(extra="forbid")
        token: str

    fields: dict[str, object] = {
        "kind": TrackerKind.GITHUB,
        "display_name": "GitHub",
        "project_pattern": r"^\S+$",
        "project_hint": "owner/repo",
        "webhook": steps(),
        "resend_window": timedelta(0),
    }
    with pytest.raises(ValueError, match="forbid extra"):
        TrackerProfile(credentials=(Loose,), **fields)  # type: ignore[arg-type]
    assert TrackerProfile(credentials=(Strict,), **fields).credential_shapes == (("token",),)  # type: ignore[arg-type]
