"""Linear webhook deliveries (Issue and Comment) into neutral tracker events.

Signature: `Linear-Signature: <hex HMAC-SHA256(secret, raw body)>` with no prefix, and the
signed body's `webhookTimestamp` (ms) must be within a minute of now, as Linear's SDK checks
(the `Linear-Timestamp` header is the fallback when the body has none). A well-signed delivery
outside that window is refused with WebhookRejected, which says so: "signature does not match"
would send whoever reads the log hunting for a wrong secret instead of a replay or a skewed clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

from connectors.base import (
    EventKind,
    MalformedPayload,
    TicketState,
    TrackerEvent,
    WebhookRejected,
)
from connectors.linear import mapping
from connectors.webhook_support import (
    body_hash,
    hmac_sha256_hex,
    listed,
    load_json,
    parse_time,
    signature_matches,
    text_or_none,
)

FRESHNESS = timedelta(seconds=60)


def _utc(value: Any) -> datetime:
    """The vendor's time (ISO 8601 with any offset, or epoch ms) as timezone-aware UTC."""
    return parse_time(value).astimezone(UTC)


def verify_signature(
    headers: Mapping[str, str], body: bytes, secret: str | None, now: datetime
) -> bool:
    """True for a matching signature with a send time within FRESHNESS of `now`; False for no
    secret or a missing or mismatched signature. Raises WebhookRejected, saying why, when the
    signature matches but the send time is stale, in the future, missing or unreadable."""
    if not secret or not signature_matches(
        hmac_sha256_hex(secret, body), headers.get("linear-signature")
    ):
        return False
    source, stamp = _send_time(headers, body)
    if stamp is None:
        raise WebhookRejected(
            "the delivery has no webhookTimestamp and no Linear-Timestamp header; Linear "
            f"deliveries are accepted only within {FRESHNESS.seconds} s of being sent"
        )
    try:
        sent = _utc(float(stamp))
    except (MalformedPayload, ValueError, TypeError, OverflowError):
        raise WebhookRejected(
            f"the delivery's {source} {stamp!r:.40} is not a time in epoch milliseconds"
        ) from None
    off = abs(now - sent)
    if off > FRESHNESS:
        raise WebhookRejected(
            f"the delivery's {source} ({sent.isoformat()}) is {off.total_seconds():.0f} s from "
            f"now; Linear deliveries older than {FRESHNESS.seconds} s are refused (a replay, "
            "or a clock out of step)"
        )
    return True


def _send_time(headers: Mapping[str, str], body: bytes) -> tuple[str, Any]:
    """Where the send time came from, and its value: the signed body's `webhookTimestamp`,
    else the `Linear-Timestamp` header."""
    try:
        stamp = load_json(body).get("webhookTimestamp")
    except MalformedPayload:
        stamp = None
    if stamp is not None and not isinstance(stamp, bool):
        return "webhookTimestamp", stamp
    return "Linear-Timestamp header", headers.get("linear-timestamp")


def delivery_id(headers: Mapping[str, str], body: bytes) -> str:
    """The `Linear-Delivery` header; else a hash of the body."""
    return headers.get("linear-delivery") or body_hash(body)


def _identifier(issue: Mapping[str, Any], url: Any) -> str | None:
    """ "ENG-7" from `identifier`; else team key + number, or the issue URL (the 2023 samples
    carry no `identifier`, only `team.key` and `number`)."""
    if issue.get("identifier"):
        return str(issue["identifier"])
    team, number = issue.get("team"), issue.get("number")
    if isinstance(team, Mapping) and team.get("key") and isinstance(number, int):
        return f"{team['key']}-{number}"
    if isinstance(url, str):
        return mapping.parse_ref(url)
    return None


def _issue_key(data: Mapping[str, Any], url: Any) -> str:
    key = _identifier(data, url)
    if key:
        return key
    if data.get("id"):
        # Only an id: kept as the key so the delivery is not lost, but it will match a
        # ticket only if the service stored that id as its key.
        return str(data["id"])
    raise MalformedPayload("a Linear issue needs an identifier, a team key and number, or an id")


def _user_account(user: Any) -> str | None:
    if not isinstance(user, Mapping):
        return None
    return text_or_none(user.get("id")) or text_or_none(user.get("name"))


def _comment_issue_key(data: Mapping[str, Any], url: Any) -> str:
    """The commented issue: `data.issue.identifier` (or its team key + number); else the
    issue identifier in the comment URL; else `data.issueId` / `data.issue.id`. When only an
    id is present it becomes the external key, which matches a ticket only if the service
    stored that id as the key."""
    issue = data.get("issue")
    issue = issue if isinstance(issue, Mapping) else {}
    key = _identifier(issue, url)
    if key:
        return key
    fallback = issue.get("id") or data.get("issueId")
    if fallback:
        return str(fallback)
    raise MalformedPayload("a Linear comment needs `issue.identifier` or `issueId`")


def _due(value: Any) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError as exc:
        raise MalformedPayload(f"not a due date: {value!r}") from exc


def parse_events(
    headers: Mapping[str, str], body: bytes, options: Mapping[str, Any]
) -> list[TrackerEvent]:
    """Events of `Issue` update (state, assignee, due date, labels: whatever `updatedFrom`
    names), `Issue` remove and `Comment` create; [] for other types and actions."""
    payload = load_json(body)
    kind, action, data = payload.get("type"), payload.get("action"), payload.get("data")
    if not isinstance(kind, str):
        raise MalformedPayload("a Linear delivery needs `type`")
    if kind not in ("Issue", "Comment"):
        return []
    if not isinstance(data, Mapping):
        raise MalformedPayload("a Linear Issue or Comment delivery needs `data`")
    wanted = action == "create" if kind == "Comment" else action in ("update", "remove")
    if not wanted:
        return []
    delivery = delivery_id(headers, body)
    actor_field = payload.get("actor")
    actor = text_or_none(actor_field.get("name")) if isinstance(actor_field, Mapping) else None
    stamp = data.get("updatedAt") or data.get("createdAt") or payload.get("webhookTimestamp")
    if stamp is None:
        raise MalformedPayload("a Linear delivery needs `updatedAt`, `createdAt` or a timestamp")
    occurred_at = _utc(stamp)

    if kind == "Comment":
        # People's Linear accounts are user ids (what assigneeId takes): a comment's author is
        # named by id, so "/verified" can be matched to the item's owner.
        author = (
            _user_account(data.get("user"))
            or text_or_none(data.get("userId"))
            or _user_account(actor_field)
        )
        return [
            TrackerEvent(
                external_key=_comment_issue_key(data, payload.get("url")),
                delivery_id=delivery,
                occurred_at=occurred_at,
                kind=EventKind.COMMENT_ADDED,
                comment=data.get("body") if isinstance(data.get("body"), str) else "",
                actor=author,
            )
        ]

    key = _issue_key(data, payload.get("url"))
    # `data` is the issue after the change: its `labels` (names) and `labelIds` are current.
    names = {
        str(label.get("id")): label["name"]
        for label in listed(data.get("labels"), "data.labels")
        if isinstance(label, Mapping) and isinstance(label.get("name"), str)
    }
    label_ids = [str(i) for i in listed(data.get("labelIds"), "data.labelIds")]
    labels = tuple(names.get(i, i) for i in label_ids) if label_ids else tuple(names.values())

    def make(event: EventKind, **fields: Any) -> TrackerEvent:
        return TrackerEvent(
            external_key=key,
            delivery_id=delivery,
            occurred_at=occurred_at,
            kind=event,
            labels=labels,
            actor=actor,
            **fields,
        )

    if action == "remove":
        return [make(EventKind.DELETED, state=TicketState.DELETED, raw_status="removed")]

    before = payload.get("updatedFrom")
    before = before if isinstance(before, Mapping) else {}
    events: list[TrackerEvent] = []
    if "stateId" in before:
        state = data.get("state")
        if not isinstance(state, Mapping) or not state.get("type"):
            raise MalformedPayload(f"a state change of {key} without `data.state.type`")
        events.append(
            make(
                EventKind.STATE_CHANGED,
                state=mapping.state_of(str(state["type"])),
                raw_status=str(state.get("name") or state["type"]),
            )
        )
    if "assigneeId" in before:
        assignee = data.get("assigneeId")
        events.append(
            make(EventKind.ASSIGNEE_CHANGED, assignee=str(assignee) if assignee else None)
        )
    if "dueDate" in before:
        events.append(make(EventKind.DUE_DATE_CHANGED, due_date=_due(data.get("dueDate"))))
    if "labelIds" in before:
        old = {str(i) for i in listed(before.get("labelIds"), "updatedFrom.labelIds")}
        new = set(label_ids)
        events += [make(EventKind.LABEL_ADDED, label=names.get(i, i)) for i in sorted(new - old)]
        events += [make(EventKind.LABEL_REMOVED, label=names.get(i, i)) for i in sorted(old - new)]
    return events
