"""GitHub webhook deliveries: `issues` and `issue_comment` events into neutral tracker events.

Signature: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(secret, raw body)>`. GitHub never
redelivers on its own, so these events are a fast path; reconciliation is the safety net.
The event type is the `X-GitHub-Event` header; when a proxy dropped it, it is inferred from the
body's shape (`comment` + `issue`, `issue`, `zen`/`hook_id` for ping).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from connectors.base import EventKind, TicketState, TrackerEvent
from connectors.github import mapping, payloads
from connectors.webhook_support import (
    body_hash,
    hmac_sha256_hex,
    load_json,
    read,
    shape_error,
    signature_matches,
    text_or_none,
)

SIGNATURE_PREFIX = "sha256="

_USED_ACTIONS = frozenset(
    {
        "closed",
        "reopened",
        "deleted",
        "transferred",
        "assigned",
        "unassigned",
        "labeled",
        "unlabeled",
    }
)


def verify_signature(
    headers: Mapping[str, str], body: bytes, secret: str | None, now: datetime
) -> bool:
    """GitHub signs only hooks that have a secret; without one (or without the header) the
    delivery cannot be authenticated and is refused. `now` is unused: GitHub sends no timestamp."""
    given = headers.get("x-hub-signature-256", "")
    if not secret or not given.startswith(SIGNATURE_PREFIX):
        return False
    return signature_matches(hmac_sha256_hex(secret, body), given.removeprefix(SIGNATURE_PREFIX))


def delivery_id(headers: Mapping[str, str], body: bytes) -> str:
    """`X-GitHub-Delivery`, which a manual redelivery keeps; else a hash of the body."""
    return headers.get("x-github-delivery") or body_hash(body)


def _event_name(headers: Mapping[str, str], data: Mapping[str, Any]) -> str:
    given = headers.get("x-github-event")
    if given:
        return given
    if "zen" in data or "hook_id" in data:
        return "ping"
    if "issue" in data:
        return "issue_comment" if "comment" in data else "issues"
    return ""


def parse_events(
    headers: Mapping[str, str], body: bytes, options: Mapping[str, Any]
) -> list[TrackerEvent]:
    """Events of an `issues` (closed, reopened, deleted, transferred, (un)assigned,
    (un)labeled) or `issue_comment.created` delivery; [] for anything else (ping, opened,
    edited, milestoned, ...). Raises MalformedPayload for non-JSON, and PayloadShapeError
    naming the path for an event body whose fields we read are missing or of the wrong type."""
    data = load_json(body)
    event = _event_name(headers, data)
    if event not in ("issues", "issue_comment"):
        return []
    action = read(payloads.Action, data).action
    if event == "issue_comment" and action != "created":
        return []
    if event == "issues" and action not in _USED_ACTIONS:
        return []
    payload = read(payloads.IssuesEvent, data)
    issue = payload.issue
    key = mapping.external_key(payload.repository.full_name, issue.number)
    actor = _login(payload.sender)
    # `issue` is the issue after the change, so its labels are the current ones.
    labels = tuple(label.name for label in issue.labels or ())
    delivery = delivery_id(headers, body)

    if event == "issue_comment":
        comment = payload.comment
        if comment is None:
            raise shape_error("body.comment", "Field required")
        return [
            TrackerEvent(
                external_key=key,
                delivery_id=delivery,
                occurred_at=_required(comment.created_at, "body.comment.created_at"),
                kind=EventKind.COMMENT_ADDED,
                comment=comment.body or "",
                actor=_login(comment.user) or actor,
                labels=labels,
            )
        ]

    occurred_at = _required(issue.updated_at, "body.issue.updated_at")

    def make(kind: EventKind, **fields: Any) -> TrackerEvent:
        values: dict[str, Any] = {"actor": actor, "labels": labels, **fields}
        return TrackerEvent(
            external_key=key, delivery_id=delivery, occurred_at=occurred_at, kind=kind, **values
        )

    if action == "closed":
        reason = text_or_none(issue.state_reason)
        return [
            make(
                EventKind.STATE_CHANGED,
                state=mapping.state_of("closed", reason),
                raw_status=mapping.raw_status("closed", reason),
            )
        ]
    if action == "reopened":
        return [make(EventKind.STATE_CHANGED, state=TicketState.OPEN, raw_status="open")]
    if action in ("deleted", "transferred"):
        # A transferred issue lives on under another repository's key: gone from this one.
        return [make(EventKind.DELETED, state=TicketState.DELETED, raw_status=action)]
    if action in ("assigned", "unassigned"):
        return [make(EventKind.ASSIGNEE_CHANGED, assignee=_assignee_after(action, issue, payload))]
    if payload.label is None:
        raise shape_error("body.label", f"Field required in an issues.{action} delivery")
    name = payload.label.name
    # The current list can never still hold a label just removed, nor miss one just added
    # (GitHub's published `unlabeled` example still lists the removed label).
    if action == "labeled":
        current = labels if name in labels else (*labels, name)
        return [make(EventKind.LABEL_ADDED, label=name, labels=current)]
    current = tuple(other for other in labels if other != name)
    return [make(EventKind.LABEL_REMOVED, label=name, labels=current)]


def _login(user: payloads.User | None) -> str | None:
    return user.login if user is not None else None


def _required(value: datetime | None, path: str) -> datetime:
    if value is None:
        raise shape_error(path, "Field required")
    return value


def _assignee_after(
    action: str, issue: payloads.Issue, payload: payloads.IssuesEvent
) -> str | None:
    """The issue's first assignee after an (un)assignment. The event's own `assignee` is the user
    added or REMOVED; `issue.assignees` is the list afterwards (the singular `issue.assignee` is
    deprecated and, on `unassigned`, may still name the removed user), so the list decides."""
    changed = _login(payload.assignee)
    removed = changed if action == "unassigned" else None
    if "assignees" in issue.model_fields_set:
        remaining = [
            login
            for login in map(_login, issue.assignees or ())
            if login is not None and login != removed
        ]
        if remaining:
            return remaining[0]
        if action == "unassigned":
            return None
    if action == "assigned" and changed is not None:
        return changed
    current = _login(issue.assignee)
    return current if current != removed else None
