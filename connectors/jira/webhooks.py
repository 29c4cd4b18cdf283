"""Jira Cloud webhook deliveries into neutral tracker events.

Admin webhooks saved with a secret sign the body: `X-Hub-Signature: sha256=<hex>` (no `-256`).
Without a configured secret Jira sends no signature; this parser then has nothing to check, and
the service refuses such deliveries unless the integration opts in with `allow_unsigned`
(app/webhooks/service.py `receive`). Closure is read from the status category (names are
per-site), won't-do from the resolution, with the same rules as the connector
(`mapping.ticket_state`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from connectors.base import EventKind, MalformedPayload, TicketState, TrackerEvent
from connectors.jira import mapping, payloads
from connectors.webhook_support import (
    body_hash,
    hmac_sha256_hex,
    load_json,
    parse_date,
    read,
    shape_error,
    signature_matches,
)

log = logging.getLogger(__name__)

SIGNATURE_PREFIX = "sha256="
_ISSUE_EVENTS = ("jira:issue_updated", "jira:issue_deleted", "comment_created")


def verify_signature(
    headers: Mapping[str, str], body: bytes, secret: str | None, now: datetime
) -> bool:
    """No secret configured (None): nothing to check, so True; the service decides whether an
    unsigned delivery is allowed (refused unless `allow_unsigned`). A configured
    secret makes the header mandatory; an empty-string secret is refused rather than trusted.
    `now` is unused: Jira signs no timestamp."""
    if secret is None:
        return True
    given = headers.get("x-hub-signature", "")
    if not secret or not given.startswith(SIGNATURE_PREFIX):
        return False
    return signature_matches(hmac_sha256_hex(secret, body), given.removeprefix(SIGNATURE_PREFIX))


def delivery_id(headers: Mapping[str, str], body: bytes) -> str:
    """`X-Atlassian-Webhook-Identifier`, unchanged across Jira's retries; else a body hash."""
    return headers.get("x-atlassian-webhook-identifier") or body_hash(body)


def adf_text(node: Any) -> str:
    """Flatten an Atlassian Document Format body to its text; a plain string stays as it is.
    Blocks are separated by newlines, inline nodes joined as they are."""
    if isinstance(node, str):
        return node
    if isinstance(node, list):
        return "\n".join(part for part in (adf_text(child) for child in node) if part)
    if not isinstance(node, Mapping):
        return ""
    kind = node.get("type")
    if kind == "text":
        return str(node.get("text") or "")
    if kind == "hardBreak":
        return "\n"
    if kind in ("mention", "emoji"):
        attrs = node.get("attrs")
        return str(attrs.get("text") or "") if isinstance(attrs, Mapping) else ""
    children = node.get("content")
    children = children if isinstance(children, list) else []
    if kind in ("paragraph", "heading"):
        return "".join(adf_text(child) for child in children)
    return "\n".join(part for part in (adf_text(child) for child in children) if part)


def _wont_do(options: Mapping[str, Any]) -> frozenset[str]:
    names = options.get("wont_do_resolutions") or mapping.DEFAULT_WONT_DO_RESOLUTIONS
    if isinstance(names, str):
        names = [names]
    return mapping.normalised_names(str(name) for name in names)


def _state(key: str, fields: payloads.Fields, wont_do: frozenset[str]) -> TicketState:
    group = fields.status.statusCategory if fields.status is not None else None
    category = group.key if group is not None else None
    if category is None:
        raise shape_error(
            "body.issue.fields.status.statusCategory.key",
            f"Field required in a status change (of {key})",
        )
    resolution = _resolution(fields)
    if category == "done" and not resolution:
        log.warning("Jira issue %s is in a done status without a resolution; counted as done", key)
    return mapping.ticket_state(category, resolution, wont_do)


def _resolution(fields: payloads.Fields) -> str | None:
    return fields.resolution.name or None if fields.resolution is not None else None


def _current_labels(fields: payloads.Fields, items: list[payloads.ChangeItem]) -> tuple[str, ...]:
    """`fields.labels` is the issue after the change; a payload without it still shows the
    current labels in a `labels` changelog item's `toString` (space-separated)."""
    if "labels" in fields.model_fields_set:
        return tuple(fields.labels or ())
    for item in items:
        if (item.field or "").lower() == "labels":
            return tuple((item.toString or "").split())
    return ()


def _user(user: payloads.User | None) -> str | None:
    if user is None:
        return None
    return user.accountId or user.displayName or user.name or None


def parse_events(
    headers: Mapping[str, str], body: bytes, options: Mapping[str, Any]
) -> list[TrackerEvent]:
    """Events of `jira:issue_updated` (one per changed status/resolution, assignee, due date or
    label), `jira:issue_deleted` and `comment_created`; [] for `jira:issue_created` and events
    not about issues. `options["wont_do_resolutions"]` names the site's won't-do resolutions.
    Raises MalformedPayload for non-JSON, and PayloadShapeError naming the path for a body
    whose fields we read are missing or of the wrong type."""
    data = load_json(body)
    event = read(payloads.Envelope, data).webhookEvent
    if event not in _ISSUE_EVENTS:
        return []
    payload = read(payloads.IssueEvent, data)
    key = payload.issue.key
    fields = payload.issue.fields or payloads.Fields()
    occurred_at = payload.timestamp or fields.updated
    if occurred_at is None:
        raise shape_error(
            "body.timestamp", f"a Jira {event} delivery needs `timestamp` or `issue.fields.updated`"
        )
    delivery = delivery_id(headers, body)
    actor = _user(payload.user)
    items = (payload.changelog.items if payload.changelog is not None else None) or []
    labels = _current_labels(fields, items)

    def make(kind: EventKind, **extra: Any) -> TrackerEvent:
        values: dict[str, Any] = {"actor": actor, "labels": labels, **extra}
        return TrackerEvent(
            external_key=key, delivery_id=delivery, occurred_at=occurred_at, kind=kind, **values
        )

    if event == "jira:issue_deleted":
        return [make(EventKind.DELETED, state=TicketState.DELETED, raw_status="deleted")]
    if event == "comment_created":
        comment = payload.comment
        if comment is None:
            raise shape_error("body.comment", "Field required in a comment_created delivery")
        # load_json bounds the nesting, so the walk cannot recurse too deeply.
        text = adf_text(comment.body)
        return [make(EventKind.COMMENT_ADDED, comment=text, actor=_user(comment.author) or actor)]

    events: list[TrackerEvent] = []
    state_reported = False
    for index, item in enumerate(items):
        name = (item.field or "").lower()
        if name in ("status", "resolution"):
            # A resolution change alone (Done -> Won't Do in the same status) also changes
            # the outcome; one state event per delivery either way.
            if state_reported:
                continue
            state_reported = True
            raw = fields.status.name if fields.status is not None else None
            events.append(
                make(
                    EventKind.STATE_CHANGED,
                    state=_state(key, fields, _wont_do(options)),
                    raw_status=raw or item.toString or "",
                    resolution=_resolution(fields),
                )
            )
        elif name == "assignee":
            current = _user(fields.assignee)
            to = item.tmpToAccountId or item.to
            events.append(make(EventKind.ASSIGNEE_CHANGED, assignee=current or to or None))
        elif name == "duedate":
            due = fields.duedate
            if "to" in item.model_fields_set:
                due = _due(item.to, f"body.changelog.items[{index}].to")
            events.append(make(EventKind.DUE_DATE_CHANGED, due_date=due))
        elif name == "labels":
            before = set((item.fromString or "").split())
            after = set((item.toString or "").split())
            events += [make(EventKind.LABEL_ADDED, label=label) for label in sorted(after - before)]
            events += [
                make(EventKind.LABEL_REMOVED, label=label) for label in sorted(before - after)
            ]
    return events


def _due(value: str | None, path: str) -> date | None:
    try:
        return parse_date(value)
    except MalformedPayload as exc:
        raise shape_error(path, str(exc)) from None
