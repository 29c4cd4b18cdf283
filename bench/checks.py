"""Precision and recall of the postmortem checks over the labelled corpus in tests/checks_corpus.

    python -m bench.checks [--corpus DIR] [--verbose]

Each case is a fragment of a postmortem laid over a sound one (a postmortem that produces no
finding at all), with the findings it must produce (`expect`, as "rule" or "rule@path") and,
optionally, findings it must not produce (`reject`). Any finding a case produces that it does
not expect counts as a false positive: the base is sound, so nothing else may appear.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from app.checks.people import name_tokens
from app.checks.rules import (
    ConditionSnapshot,
    DecisionPointSnapshot,
    Finding,
    ItemSnapshot,
    PostmortemSnapshot,
    TimelineNote,
    run_rules,
)
from app.settings import CheckPolicy

CORPUS = Path(__file__).resolve().parent.parent / "tests" / "checks_corpus"
RESOLVED = datetime(2026, 11, 2, 9, 40, tzinfo=UTC)
REVIEW = RESOLVED + timedelta(hours=24)
NOW = RESOLVED + timedelta(days=2)

SOUND_ITEM: dict[str, Any] = {
    "title": "Gate deploys on the canary's 5xx rate",
    "description": "",
    "definition_of_done": ["Deploys halt when canary 5xx rate exceeds 1% for 5 minutes"],
    "verification": "Game day: push a failing build to staging and watch the gate stop it",
    "owner_kind": "person",
    "owner": "alice",
    "owner_name": "Alice Example",
    "chain_level": "L4",
    "committed": True,
}
SOUND_CONDITIONS = ["Pool size had no lower bound", "Config pushes skip the canary stage"]
SOUND_PEOPLE = [{"handle": "alice", "display_name": "Alice Example"}]
SOUND_DECISION = {
    "responder": "Bob Oncall",
    "decision": "Rolled back the config push",
    "knew": "A config push had gone out",
    "unsure_of": "Whether it was the cause",
    "would_have_helped": "A diff of the pushed config",
}
SOUND_TIMELINE = [{"author": "alertmanager", "text": "checkout 5xx > 5%"}]


@dataclass(frozen=True)
class Expectation:
    rule: str
    path: str | None

    @classmethod
    def parse(cls, value: str) -> Expectation:
        rule, _, path = value.partition("@")
        return cls(rule.strip(), path.strip() or None)

    def matches(self, finding: Finding) -> bool:
        return finding.rule == self.rule and (self.path is None or finding.path == self.path)

    def __str__(self) -> str:
        return self.rule + (f"@{self.path}" if self.path else "")


@dataclass
class Case:
    id: str
    source: str
    fragment: dict[str, Any]
    expect: list[Expectation]
    reject: list[Expectation]
    note: str = ""
    # A known limitation, with its reason: counted by the bench, tolerated by the test.
    known_miss: str = ""

    @property
    def good(self) -> bool:
        return not self.expect


@dataclass
class Outcome:
    case: Case
    findings: list[Finding]
    missed: list[Expectation] = field(default_factory=list)
    unexpected: list[Finding] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.missed and not self.unexpected


def _item(index: int, overrides: dict[str, Any]) -> ItemSnapshot:
    values = {**SOUND_ITEM, **overrides}
    due_in = values.pop("due_in_days", 7)
    if "due_date" in values and isinstance(values["due_date"], str):
        values["due_date"] = date.fromisoformat(values["due_date"])
    values.setdefault(
        "due_date", None if due_in is None else REVIEW.date() + timedelta(days=due_in)
    )
    if values.get("owner") is None and "owner_kind" not in overrides:
        values["owner_kind"] = None
    return ItemSnapshot(index=index, **values)


def build(fragment: dict[str, Any]) -> PostmortemSnapshot:
    """A sound postmortem with the case's fragment laid over it."""
    items = fragment.get("items")
    if items is None:
        items = [fragment.get("item", {})]
    people = fragment.get("people", SOUND_PEOPLE)
    registered = name_tokens(
        [str(v) for person in people for v in (person["handle"], person["display_name"])],
        CheckPolicy().role_nouns,
    )
    points = fragment.get("decision_points", [SOUND_DECISION])
    timeline = fragment.get("timeline", SOUND_TIMELINE)
    return PostmortemSnapshot(
        severity=fragment.get("severity", "SEV2"),
        resolved_at=RESOLVED,
        review_held_at=REVIEW,
        chain_walk={
            level: {"contributed": str(answer)}
            for level, answer in fragment.get("chain_walk", {}).items()
        },
        items=[_item(i, overrides or {}) for i, overrides in enumerate(items)],
        conditions=[
            ConditionSnapshot(index=i, description=text)
            for i, text in enumerate(fragment.get("conditions", SOUND_CONDITIONS))
        ],
        timeline_recorded_at=[RESOLVED - timedelta(minutes=30), RESOLVED],
        decision_point_count=len(points),
        person_names=registered,
        now=NOW,
        timeline=[TimelineNote(author=t["author"], text=t.get("text", "")) for t in timeline],
        decision_points=[
            DecisionPointSnapshot(index=i, **{**{"responder": ""}, **point})
            for i, point in enumerate(points)
        ],
        link_kinds=frozenset(fragment.get("links", [])),
        texts=[fragment.get("summary", "")],
    )


def _fill(template: dict[str, Any], field_path: str, value: Any) -> dict[str, Any]:
    """Put a group's shorthand value at a dotted path of its template: "item.title"."""
    import copy

    fragment = copy.deepcopy(template)
    target = fragment
    *parents, leaf = field_path.split(".")
    for name in parents:
        target = target.setdefault(name, {})
    target[leaf] = value
    return fragment


def load(corpus: Path = CORPUS) -> list[Case]:
    cases: list[Case] = []
    for path in sorted(corpus.glob("*.y*ml")):
        data = yaml.safe_load(path.read_text()) or {}
        for group in data.get("groups", []):
            for n, raw in enumerate(group.get("cases", [])):
                entry = raw if isinstance(raw, dict) else {"value": raw}
                template = {**group.get("postmortem", {}), **entry.get("postmortem", {})}
                if "value" in entry:
                    template = _fill(template, group["field"], entry["value"])
                expect = entry.get("expect", group.get("expect", []))
                reject = entry.get("reject", group.get("reject", []))
                cases.append(
                    Case(
                        id=f"{path.stem}/{group['name']}/{entry.get('id', n)}",
                        source=path.name,
                        fragment=template,
                        expect=[Expectation.parse(e) for e in expect],
                        reject=[Expectation.parse(r) for r in reject],
                        note=str(entry.get("value", entry.get("note", ""))),
                        known_miss=str(entry.get("known_miss", "")),
                    )
                )
    return cases


def evaluate(case: Case, policy: CheckPolicy | None = None) -> Outcome:
    findings = run_rules(build(case.fragment), policy or CheckPolicy())
    outcome = Outcome(case, findings)
    outcome.missed = [e for e in case.expect if not any(e.matches(f) for f in findings)]
    outcome.unexpected = [
        f
        for f in findings
        if not any(e.matches(f) for e in case.expect) or any(r.matches(f) for r in case.reject)
    ]
    return outcome


@dataclass
class Score:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0


def score(outcomes: list[Outcome]) -> tuple[dict[str, Score], Score]:
    per_rule: dict[str, Score] = defaultdict(Score)
    for o in outcomes:
        for e in o.case.expect:
            per_rule[e.rule].tp += e not in o.missed
            per_rule[e.rule].fn += e in o.missed
        for f in o.unexpected:
            per_rule[f.rule].fp += 1
    total = Score(
        sum(s.tp for s in per_rule.values()),
        sum(s.fp for s in per_rule.values()),
        sum(s.fn for s in per_rule.values()),
    )
    return dict(sorted(per_rule.items())), total


def report(outcomes: list[Outcome], verbose: bool = False) -> str:
    per_rule, total = score(outcomes)
    good = [o for o in outcomes if o.case.good]
    good_errors = [o for o in good if any(f.severity == "error" for f in o.findings)]
    lines = [
        f"{len(outcomes)} cases ({len(good)} good, {len(outcomes) - len(good)} bad), "
        f"{sum(o.passed for o in outcomes)} as labelled",
        "",
        f"{'rule':32} {'tp':>4} {'fp':>4} {'fn':>4} {'precision':>10} {'recall':>8}",
    ]
    for rule_id, s in per_rule.items():
        lines.append(f"{rule_id:32} {s.tp:4} {s.fp:4} {s.fn:4} {s.precision:10.3f} {s.recall:8.3f}")
    lines.append(
        f"{'overall':32} {total.tp:4} {total.fp:4} {total.fn:4} "
        f"{total.precision:10.3f} {total.recall:8.3f}"
    )
    lines.append(f"good cases with an error: {len(good_errors)}")
    misses = [o for o in outcomes if not o.passed]
    lines += ["", f"misses ({len(misses)}):"]
    for o in misses:
        known = f" [known: {o.case.known_miss}]" if o.case.known_miss else ""
        lines.append(f"- {o.case.id}: {o.case.note}{known}")
        for e in o.missed:
            lines.append(f"    missed     {e}")
        for f in o.unexpected:
            lines.append(f"    unexpected {f.rule}@{f.path} ({f.severity}): {f.message}")
    if verbose:
        lines += ["", "all findings:"]
        for o in outcomes:
            lines.append(f"- {o.case.id}: {[f'{f.rule}@{f.path}' for f in o.findings]}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    outcomes = [evaluate(case) for case in load(args.corpus)]
    print(report(outcomes, args.verbose))
    return 0


if __name__ == "__main__":
    sys.exit(main())
