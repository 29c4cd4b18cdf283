"""The checks on the chain walk and the review record: where each fix belongs (L1 strategy ..
L5 operation), decision points that answer nothing, runbooks and ADRs named but not linked."""

from __future__ import annotations

from collections.abc import Iterator

from app.checks import language as lang
from app.checks.language import is_placeholder
from app.checks.model import Finding, PostmortemSnapshot, committed, item_path, rule
from app.settings import CheckPolicy

_committed = committed
_item_path = item_path


_LEVELS = ("L1", "L2", "L3", "L4", "L5")
_LEVEL_NAMES = {
    "L1": "strategy",
    "L2": "discovery",
    "L3": "scope",
    "L4": "execution",
    "L5": "operation",
}


def _named_levels(s: PostmortemSnapshot) -> list[str]:
    return [lvl for lvl in _LEVELS if (s.chain_walk.get(lvl) or {}).get("contributed") == "yes"]


@rule("l5-only-fix")
def l5_only_fix(s: PostmortemSnapshot, p: CheckPolicy) -> Iterator[Finding]:
    named = _named_levels(s)
    higher = [lvl for lvl in named if lvl != "L5"]
    levels = {item.chain_level for item in _committed(s) if item.chain_level}
    if levels != {"L5"}:
        return
    if higher:
        yield Finding(
            "l5-only-fix",
            "warning",
            "action_items",
            f"Every fix is at L5 (operation) but the chain walk names {', '.join(higher)}: add a fix "
            "where the incident was produced, not only more monitoring",
        )
    elif not named:
        yield Finding(
            "l5-only-fix",
            "warning",
            "action_items",
            "Every fix is at L5 (operation) and no chain walk says which levels produced the "
            "incident: walk L1 strategy to L5 operation and fix where it was produced, not only "
            "with more monitoring",
        )


@rule("chain-level-below")
def chain_level_below(s: PostmortemSnapshot, p: CheckPolicy) -> Iterator[Finding]:
    named = _named_levels(s)
    if not named:
        return
    lowest = max(_LEVELS.index(lvl) for lvl in named)
    for item in _committed(s):
        if item.chain_level in _LEVELS and _LEVELS.index(item.chain_level) > lowest:
            yield Finding(
                "chain-level-below",
                "warning",
                _item_path(item, "chain_level"),
                f"'{item.title}' is at {item.chain_level} ({_LEVEL_NAMES[item.chain_level]}), below "
                f"every level the chain walk says produced the incident ({', '.join(named)}): fix "
                "it where it was produced, or correct the walk",
            )


@rule("chain-level-missing")
def chain_level_missing(s: PostmortemSnapshot, p: CheckPolicy) -> Iterator[Finding]:
    named = _named_levels(s)
    for item in _committed(s):
        if item.chain_level is None:
            if named:
                yield Finding(
                    "chain-level-missing",
                    "warning",
                    _item_path(item, "chain_level"),
                    f"'{item.title}' has no chain level, and the chain walk names "
                    f"{', '.join(named)}: say at which level (L1 strategy .. L5 operation) it fixes",
                )
            else:
                yield Finding(
                    "chain-level-missing",
                    "info",
                    _item_path(item, "chain_level"),
                    f"'{item.title}' has no chain level (L1 strategy .. L5 operation)",
                )


@rule("decision-point-answers")
def decision_point_answers(s: PostmortemSnapshot, p: CheckPolicy) -> Iterator[Finding]:
    for point in s.decision_points:
        answers = (point.knew, point.unsure_of, point.would_have_helped)
        if all(not a.strip() or is_placeholder(a, p.placeholders) for a in answers):
            yield Finding(
                "decision-point-answers",
                "warning",
                f"decision_points[{point.index}]",
                f"The decision point of {point.responder or 'the responder'} answers none of its "
                "three questions: what they knew, what they were unsure of, and what would have "
                "helped them act sooner",
            )


_MENTIONS = {
    "runbook": ("runbook", "runbooks", "playbook", "playbooks", "run book", "run-book"),
    "adr": ("adr", "adrs", "decision record", "decision records"),
}


@rule("runbook-link")
def runbook_link(s: PostmortemSnapshot, p: CheckPolicy) -> Iterator[Finding]:
    texts = [n.text for n in s.timeline] + [c.description for c in s.conditions]
    for kind, words in _MENTIONS.items():
        if kind in s.link_kinds:
            continue
        for text in texts:
            toks = lang.tokens(text)
            hits = [t for t in toks if t.lower in words] + [
                t for t in toks if kind == "adr" and t.lower.startswith("adr-")
            ]
            phrase = lang.find_phrases(toks, [w for w in words if " " in w], skip_names=False)
            if hits or phrase:
                label = "runbook" if kind == "runbook" else "decision record (ADR)"
                yield Finding(
                    "runbook-link",
                    "warning",
                    "links",
                    f"The postmortem mentions a {label} ('{text}') but links none: link it "
                    f"(links of kind {kind}) and update the {label} before closing",
                )
                break
