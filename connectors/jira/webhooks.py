"""Jira Cloud webhook deliveries into neutral tracker events.

Admin webhooks saved with a secret sign the body: `X-Hub-Signature: sha256=<hex>`. Without a
configured secret Jira sends no signature, and the integration accepts unsigned deliveries.
Closure is read from the status category (names are per-site), won't-do from the resolution.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from connectors.base import EventKind, MalformedPayload, TicketState, TrackerEvent
from connectors.jira import mapping
from connectors.webhook_support import (
    body_hash,
    hmac_sha256_hex,
    load_json,
    parse_time,
    signature_matches,
)

log = logging.getLogger(__name__)


def verify_signature(
    headers: Mapping[str, str], body: bytes, secret: str | None, now: datetime
) -> bool:
    if secret is None:
        return True
    given = headers.get("x-hub-signature", "")
    if not given.startswith("sha256="):
        return False
    return signature_matches(hmac_sha256_hex(secret, body), given.removeprefix("sha256="))


def delivery_id(headers: Mapping[str, str], body: bytes) -> str:
    return headers.get("x-atlassian-webhook-identifier") or body_hash(body)


def _adf_text(node: Any) -> str:
    """Flatten an Atlassian Document Format body (or a plain string) to text."""
    if isinstance(node, str):
        return node
    if isinstance(node, dict):
        if node.get("type") == "text":
            return str(node.get("text", ""))
        return " ".join(part for part in (_adf_text(c) for c in node.get("content") or []) if part)
    if isinstance(node, list):
        return " ".join(_adf_text(c) for c in node)
    return ""


def _state(fields: Mapping[str, Any], wont_do: frozenset[str]) -> TicketState:
    category = ((fields.get("status") or {}).get("statusCategory") or {}).get("key", "")
    resolution = (fields.get("resolution") or {}).get("name")
    if category == "done":
        if not resolution:
            log.warning("Jira issue in a done status without a resolution; counted as done")
            return TicketState.DONE
        return (
            TicketState.WONT_DO
            if mapping.normalised_names([resolution]) & wont_do
            else TicketState.DONE
        )
    return TicketState.IN_PROGRESS if category == "indeterminate" else TicketState.OPEN


def parse_events(
    headers: Mapping[str, str], body: bytes, options: Mapping[str, Any]
) -> list[TrackerEvent]:
    data = load_json(body)
    event = data.get("webhookEvent")
    if event not in ("jira:issue_updated", "jira:issue_deleted", "comment_created"):
        return []
    issue = data.get("issue")
    if not isinstance(issue, dict) or not issue.get("key"):
        raise MalformedPayload("a Jira issue event needs `issue.key`")
    key = str(issue["key"])
    fields = issue.get("fields") or {}
    at = (
        parse_time(data["timestamp"])
        if data.get("timestamp")
        else parse_time(fields.get("updated"))
    )
    delivery = delivery_id(headers, body)
    actor = (data.get("user") or {}).get("accountId") or (data.get("user") or {}).get("displayName")

    def make(kind: EventKind, **extra: Any) -> TrackerEvent:
        return TrackerEvent(
            external_key=key,
            delivery_id=delivery,
            occurred_at=at,
            kind=kind,
            labels=list(fields.get("labels") or []),
            **{"actor": actor, **extra},
        )

    if event == "jira:issue_deleted":
        return [make(EventKind.DELETED, state=TicketState.DELETED, raw_status="deleted")]
    if event == "comment_created":
        comment = data.get("comment") or {}
        author = comment.get("author") or {}
        return [
            make(
                EventKind.COMMENT_ADDED,
                comment=_adf_text(comment.get("body")),
                actor=author.get("accountId") or author.get("displayName") or actor,
            )
        ]
    wont_do = mapping.normalised_names(
        options.get("wont_do_resolutions") or mapping.DEFAULT_WONT_DO_RESOLUTIONS
    )
    events: list[TrackerEvent] = []
    items = (data.get("changelog") or {}).get("items") or []
    for item in items:
        name = str(item.get("field", "")).lower()
        if name == "status":
            events.append(
                make(
                    EventKind.STATE_CHANGED,
                    state=_state(fields, wont_do),
                    raw_status=str(
                        (fields.get("status") or {}).get("name", item.get("toString") or "")
                    ),
                    resolution=(fields.get("resolution") or {}).get("name"),
                )
            )
        elif name == "assignee":
            assignee = (fields.get("assignee") or {}).get("accountId") or item.get("to")
            events.append(make(EventKind.ASSIGNEE_CHANGED, assignee=assignee))
        elif name == "duedate":
            due = item.get("to") or fields.get("duedate")
            events.append(
                make(
                    EventKind.DUE_DATE_CHANGED,
                    due_date=date.fromisoformat(str(due)[:10]) if due else None,
                )
            )
        elif name == "labels":
            before = set((item.get("fromString") or "").split())
            after = set((item.get("toString") or "").split())
            events += [make(EventKind.LABEL_ADDED, label=label) for label in sorted(after - before)]
            events += [
                make(EventKind.LABEL_REMOVED, label=label) for label in sorted(before - after)
            ]
    return events
