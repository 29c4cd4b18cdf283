"""GitHub webhook deliveries: `issues` and `issue_comment` events into neutral tracker events.

Signature: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(secret, raw body)>`. GitHub never
redelivers on its own, so these events are a fast path; reconciliation is the safety net.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from connectors.base import EventKind, MalformedPayload, TicketState, TrackerEvent
from connectors.github import mapping
from connectors.webhook_support import (
    body_hash,
    hmac_sha256_hex,
    load_json,
    parse_time,
    signature_matches,
)

_USED_ACTIONS = {
    "closed",
    "reopened",
    "deleted",
    "transferred",
    "assigned",
    "unassigned",
    "labeled",
    "unlabeled",
}


def verify_signature(
    headers: Mapping[str, str], body: bytes, secret: str | None, now: datetime
) -> bool:
    given = headers.get("x-hub-signature-256", "")
    if not secret or not given.startswith("sha256="):
        return False
    return signature_matches(hmac_sha256_hex(secret, body), given.removeprefix("sha256="))


def delivery_id(headers: Mapping[str, str], body: bytes) -> str:
    return headers.get("x-github-delivery") or body_hash(body)


def parse_events(
    headers: Mapping[str, str], body: bytes, options: Mapping[str, Any]
) -> list[TrackerEvent]:
    event = headers.get("x-github-event", "")
    if event not in ("issues", "issue_comment"):
        return []
    data = load_json(body)
    action = data.get("action")
    issue, repository = data.get("issue"), data.get("repository")
    if not isinstance(issue, dict) or not isinstance(repository, dict):
        raise MalformedPayload("an issues event needs `issue` and `repository`")
    try:
        key = mapping.external_key(str(repository["full_name"]), int(issue["number"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise MalformedPayload(f"issue or repository incomplete: {exc}") from exc
    actor = (data.get("sender") or {}).get("login")
    labels = [
        str(label.get("name")) for label in issue.get("labels") or [] if isinstance(label, dict)
    ]
    delivery = delivery_id(headers, body)

    def make(kind: EventKind, at: Any, **fields: Any) -> TrackerEvent:
        return TrackerEvent(
            external_key=key,
            delivery_id=delivery,
            occurred_at=parse_time(at),
            kind=kind,
            actor=actor,
            labels=labels,
            **fields,
        )

    if event == "issue_comment":
        comment = data.get("comment")
        if action != "created" or not isinstance(comment, dict):
            return []
        return [
            TrackerEvent(
                external_key=key,
                delivery_id=delivery,
                occurred_at=parse_time(comment.get("created_at")),
                kind=EventKind.COMMENT_ADDED,
                comment=str(comment.get("body") or ""),
                actor=(comment.get("user") or {}).get("login", actor),
                labels=labels,
            )
        ]
    if action not in _USED_ACTIONS:
        return []
    at = issue.get("updated_at")
    if action == "closed":
        reason = issue.get("state_reason")
        return [
            make(
                EventKind.STATE_CHANGED,
                at,
                state=mapping.state_of("closed", reason),
                raw_status=mapping.raw_status("closed", reason),
            )
        ]
    if action == "reopened":
        return [make(EventKind.STATE_CHANGED, at, state=TicketState.OPEN, raw_status="open")]
    if action in ("deleted", "transferred"):
        return [make(EventKind.DELETED, at, state=TicketState.DELETED, raw_status=action)]
    if action in ("assigned", "unassigned"):
        assignees = issue.get("assignees") or []
        current = (
            assignees[0].get("login") if assignees else (issue.get("assignee") or {}).get("login")
        )
        return [make(EventKind.ASSIGNEE_CHANGED, at, assignee=current)]
    label = (data.get("label") or {}).get("name")
    kind = EventKind.LABEL_ADDED if action == "labeled" else EventKind.LABEL_REMOVED
    return [make(kind, at, label=label)]
