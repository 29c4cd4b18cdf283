"""The postmortem checks as pure functions over a snapshot: no database, easy to test.

Each rule yields findings at its default severity; the policy may turn a rule off or change its
severity (see `apply_policy`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from app.enums import ChainLevel
from app.settings import CheckPolicy


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: str
    path: str
    message: str


@dataclass(frozen=True)
class ItemSnapshot:
    index: int
    title: str
    description: str
    definition_of_done: list[str]
    verification: str
    owner_kind: str | None  # "person" | "team" | None
    owner: str | None
    due_date: date | None
    chain_level: str | None
    committed: bool
    # The tracker the item's ticket goes to, and whether its owner has an account there.
    tracker: str | None = None
    owner_has_tracker_account: bool | None = None


@dataclass(frozen=True)
class ConditionSnapshot:
    index: int
    description: str


@dataclass(frozen=True)
class PostmortemSnapshot:
    severity: str
    resolved_at: datetime | None
    review_held_at: datetime | None
    chain_walk: dict[str, dict[str, str]]
    items: list[ItemSnapshot]
    conditions: list[ConditionSnapshot]
    timeline_recorded_at: list[datetime]
    decision_point_count: int
    # Lower-cased handles, display names and first names of people: who a blame could name.
    person_names: frozenset[str] = field(default_factory=frozenset)
    now: datetime = field(default_factory=lambda: datetime.now().astimezone())


Rule = Callable[[PostmortemSnapshot, CheckPolicy], Iterator[Finding]]
RULES: dict[str, Rule] = {}


def rule(rule_id: str) -> Callable[[Rule], Rule]:
    def register(fn: Rule) -> Rule:
        RULES[rule_id] = fn
        return fn

    return register


def _committed(snapshot: PostmortemSnapshot) -> list[ItemSnapshot]:
    return [item for item in snapshot.items if item.committed]


def _item_path(item: ItemSnapshot, name: str = "") -> str:
    return f"action_items[{item.index}]" + (f".{name}" if name else "")


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
        if not any(c.strip() for c in item.definition_of_done):
            yield Finding(
                "definition-of-done-present",
                "error",
                _item_path(item, "definition_of_done"),
                f"'{item.title}' has no definition of done: list the checkable criteria",
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


def _word_forms(word: str) -> str:
    """A phrase word and its inflections: investigate -> investigating, try -> tried."""
    if len(word) > 4 and word.endswith("e"):
        return re.escape(word[:-1]) + "(?:e|ing|ion|ation)"
    if len(word) > 2 and word.endswith("y"):
        return re.escape(word[:-1]) + "(?:y|i)"
    return re.escape(word)


def _phrase_pattern(phrases: list[str]) -> re.Pattern[str] | None:
    # Every word may inflect ("looking into"); the match is a prefix, so suffixes are covered.
    cleaned = [
        r"\w*\s+".join(_word_forms(word) for word in ph.lower().split())
        for ph in phrases
        if ph.strip()
    ]
    if not cleaned:
        return None
    return re.compile(
        r"\b(" + "|".join(sorted(cleaned, key=len, reverse=True)) + r")", re.IGNORECASE
    )


@rule("vague-wording")
def vague_wording(s: PostmortemSnapshot, p: CheckPolicy) -> Iterator[Finding]:
    pattern = _phrase_pattern(p.vague_phrases)
    if pattern is None:
        return
    for item in _committed(s):
        match = pattern.search(item.title)
        if match:
            yield Finding(
                "vague-wording",
                "error",
                _item_path(item, "title"),
                f"'{item.title}' is vague ('{match.group(1)}'): say what will exist or be true "
                "when it is done",
            )
        for n, criterion in enumerate(item.definition_of_done):
            match = pattern.search(criterion)
            if match:
                yield Finding(
                    "vague-wording",
                    "warning",
                    _item_path(item, f"definition_of_done[{n}]"),
                    f"Criterion '{criterion}' is vague ('{match.group(1)}'): make it checkable",
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


@rule("l5-only-fix")
def l5_only_fix(s: PostmortemSnapshot, p: CheckPolicy) -> Iterator[Finding]:
    named = [
        lvl
        for lvl in ("L1", "L2", "L3", "L4")
        if (s.chain_walk.get(lvl) or {}).get("contributed") == "yes"
    ]
    levels = {item.chain_level for item in _committed(s) if item.chain_level}
    if named and levels == {ChainLevel.L5.value}:
        yield Finding(
            "l5-only-fix",
            "warning",
            "action_items",
            f"Every fix is at L5 (operation) but the chain walk names {', '.join(named)}: add a fix "
            "where the incident was produced, not only more monitoring",
        )


_BLAME_VERBS = (
    r"should have|shouldn't have|should not have|forgot|failed to|didn't|did not|neglected|"
    r"missed|mistakenly|carelessly|ignored|will be more|must be more|needs to be more|has to be more"
)
# A lookahead, so that every word is tried as the name: a consuming match starting at an
# earlier word ("the freeze Alice forgot") would swallow the real name.
_NAME_THEN_BLAME = re.compile(
    r"\b(?=(?P<name>[A-Za-z][\w.'-]*)\s+(?:\w+\s+){0,2}?(?P<verb>" + _BLAME_VERBS + r")\b)",
    re.IGNORECASE,
)


def _blame_in(text: str, names: frozenset[str], phrases: re.Pattern[str] | None) -> str | None:
    if phrases is not None:
        match = phrases.search(text)
        if match:
            return match.group(1)
    for match in _NAME_THEN_BLAME.finditer(text):
        if match.group("name").lower() in names:
            return f"{match.group('name')} ... {match.group('verb')}"
    return None


@rule("blame-wording")
def blame_wording(s: PostmortemSnapshot, p: CheckPolicy) -> Iterator[Finding]:
    phrases = _phrase_pattern(p.blame_phrases)
    for condition in s.conditions:
        found = _blame_in(condition.description, s.person_names, phrases)
        if found:
            yield Finding(
                "blame-wording",
                "error",
                f"conditions[{condition.index}].description",
                f"This condition blames a person ('{found}'): describe what made the mistake "
                "possible, not who made it",
            )
    for item in s.items:
        for name in ("title", "description"):
            found = _blame_in(getattr(item, name), s.person_names, phrases)
            if found:
                yield Finding(
                    "blame-wording",
                    "error",
                    _item_path(item, name),
                    f"'{item.title}' blames a person ('{found}'): change the system, not the person",
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


@rule("chain-level-missing")
def chain_level_missing(s: PostmortemSnapshot, p: CheckPolicy) -> Iterator[Finding]:
    for item in _committed(s):
        if item.chain_level is None:
            yield Finding(
                "chain-level-missing",
                "info",
                _item_path(item, "chain_level"),
                f"'{item.title}' has no chain level (L1 strategy .. L5 operation)",
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
