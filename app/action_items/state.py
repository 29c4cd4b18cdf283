"""The action item status machine: the only code that assigns `ActionItem.status`.

Every move — from the API, a webhook delivery, reconciliation or the sync worker — goes through
`transition`, which checks it against ALLOWED, applies every side effect (version, closed and
verified times, clearing verification, the postmortem's completion) and writes one history row
naming its cause. A tracker event that makes no sense from the current status is recorded and
explained instead of forced; the same move asked through the API is refused with a 409.

The times to close and to verify that the dashboard reads are not set here: the item derives
them from the closed and verified times whenever it is written (`keep_durations` in models.py),
so a reopen, which clears those times, clears them too.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlmodel import Session

from app.action_items.history import record
from app.action_items.models import ActionItem
from app.db import utcnow
from app.enums import ActionItemStatus as S
from app.errors import Conflict
from app.postmortems.completion import refresh_completion

ALLOWED: dict[S, frozenset[S]] = {
    S.DRAFT: frozenset({S.OPEN}),
    S.OPEN: frozenset({S.CLOSED, S.WONT_DO}),
    S.REOPENED: frozenset({S.CLOSED, S.WONT_DO}),
    # A closed ticket can be re-resolved in the tracker (done <-> won't do) without a reopen.
    S.CLOSED: frozenset({S.VERIFIED, S.REOPENED, S.WONT_DO}),
    S.WONT_DO: frozenset({S.REOPENED, S.CLOSED}),
    S.VERIFIED: frozenset({S.REOPENED}),
}

# Statuses in which work is still expected: these count as open and can be overdue.
UNFINISHED = frozenset({S.DRAFT, S.OPEN, S.REOPENED})
CLOSED_STATES = frozenset({S.CLOSED, S.WONT_DO, S.VERIFIED})

_WHY_NOT = {
    S.VERIFIED: "only an item closed as done can be verified",
    S.CLOSED: "close an open or reopened item",
    S.REOPENED: "only a closed, won't-do or verified item can be reopened",
    S.WONT_DO: "close an open or reopened item; a verified item is reopened first",
    S.OPEN: "items open when their postmortem is published",
}


class Source(StrEnum):
    API = "api"
    WEBHOOK = "webhook"
    RECONCILIATION = "reconciliation"
    SYNC = "sync"


@dataclass(frozen=True)
class Cause:
    """What made a change, shown in the history as it is."""

    source: Source
    actor: str  # "token:ci-bot", "delivery:72d3…", "run:41", "sync-worker"


@dataclass(frozen=True)
class Transition:
    """What `transition` did, so callers can queue tracker pushes in the same transaction."""

    from_status: S
    to_status: S
    applied: bool
    explanation: str | None = None


def refusal(current: S, target: S) -> str:
    return f"An action item cannot go from {current} to {target}: {_WHY_NOT.get(target, '')}"


def transition(
    session: Session,
    item: ActionItem,
    target: S,
    cause: Cause,
    *,
    note: str | None = None,
    verified_by: str | None = None,
    evidence: str | None = None,
    changes: dict[str, Any] | None = None,
) -> Transition:
    """Move `item` to `target` for `cause`; see the module docstring for the rules."""
    current = S(item.status)
    if target == current and cause.source != Source.API:
        return Transition(current, target, applied=False, explanation=f"already {current}")
    if target not in ALLOWED[current]:
        explanation = refusal(current, target)
        if cause.source == Source.API:
            raise Conflict(explanation)
        record(
            session,
            item,
            source=cause.source,
            actor=cause.actor,
            kind="transition_refused",
            from_status=current.value,
            to_status=target.value,
            changes=changes,
            note=f"{note}; not applied. {explanation}" if note else explanation,
        )
        return Transition(current, target, applied=False, explanation=explanation)

    changes = dict(changes or {})
    now = utcnow()
    if target in (S.CLOSED, S.WONT_DO) and item.closed_at is None:
        item.closed_at = now
    if target == S.VERIFIED:
        item.verified_at = now
        item.verified_by = verified_by
        item.verification_evidence = evidence
        changes["verified_by"] = verified_by
    elif item.verified_at is not None:
        changes["verification_cleared"] = {
            "verified_at": item.verified_at.isoformat(),
            "verified_by": item.verified_by,
            "evidence": item.verification_evidence,
        }
        item.verified_at = item.verified_by = item.verification_evidence = None
    if target in (S.REOPENED, S.OPEN):
        item.closed_at = None
    item.status = target.value
    item.requested_status = None
    item.version += 1
    item.updated_at = now
    session.add(item)
    record(
        session,
        item,
        source=cause.source,
        actor=cause.actor,
        kind="status_changed",
        from_status=current.value,
        to_status=target.value,
        changes=changes,
        note=note,
    )
    session.flush()
    refresh_completion(session, item.postmortem_id)
    return Transition(current, target, applied=True)


def ensure_transition(current: S, target: S) -> None:
    """Refuse (409) a move the machine does not allow, before anything is sent anywhere."""
    if target not in ALLOWED[current]:
        raise Conflict(refusal(current, target))
