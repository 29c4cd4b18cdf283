"""Linear webhook deliveries (Issue and Comment) into neutral tracker events.

Signature: `Linear-Signature: <hex HMAC-SHA256(secret, raw body)>` with no prefix, and the
signed body's `webhookTimestamp` (ms) must be within a minute of now, as Linear's SDK checks.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any

from connectors.base import EventKind, MalformedPayload, TicketState, TrackerEvent
from connectors.linear import mapping
from connectors.webhook_support import (
    body_hash,
    hmac_sha256_hex,
    load_json,
    parse_time,
    signature_matches,
)

FRESHNESS = timedelta(seconds=60)


def verify_signature(
    headers: Mapping[str, str], body: bytes, secret: str | None, now: datetime
) -> bool:
    if not secret or not signature_matches(
        hmac_sha256_hex(secret, body), headers.get("linear-signature")
    ):
        return False
    try:
        stamp = load_json(body).get("webhookTimestamp") or int(headers.get("linear-timestamp", "0"))
        sent = parse_time(int(stamp))
    except (MalformedPayload, ValueError, TypeError):
        return False
    return abs(now - sent) <= FRESHNESS


def delivery_id(headers: Mapping[str, str], body: bytes) -> str:
    return headers.get("linear-delivery") or body_hash(body)


def _identifier(data: Mapping[str, Any], url: Any) -> str:
    if data.get("identifier"):
        return str(data["identifier"])
    team, number = data.get("team") or {}, data.get("number")
    if team.get("key") and number is not None:
        return f"{team['key']}-{number}"
    parsed = mapping.parse_ref(str(url or ""))
    if parsed:
        return parsed
    # Only an id: the service matches it against the ticket's stored key, so it will not apply.
    if data.get("id"):
        return str(data["id"])
    raise MalformedPayload("a Linear issue needs an identifier, a team key and number, or an id")


def parse_events(
    headers: Mapping[str, str], body: bytes, options: Mapping[str, Any]
) -> list[TrackerEvent]:
    payload = load_json(body)
    kind, action, data = payload.get("type"), payload.get("action"), payload.get("data")
    if kind not in ("Issue", "Comment"):
        return []
    if not isinstance(data, dict):
        raise MalformedPayload("a Linear event needs `data`")
    delivery = delivery_id(headers, body)
    actor = (payload.get("actor") or {}).get("name")
    stamp = data.get("updatedAt") or data.get("createdAt") or payload.get("webhookTimestamp")
    at = parse_time(stamp)

    if kind == "Comment":
        if action != "create":
            return []
        issue = data.get("issue") or {}
        key = _identifier(issue, payload.get("url")) if issue else str(data.get("issueId") or "")
        if not key:
            raise MalformedPayload("a Linear comment needs its issue")
        author = (data.get("user") or {}).get("name") or actor
        return [
            TrackerEvent(
                external_key=key,
                delivery_id=delivery,
                occurred_at=at,
                kind=EventKind.COMMENT_ADDED,
                comment=str(data.get("body") or ""),
                actor=author,
            )
        ]

    key = _identifier(data, payload.get("url"))
    labels = [
        str(label.get("name")) for label in data.get("labels") or [] if isinstance(label, dict)
    ]

    def make(event: EventKind, **fields: Any) -> TrackerEvent:
        return TrackerEvent(
            external_key=key,
            delivery_id=delivery,
            occurred_at=at,
            kind=event,
            labels=labels,
            actor=actor,
            **fields,
        )

    if action == "remove":
        return [make(EventKind.DELETED, state=TicketState.DELETED, raw_status="removed")]
    if action != "update":
        return []
    before = payload.get("updatedFrom") or {}
    events: list[TrackerEvent] = []
    if "stateId" in before:
        state = data.get("state") or {}
        events.append(
            make(
                EventKind.STATE_CHANGED,
                state=mapping.state_of(str(state.get("type", ""))),
                raw_status=str(state.get("name", "")),
            )
        )
    if "assigneeId" in before:
        events.append(make(EventKind.ASSIGNEE_CHANGED, assignee=data.get("assigneeId")))
    if "dueDate" in before:
        due = data.get("dueDate")
        events.append(
            make(EventKind.DUE_DATE_CHANGED, due_date=date.fromisoformat(due) if due else None)
        )
    if "labelIds" in before:
        names = {str(label.get("id")): str(label.get("name")) for label in data.get("labels") or []}
        old, new = set(before.get("labelIds") or []), set(data.get("labelIds") or [])
        events += [make(EventKind.LABEL_ADDED, label=names.get(i, i)) for i in sorted(new - old)]
        events += [make(EventKind.LABEL_REMOVED, label=names.get(i, i)) for i in sorted(old - new)]
    return events
