"""The action item status machine: which moves are allowed, and what each one means."""

from __future__ import annotations

from app.enums import ActionItemStatus as S
from app.errors import Conflict

ALLOWED: dict[S, set[S]] = {
    S.DRAFT: {S.OPEN},
    S.OPEN: {S.CLOSED, S.WONT_DO},
    S.REOPENED: {S.CLOSED, S.WONT_DO},
    S.CLOSED: {S.VERIFIED, S.REOPENED},
    S.WONT_DO: {S.REOPENED},
    S.VERIFIED: {S.REOPENED},
}

# Statuses in which work is still expected: these count as open and can be overdue.
UNFINISHED = frozenset({S.DRAFT, S.OPEN, S.REOPENED})


def ensure_transition(current: S, target: S) -> None:
    if target not in ALLOWED[current]:
        hint = {
            S.VERIFIED: "only an item closed as done can be verified",
            S.CLOSED: "close an open or reopened item",
            S.REOPENED: "only a closed, won't-do or verified item can be reopened",
            S.WONT_DO: "close an open or reopened item",
            S.OPEN: "items open when their postmortem is published",
        }.get(target, "")
        raise Conflict(f"An action item cannot go from {current} to {target}: {hint}")
