"""Linear webhook deliveries (Issue and Comment) into neutral tracker events.

Signature: `Linear-Signature: <hex HMAC-SHA256(secret, raw body)>` with no prefix, and the
signed body's `webhookTimestamp` (ms) must be within a minute of now, as Linear's SDK checks
(the `Linear-Timestamp` header is the fallback when the body has none). A well-signed delivery
outside that window is refused with WebhookRejected, which says so: "signature does not match"
would send whoever reads the log hunting for a wrong secret instead of a replay or a skewed clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.base import (
    EventKind,
    MalformedPayload,
    TicketState,
    TrackerEvent,
    WebhookRejected,
)
from connectors.linear import mapping, payloads
from connectors.webhook_support import (
    body_hash,
    hmac_sha256_hex,
    load_json,
    parse_time,
    read,
    shape_error,
    signature_matches,
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
    # The signature matched: a body that cannot be read is malformed, not unsigned.
    stamp = load_json(body).get("webhookTimestamp")
    if stamp is not None and not isinstance(stamp, bool):
        return "webhookTimestamp", stamp
    return "Linear-Timestamp header", headers.get("linear-timestamp")


def delivery_id(headers: Mapping[str, str], body: bytes) -> str:
    """The `Linear-Delivery` header; else a hash of the body."""
    return headers.get("linear-delivery") or body_hash(body)


def _identifier(issue: payloads.IssueRef | None, url: str | None) -> str | None:
    """ "ENG-7" from `identifier`; else team key + number, or the issue URL (the 2023 samples
    carry no `identifier`, only `team.key` and `number`)."""
    if issue is not None and issue.identifier:
        return issue.identifier
    if issue is not None and issue.team is not None and issue.team.key and issue.number is not None:
        return f"{issue.team.key}-{issue.number}"
    if url is not None:
        return mapping.parse_ref(url)
    return None


def _issue_key(data: payloads.Issue, url: str | None) -> str:
    key = _identifier(data, url)
    if key:
        return key
    if data.id:
        # Only an id: kept as the key so the delivery is not lost, but it will match a
        # ticket only if the service stored that id as its key.
        return data.id
    raise shape_error(
        "body.data.identifier",
        "a Linear issue needs an identifier, a team key and number, or an id",
    )


def _user_account(user: payloads.Actor | None) -> str | None:
    if user is None:
        return None
    return user.id or user.name or None


def _comment_issue_key(data: payloads.Comment, url: str | None) -> str:
    """The commented issue: `data.issue.identifier` (or its team key + number); else the
    issue identifier in the comment URL; else `data.issueId` / `data.issue.id`. When only an
    id is present it becomes the external key, which matches a ticket only if the service
    stored that id as the key."""
    key = _identifier(data.issue, url)
    if key:
        return key
    fallback = (data.issue.id if data.issue is not None else None) or data.issueId
    if fallback:
        return fallback
    raise shape_error("body.data.issueId", "a Linear comment needs `issue.identifier` or `issueId`")


def _occurred_at(data: payloads.Issue | payloads.Comment, sent: datetime | None) -> datetime:
    stamp = data.updatedAt or data.createdAt or sent
    if stamp is None:
        raise shape_error(
            "body.data.updatedAt", "a Linear delivery needs `updatedAt`, `createdAt` or a timestamp"
        )
    return stamp


def parse_events(
    headers: Mapping[str, str], body: bytes, options: Mapping[str, Any]
) -> list[TrackerEvent]:
    """Events of `Issue` update (state, assignee, due date, labels: whatever `updatedFrom`
    names), `Issue` remove and `Comment` create; [] for other types and actions. Raises
    MalformedPayload for non-JSON, and PayloadShapeError naming the path for a body whose
    fields we read are missing or of the wrong type."""
    raw = load_json(body)
    envelope = read(payloads.Envelope, raw)
    kind, action = envelope.type, envelope.action
    if kind not in ("Issue", "Comment"):
        return []
    wanted = action == "create" if kind == "Comment" else action in ("update", "remove")
    if not wanted:
        return []
    delivery = delivery_id(headers, body)

    if kind == "Comment":
        comment = read(payloads.CommentEvent, raw)
        data = comment.data
        # People's Linear accounts are user ids (what assigneeId takes): a comment's author is
        # named by id, so "/verified" can be matched to the item's owner.
        author = _user_account(data.user) or data.userId or _user_account(comment.actor)
        return [
            TrackerEvent(
                external_key=_comment_issue_key(data, comment.url),
                delivery_id=delivery,
                occurred_at=_occurred_at(data, comment.webhookTimestamp),
                kind=EventKind.COMMENT_ADDED,
                comment=data.body or "",
                actor=author,
            )
        ]

    payload = read(payloads.IssueEvent, raw)
    issue = payload.data
    occurred_at = _occurred_at(issue, payload.webhookTimestamp)
    actor = payload.actor.name or None if payload.actor is not None else None
    key = _issue_key(issue, payload.url)
    # `data` is the issue after the change: its `labels` (names) and `labelIds` are current.
    names = {label.id or "": label.name for label in issue.labels or ()}
    label_ids = list(issue.labelIds or ())
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

    before = payload.updatedFrom or payloads.UpdatedFrom()
    changed = before.model_fields_set
    events: list[TrackerEvent] = []
    if "stateId" in changed:
        state = issue.state
        if state is None or not state.type:
            raise shape_error(
                "body.data.state.type", f"Field required in a state change (of {key})"
            )
        events.append(
            make(
                EventKind.STATE_CHANGED,
                state=mapping.state_of(state.type),
                raw_status=state.name or state.type,
            )
        )
    if "assigneeId" in changed:
        events.append(make(EventKind.ASSIGNEE_CHANGED, assignee=issue.assigneeId or None))
    if "dueDate" in changed:
        events.append(make(EventKind.DUE_DATE_CHANGED, due_date=issue.dueDate))
    if "labelIds" in changed:
        old = set(before.labelIds or ())
        new = set(label_ids)
        events += [make(EventKind.LABEL_ADDED, label=names.get(i, i)) for i in sorted(new - old)]
        events += [make(EventKind.LABEL_REMOVED, label=names.get(i, i)) for i in sorted(old - new)]
    return events
