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
from datetime import UTC, date, datetime
from typing import Any

from connectors.base import EventKind, MalformedPayload, TicketState, TrackerEvent
from connectors.jira import mapping
from connectors.webhook_support import (
    body_hash,
    hmac_sha256_hex,
    listed,
    load_json,
    parse_time,
    signature_matches,
    text_or_none,
)

log = logging.getLogger(__name__)

SIGNATURE_PREFIX = "sha256="
_ISSUE_EVENTS = ("jira:issue_updated", "jira:issue_deleted", "comment_created")


def _utc(value: Any) -> datetime:
    """The vendor's time (ISO 8601 with any offset, or epoch ms) as timezone-aware UTC."""
    return parse_time(value).astimezone(UTC)


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


def _state(key: str, fields: Mapping[str, Any], wont_do: frozenset[str]) -> TicketState:
    status = fields.get("status")
    group = status.get("statusCategory") if isinstance(status, Mapping) else None
    category = group.get("key") if isinstance(group, Mapping) else None
    if not isinstance(category, str):
        raise MalformedPayload(f"a status change of {key} without fields.status.statusCategory")
    resolution = _resolution(fields)
    if category == "done" and not resolution:
        log.warning("Jira issue %s is in a done status without a resolution; counted as done", key)
    return mapping.ticket_state(category, resolution, wont_do)


def _resolution(fields: Mapping[str, Any]) -> str | None:
    resolution = fields.get("resolution")
    if isinstance(resolution, Mapping) and resolution.get("name"):
        return str(resolution["name"])
    return None


def _current_labels(fields: Mapping[str, Any], items: list[Any]) -> tuple[str, ...]:
    """`fields.labels` is the issue after the change; a payload without it still shows the
    current labels in a `labels` changelog item's `toString` (space-separated)."""
    if "labels" in fields:
        return tuple(
            label for label in listed(fields["labels"], "fields.labels") if isinstance(label, str)
        )
    for item in items:
        if isinstance(item, Mapping) and str(item.get("field") or "").lower() == "labels":
            return tuple(str(item.get("toString") or "").split())
    return ()


def _user(user: Any) -> str | None:
    if not isinstance(user, Mapping):
        return None
    for field in ("accountId", "displayName", "name"):
        if user.get(field):
            return str(user[field])
    return None


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
    """Events of `jira:issue_updated` (one per changed status/resolution, assignee, due date or
    label), `jira:issue_deleted` and `comment_created`; [] for `jira:issue_created` and events
    not about issues. `options["wont_do_resolutions"]` names the site's won't-do resolutions."""
    data = load_json(body)
    event = data.get("webhookEvent")
    if not isinstance(event, str):
        raise MalformedPayload("a Jira delivery needs `webhookEvent`")
    if event not in _ISSUE_EVENTS:
        return []
    issue = data.get("issue")
    issue = issue if isinstance(issue, Mapping) else {}
    key = text_or_none(issue.get("key"))
    if key is None:
        raise MalformedPayload(f"a Jira {event} delivery needs `issue.key`")
    fields = issue.get("fields")
    fields = fields if isinstance(fields, Mapping) else {}
    stamp = data.get("timestamp") or fields.get("updated")
    if stamp is None:
        raise MalformedPayload(f"a Jira {event} delivery needs `timestamp` or `fields.updated`")
    occurred_at = _utc(stamp)
    delivery = delivery_id(headers, body)
    actor = _user(data.get("user"))
    changelog = data.get("changelog")
    items = (
        listed(changelog.get("items"), "changelog.items") if isinstance(changelog, Mapping) else []
    )
    labels = _current_labels(fields, items)

    def make(kind: EventKind, **extra: Any) -> TrackerEvent:
        values: dict[str, Any] = {"actor": actor, "labels": labels, **extra}
        return TrackerEvent(
            external_key=key, delivery_id=delivery, occurred_at=occurred_at, kind=kind, **values
        )

    if event == "jira:issue_deleted":
        return [make(EventKind.DELETED, state=TicketState.DELETED, raw_status="deleted")]
    if event == "comment_created":
        comment = data.get("comment")
        if not isinstance(comment, Mapping):
            raise MalformedPayload("a comment_created delivery needs `comment`")
        try:
            text = adf_text(comment.get("body"))
        except RecursionError as exc:
            raise MalformedPayload("a comment body nested too deeply to read") from exc
        return [
            make(EventKind.COMMENT_ADDED, comment=text, actor=_user(comment.get("author")) or actor)
        ]

    events: list[TrackerEvent] = []
    state_reported = False
    for item in items:
        if not isinstance(item, Mapping):
            continue
        name = str(item.get("field") or "").lower()
        if name in ("status", "resolution"):
            # A resolution change alone (Done -> Won't Do in the same status) also changes
            # the outcome; one state event per delivery either way.
            if state_reported:
                continue
            state_reported = True
            status = fields.get("status")
            raw = status.get("name") if isinstance(status, Mapping) else None
            events.append(
                make(
                    EventKind.STATE_CHANGED,
                    state=_state(key, fields, _wont_do(options)),
                    raw_status=str(raw or item.get("toString") or ""),
                    resolution=_resolution(fields),
                )
            )
        elif name == "assignee":
            current = _user(fields.get("assignee")) if "assignee" in fields else None
            to = item.get("tmpToAccountId") or item.get("to")
            events.append(
                make(EventKind.ASSIGNEE_CHANGED, assignee=current or (str(to) if to else None))
            )
        elif name == "duedate":
            due = item.get("to") if "to" in item else fields.get("duedate")
            events.append(make(EventKind.DUE_DATE_CHANGED, due_date=_due(due)))
        elif name == "labels":
            before = set(str(item.get("fromString") or "").split())
            after = set(str(item.get("toString") or "").split())
            events += [make(EventKind.LABEL_ADDED, label=label) for label in sorted(after - before)]
            events += [
                make(EventKind.LABEL_REMOVED, label=label) for label in sorted(before - after)
            ]
    return events
