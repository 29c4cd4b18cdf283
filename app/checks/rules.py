"""The postmortem checks as pure functions over a snapshot: no database, easy to test.

Each rule yields findings at its default severity; the policy may turn a rule off or change its
severity (see `apply_policy`).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

from app.checks import review, wording
from app.checks.language import is_placeholder
from app.checks.model import (
    RULES,
    ConditionSnapshot,
    DecisionPointSnapshot,
    Finding,
    ItemSnapshot,
    PostmortemSnapshot,
    TimelineNote,
    committed,
    item_path,
    rule,
)
from app.settings import CheckPolicy

__all__ = [
    "RULES",
    "ConditionSnapshot",
    "DecisionPointSnapshot",
    "Finding",
    "ItemSnapshot",
    "PostmortemSnapshot",
    "TimelineNote",
    "run_rules",
]

_committed = committed
_item_path = item_path
# The rules of the other modules register themselves on import.
_REGISTERED_ELSEWHERE = (review, wording)


@rule("owner-is-person")
def owner_is_person(s: PostmortemSnapshot, p: CheckPolicy) -> Iterator[Finding]:
    for item in _committed(s):
        if item.owner_kind is None:
            yield Finding(
                "owner-is-person",
                "error",
                _item_path(item, "owner"),
                f"'{item.title}' has no owner: name one person who will see it through",
            )
        elif item.owner_kind == "team":
            yield Finding(
                "owner-is-person",
                "error",
                _item_path(item, "owner"),
                f"'{item.title}' is owned by team '{item.owner}': an owner must be a person, not a team",
            )
        elif wording.owner_is_placeholder(item, p):
            yield Finding(
                "owner-is-person",
                "error",
                _item_path(item, "owner"),
                f"'{item.title}' is owned by '{item.owner_name or item.owner}', a placeholder, not a "
                "person: name the one person who will see it through",
            )


@rule("due-date-present")
def due_date_present(s: PostmortemSnapshot, p: CheckPolicy) -> Iterator[Finding]:
    for item in _committed(s):
        if item.due_date is None:
            yield Finding(
                "due-date-present",
                "error",
                _item_path(item, "due_date"),
                f"'{item.title}' has no due date",
            )


_DONE_STATES = frozenset({"closed", "verified", "wont_do"})


@rule("due-date-past")
def due_date_past(s: PostmortemSnapshot, p: CheckPolicy) -> Iterator[Finding]:
    today = s.now.date()
    for item in _committed(s):
        if item.due_date is not None and item.due_date < today and item.status not in _DONE_STATES:
            yield Finding(
                "due-date-past",
                "error",
                _item_path(item, "due_date"),
                f"'{item.title}' is due {item.due_date.isoformat()}, which has already passed: "
                "set the date the owner will really finish it",
            )


@rule("due-date-window")
def due_date_window(s: PostmortemSnapshot, p: CheckPolicy) -> Iterator[Finding]:
    reference = (s.review_held_at or s.now).date()
    limit = reference + timedelta(days=p.due_window_days)
    basis = "the review" if s.review_held_at else "today (no review recorded yet)"
    for item in _committed(s):
        if item.due_date is not None and item.due_date > limit:
            days = (item.due_date - reference).days
            yield Finding(
                "due-date-window",
                "warning",
                _item_path(item, "due_date"),
                f"'{item.title}' is due {days} days after {basis}; the policy is "
                f"{p.due_window_days} days. Longer work is a project: split out a first step",
            )


@rule("definition-of-done-present")
def definition_of_done_present(s: PostmortemSnapshot, p: CheckPolicy) -> Iterator[Finding]:
    for item in _committed(s):
        criteria = [c for c in item.definition_of_done if c.strip()]
        placeholders = [c for c in criteria if is_placeholder(c, p.placeholders)]
        if not criteria:
            yield Finding(
                "definition-of-done-present",
                "error",
                _item_path(item, "definition_of_done"),
                f"'{item.title}' has no definition of done: list the checkable criteria",
            )
        elif len(placeholders) == len(criteria):
            yield Finding(
                "definition-of-done-present",
                "error",
                _item_path(item, "definition_of_done"),
                f"'{item.title}' has only placeholders as its definition of done "
                f"({', '.join(repr(c) for c in placeholders)}): list the checkable criteria",
            )
        else:
            for n, criterion in enumerate(item.definition_of_done):
                if criterion in placeholders:
                    yield Finding(
                        "definition-of-done-present",
                        "error",
                        _item_path(item, f"definition_of_done[{n}]"),
                        f"Criterion '{criterion}' of '{item.title}' is a placeholder: write the "
                        "criterion or remove it",
                    )


@rule("verification-present")
def verification_present(s: PostmortemSnapshot, p: CheckPolicy) -> Iterator[Finding]:
    for item in _committed(s):
        if not item.verification.strip():
            yield Finding(
                "verification-present",
                "error",
                _item_path(item, "verification"),
                f"'{item.title}' has no verification: say how, and by whom, it is shown to work",
            )
        elif is_placeholder(item.verification, p.placeholders):
            yield Finding(
                "verification-present",
                "error",
                _item_path(item, "verification"),
                f"'{item.title}' has '{item.verification.strip()}' as its verification, a "
                "placeholder: say how, and by whom, it is shown to work",
            )


@rule("max-committed-items")
def max_committed_items(s: PostmortemSnapshot, p: CheckPolicy) -> Iterator[Finding]:
    count = len(_committed(s))
    if count > p.max_committed_items:
        yield Finding(
            "max-committed-items",
            "error",
            "action_items",
            f"{count} committed action items; the policy allows {p.max_committed_items}. Commit to "
            "the few that matter and keep the rest as things to remain aware of",
        )


@rule("committed-item-present")
def committed_item_present(s: PostmortemSnapshot, p: CheckPolicy) -> Iterator[Finding]:
    if not _committed(s):
        yield Finding(
            "committed-item-present",
            "error",
            "action_items",
            "No committed action item: a postmortem that changes nothing cannot be published. "
            "Commit to at least one fix with an owner and a date",
        )


@rule("review-lag")
def review_lag(s: PostmortemSnapshot, p: CheckPolicy) -> Iterator[Finding]:
    if s.resolved_at is None:
        yield Finding(
            "review-lag",
            "info",
            "resolved_at",
            "No resolution time recorded, so the review lag cannot be measured",
        )
        return
    window = timedelta(hours=p.review_window_hours)
    if s.review_held_at is not None:
        lag = s.review_held_at - s.resolved_at
        if lag > window:
            yield Finding(
                "review-lag",
                "warning",
                "review_held_at",
                f"The review was held {lag.total_seconds() / 3600:.0f} h after resolution; it should "
                f"be within {p.review_window_hours} h while memories are fresh",
            )
    elif s.now - s.resolved_at > window:
        hours = (s.now - s.resolved_at).total_seconds() / 3600
        yield Finding(
            "review-lag",
            "warning",
            "review_held_at",
            f"No review recorded and {hours:.0f} h have passed since resolution; hold it within "
            f"{p.review_window_hours} h",
        )


@rule("timeline-reconstructed")
def timeline_reconstructed(s: PostmortemSnapshot, p: CheckPolicy) -> Iterator[Finding]:
    entries = s.timeline_recorded_at
    if not entries:
        yield Finding(
            "timeline-reconstructed",
            "warning",
            "timeline",
            "The timeline is empty: write it during the incident, rough is fine",
        )
        return
    if s.resolved_at is None:
        return
    cutoff = s.resolved_at + timedelta(minutes=p.reconstructed_grace_minutes)
    late = sum(1 for recorded in entries if recorded > cutoff)
    if late / len(entries) >= p.reconstructed_share:
        yield Finding(
            "timeline-reconstructed",
            "warning",
            "timeline",
            f"{late} of {len(entries)} timeline entries were written after the incident was resolved: "
            "the timeline was reconstructed after the fact and may have lost the confusion of the moment",
        )


@rule("single-condition")
def single_condition(s: PostmortemSnapshot, p: CheckPolicy) -> Iterator[Finding]:
    if not s.conditions:
        yield Finding(
            "single-condition",
            "warning",
            "conditions",
            "No contributing conditions recorded: list what made this incident possible",
        )
    elif len(s.conditions) == 1:
        yield Finding(
            "single-condition",
            "warning",
            "conditions",
            "Only one contributing condition: that reads as a single root cause; incidents have "
            "several conditions (technical, process, knowledge, timing)",
        )


@rule("responder-timeline")
def responder_timeline(s: PostmortemSnapshot, p: CheckPolicy) -> Iterator[Finding]:
    if s.severity in p.responder_timeline_severities and s.decision_point_count == 0:
        yield Finding(
            "responder-timeline",
            "warning",
            "decision_points",
            f"A {s.severity} needs a responder timeline: at each decision point, what the responder "
            "knew, was unsure of, and what would have helped",
        )


@rule("owner-tracker-account")
def owner_tracker_account(s: PostmortemSnapshot, p: CheckPolicy) -> Iterator[Finding]:
    for item in _committed(s):
        if item.owner_kind == "person" and item.tracker and item.owner_has_tracker_account is False:
            yield Finding(
                "owner-tracker-account",
                "warning",
                _item_path(item, "owner"),
                f"{item.owner} has no {item.tracker} account id, so the ticket for '{item.title}' will "
                f"have no assignee; add it under tracker_accounts.{item.tracker} (PATCH /v1/people/{{id}})",
            )


SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}


def run_rules(snapshot: PostmortemSnapshot, policy: CheckPolicy) -> list[Finding]:
    """Every enabled rule, with the policy's severity overrides, errors first."""
    findings = []
    for rule_id, fn in RULES.items():
        if rule_id in policy.disabled_rules:
            continue
        override = policy.severity_overrides.get(rule_id)
        for finding in fn(snapshot, policy):
            if override in SEVERITY_ORDER:
                finding = Finding(finding.rule, override, finding.path, finding.message)
            findings.append(finding)
    return sorted(findings, key=lambda f: SEVERITY_ORDER[f.severity])
