"""What the checks read (a snapshot of one postmortem) and what they say (findings)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime

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
    # The owner's display name, so that a registered "Nobody" is read as no one.
    owner_name: str | None = None
    # draft | open | closed | verified | wont_do | reopened; None reads as draft.
    status: str | None = None


@dataclass(frozen=True)
class ConditionSnapshot:
    index: int
    description: str


@dataclass(frozen=True)
class TimelineNote:
    author: str
    text: str


@dataclass(frozen=True)
class DecisionPointSnapshot:
    index: int
    responder: str
    decision: str = ""
    knew: str = ""
    unsure_of: str = ""
    would_have_helped: str = ""


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
    # Lower-cased handles, display names and first names of registered people.
    person_names: frozenset[str] = field(default_factory=frozenset)
    now: datetime = field(default_factory=lambda: datetime.now().astimezone())
    timeline: list[TimelineNote] = field(default_factory=list)
    decision_points: list[DecisionPointSnapshot] = field(default_factory=list)
    # Kinds of the postmortem's links: "runbook", "adr", "dashboard", ...
    link_kinds: frozenset[str] = field(default_factory=frozenset)
    # The postmortem's own prose: title, summary, user impact.
    texts: list[str] = field(default_factory=list)


Rule = Callable[[PostmortemSnapshot, CheckPolicy], Iterator[Finding]]
RULES: dict[str, Rule] = {}


def rule(rule_id: str) -> Callable[[Rule], Rule]:
    def register(fn: Rule) -> Rule:
        RULES[rule_id] = fn
        return fn

    return register


def committed(snapshot: PostmortemSnapshot) -> list[ItemSnapshot]:
    return [item for item in snapshot.items if item.committed]


def item_path(item: ItemSnapshot, name: str = "") -> str:
    return f"action_items[{item.index}]" + (f".{name}" if name else "")
