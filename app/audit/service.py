"""Write and read the audit log: who did what, to which ids, when, from where, with what outcome.

`record` adds a row to the caller's session and never commits, so the row commits or rolls back
with the change it describes. What goes in is names and ids only: a token's id, name and scope
(never its plain text or hash), the NAMES of the fields a request body set (never their values,
so no credential, webhook secret or token can reach a row).
"""

from __future__ import annotations

import getpass
import ipaddress
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import exists, or_
from sqlmodel import Session, col, select

from app.audit.models import AuditEvent, AuditTarget
from app.audit.schemas import AuditEventRead, AuditTargetRead
from app.auth.service import Caller
from app.pagination import paginate

# Recorded requests, by route template: the name of what each one does. A mutating route that
# is missing here is still recorded, under a name made from its function's name, and
# tests/api/test_audit.py fails until it is named here (or listed there as not audited).
ACTIONS: dict[tuple[str, str], str] = {
    ("POST", "/v1/teams"): "team.create",
    ("PATCH", "/v1/teams/{team_id}"): "team.update",
    ("DELETE", "/v1/teams/{team_id}"): "team.delete",
    ("POST", "/v1/people"): "person.create",
    ("PATCH", "/v1/people/{person_id}"): "person.update",
    ("DELETE", "/v1/people/{person_id}"): "person.delete",
    ("POST", "/v1/postmortems"): "postmortem.create",
    ("PATCH", "/v1/postmortems/{postmortem_id}"): "postmortem.update",
    ("DELETE", "/v1/postmortems/{postmortem_id}"): "postmortem.delete",
    ("POST", "/v1/postmortems/{postmortem_id}/publish"): "postmortem.publish",
    ("POST", "/v1/postmortems/{postmortem_id}/reads"): "postmortem.read",
    ("POST", "/v1/postmortems/{postmortem_id}/action-items"): "action_item.create",
    ("POST", "/v1/postmortems/{postmortem_id}/checks/waivers"): "check_waiver.create",
    (
        "DELETE",
        "/v1/postmortems/{postmortem_id}/checks/waivers/{waiver_id}",
    ): "check_waiver.withdraw",
    ("POST", "/v1/postmortems/{postmortem_id}/timeline"): "timeline_entry.create",
    ("POST", "/v1/postmortems/{postmortem_id}/timeline/import"): "timeline.import",
    ("PATCH", "/v1/postmortems/{postmortem_id}/timeline/{entry_id}"): "timeline_entry.update",
    ("POST", "/v1/postmortems/{postmortem_id}/decision-points"): "decision_point.create",
    (
        "PATCH",
        "/v1/postmortems/{postmortem_id}/decision-points/{point_id}",
    ): "decision_point.update",
    (
        "DELETE",
        "/v1/postmortems/{postmortem_id}/decision-points/{point_id}",
    ): "decision_point.delete",
    ("POST", "/v1/postmortems/{postmortem_id}/conditions"): "condition.create",
    ("PATCH", "/v1/postmortems/{postmortem_id}/conditions/{condition_id}"): "condition.update",
    ("DELETE", "/v1/postmortems/{postmortem_id}/conditions/{condition_id}"): "condition.delete",
    ("PATCH", "/v1/action-items/{item_id}"): "action_item.update",
    ("DELETE", "/v1/action-items/{item_id}"): "action_item.delete",
    ("POST", "/v1/action-items/{item_id}/close"): "action_item.close",
    ("POST", "/v1/action-items/{item_id}/reopen"): "action_item.reopen",
    ("POST", "/v1/action-items/{item_id}/verify"): "action_item.verify",
    ("POST", "/v1/action-items/{item_id}/link"): "action_item.link",
    ("POST", "/v1/action-items/{item_id}/sync"): "action_item.sync",
    ("POST", "/v1/integrations"): "integration.create",
    ("PATCH", "/v1/integrations/{integration_id}"): "integration.update",
    ("DELETE", "/v1/integrations/{integration_id}"): "integration.delete",
    ("POST", "/v1/integrations/{integration_id}/test"): "integration.test",
    ("POST", "/v1/integrations/{integration_id}/webhook"): "integration.webhook_setup",
    ("POST", "/v1/webhook-deliveries/{delivery_id}/retry"): "webhook_delivery.retry",
    ("POST", "/v1/sync-jobs/{job_id}/retry"): "sync_job.retry",
}

# An integration update that replaced or cleared stored credentials or the webhook secret is
# recorded under its own name; one that sent `routes` (and no secret) under another.
CREDENTIALS_CHANGED = "integration.credentials_changed"
ROUTING_CHANGED = "integration.routing_changed"
SECRET_COLUMNS: dict[str, frozenset[str]] = {
    "integration": frozenset({"credentials_sealed", "webhook_secret_sealed"})
}

MAX_FIELDS = 100
MAX_FIELD_NAME = 100
# An import can create thousands of rows; the path's ids come first and are always kept.
MAX_TARGETS = 100


@dataclass(frozen=True)
class Actor:
    """Who acted, as the log shows it."""

    actor: str
    token_id: UUID | None = None
    token_name: str | None = None
    scope: str | None = None

    @classmethod
    def of_caller(cls, caller: Caller) -> Actor:
        return cls(
            actor=caller.actor,
            token_id=caller.token_id,
            token_name=caller.name,
            scope=str(caller.scope),
        )

    @classmethod
    def cli(cls) -> Actor:
        """The operating-system user running the command line."""
        try:
            user = getpass.getuser()
        except (OSError, KeyError):
            # No login name (a container user without a passwd entry): the uid still says who.
            user = f"uid-{os.getuid()}" if hasattr(os, "getuid") else "unknown"
        return cls(actor=f"cli:{user}"[:200])


@dataclass(frozen=True)
class Target:
    kind: str
    id: str


def action_for(method: str, route: str, function_name: str) -> str:
    """The recorded name of a request to `route`: from ACTIONS, else made from the route
    function's name (`list_integrations` -> `integrations.list`)."""
    named = ACTIONS.get((method, route))
    if named is not None:
        return named
    verb, _, noun = function_name.partition("_")
    return f"{noun}.{verb}" if noun else verb


def refine_action(action: str, fields: Sequence[str], changed: set[tuple[str, str]]) -> str:
    """Name an integration update by what it changed: secrets first, then routing."""
    if action != "integration.update":
        return action
    if any(column in SECRET_COLUMNS.get(table, ()) for table, column in changed):
        return CREDENTIALS_CHANGED
    if "routes" in fields:
        return ROUTING_CHANGED
    return action


def field_names(body: Any) -> list[str]:
    """The top-level names a JSON object body set, sorted; never a value."""
    if not isinstance(body, dict):
        return []
    return sorted(str(name)[:MAX_FIELD_NAME] for name in body)[:MAX_FIELDS]


def client_address(
    peer: str | None,
    forwarded_for: Iterable[str],
    trusted: Sequence[ipaddress.IPv4Network | ipaddress.IPv6Network],
) -> str | None:
    """The caller's address: the socket peer, unless that peer is a trusted proxy, in which
    case the nearest address in X-Forwarded-For that is not itself a trusted proxy.

    X-Forwarded-For is read right to left because each proxy appends the address it saw: the
    entries left of the first untrusted one were written by the client and prove nothing."""
    if peer is None or not trusted or not _is_trusted(peer, trusted):
        return peer
    hops = [hop.strip() for header in forwarded_for for hop in header.split(",") if hop.strip()]
    address = peer
    for hop in reversed(hops):
        if not _is_ip(hop):
            break
        address = hop
        if not _is_trusted(hop, trusted):
            break
    return address[:100]


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _is_trusted(
    address: str, trusted: Sequence[ipaddress.IPv4Network | ipaddress.IPv6Network]
) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip.version == network.version and ip in network for network in trusted)


def record(
    session: Session,
    *,
    actor: Actor,
    action: str,
    targets: Sequence[Target] = (),
    fields: Sequence[str] = (),
    method: str | None = None,
    route: str | None = None,
    client: str | None = None,
    request_id: str | None = None,
    status: int | None = None,
) -> AuditEvent:
    """Add one audit row to the session's transaction (never commits). `targets` keeps its
    order and at most MAX_TARGETS ids."""
    event = AuditEvent(
        actor=actor.actor[:200],
        token_id=actor.token_id,
        token_name=actor.token_name,
        scope=actor.scope,
        action=action[:100],
        method=method,
        route=route[:300] if route else None,
        fields=list(fields)[:MAX_FIELDS],
        client_address=client[:100] if client else None,
        request_id=request_id[:200] if request_id else None,
        status=status,
    )
    session.add(event)
    seen: set[str] = set()
    for position, target in enumerate(targets):
        target_id = target.id[:64]
        if target_id in seen:
            continue
        if len(seen) == MAX_TARGETS:
            break
        seen.add(target_id)
        session.add(
            AuditTarget(
                audit_event_id=event.id,
                target_id=target_id,
                kind=target.kind[:64],
                position=position,
            )
        )
    return event


def record_cli(
    session: Session, action: str, token_id: UUID, fields: Sequence[str] = ()
) -> AuditEvent:
    """Record a command-line action on a token ("token.create", "token.revoke") as done by
    the operating-system user, in the command's own transaction."""
    return record(
        session,
        actor=Actor.cli(),
        action=action,
        targets=[Target(kind="api_token", id=str(token_id))],
        fields=fields,
    )


def list_events(
    session: Session,
    *,
    actor: str | None,
    action: str | None,
    target: str | None,
    since: datetime | None,
    until: datetime | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[AuditEvent], str | None]:
    """Audit rows, newest first. `actor` matches the actor string ("token:ci-bot",
    "cli:alice"), a token's name or a token's id; `target` any id the action acted on;
    `since` is inclusive, `until` exclusive."""
    query = select(AuditEvent)
    if actor is not None:
        matches = [col(AuditEvent.actor) == actor, col(AuditEvent.token_name) == actor]
        token_id = _uuid(actor)
        if token_id is not None:
            matches.append(col(AuditEvent.token_id) == token_id)
        query = query.where(or_(*matches))
    if action is not None:
        query = query.where(col(AuditEvent.action) == action)
    if target is not None:
        query = query.where(
            exists().where(
                col(AuditTarget.audit_event_id) == col(AuditEvent.id),
                col(AuditTarget.target_id) == _normalised_target(target),
            )
        )
    if since is not None:
        query = query.where(col(AuditEvent.at) >= since)
    if until is not None:
        query = query.where(col(AuditEvent.at) < until)
    return paginate(
        session, query, at_column=AuditEvent.at, id_column=AuditEvent.id, cursor=cursor, limit=limit
    )


def _uuid(value: str) -> UUID | None:
    try:
        return UUID(value)
    except ValueError:
        return None


def _normalised_target(value: str) -> str:
    """Ids are stored as canonical UUID text; accept any spelling of one."""
    as_uuid = _uuid(value.strip())
    return str(as_uuid) if as_uuid is not None else value.strip()


def to_read(session: Session, events: Sequence[AuditEvent]) -> list[AuditEventRead]:
    ids = [event.id for event in events]
    targets: dict[UUID, list[AuditTarget]] = {event_id: [] for event_id in ids}
    if ids:
        rows = session.exec(
            select(AuditTarget)
            .where(col(AuditTarget.audit_event_id).in_(ids))
            .order_by(col(AuditTarget.position))
        )
        for row in rows:
            targets[row.audit_event_id].append(row)
    return [
        AuditEventRead(
            id=event.id,
            at=event.at,
            actor=event.actor,
            token_id=event.token_id,
            token_name=event.token_name,
            scope=event.scope,
            action=event.action,
            method=event.method,
            route=event.route,
            targets=[AuditTargetRead(kind=t.kind, id=t.target_id) for t in targets[event.id]],
            fields=list(event.fields),
            client_address=event.client_address,
            request_id=event.request_id,
            status=event.status,
        )
        for event in events
    ]
