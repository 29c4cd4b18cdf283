"""How the fake Linear evaluates the filters the connector sends (IssueLabelFilter,
WorkflowStateFilter).

A filter the fake does not model raises `FakeLimit`, which the fake records as a violation
rather than answering wrongly.
"""

from __future__ import annotations

from typing import Any


class FakeLimit(Exception):
    """The document is valid Linear GraphQL, but asks for something the fake does not model."""


def id_filter(comparator: dict[str, Any]) -> set[str]:
    if set(comparator) == {"in"}:
        return set(comparator["in"])
    if set(comparator) == {"eq"}:
        return {comparator["eq"]}
    raise FakeLimit(f"id comparator {sorted(comparator)}")


def _string_matches(value: str, comparator: dict[str, Any], where: str) -> bool:
    if set(comparator) == {"eq"}:
        return value == comparator["eq"]
    if set(comparator) == {"eqIgnoreCase"}:
        return value.casefold() == str(comparator["eqIgnoreCase"]).casefold()
    if set(comparator) == {"in"}:
        return value in comparator["in"]
    raise FakeLimit(f"{where} comparator {sorted(comparator)}")


def _team_matches(team: dict[str, Any] | None, value: dict[str, Any], where: str) -> bool:
    team_id = (team or {}).get("id")
    if set(value) == {"id"}:
        return team_id in id_filter(value["id"])
    if set(value) == {"null"}:
        return (team_id is None) == bool(value["null"])
    raise FakeLimit(f"{where} team filter {sorted(value)}")


def label_matches(label: dict[str, Any], filters: dict[str, Any]) -> bool:
    """IssueLabelFilter: `name` (eq, eqIgnoreCase, in), `team` (id eq/in, null), and/or."""
    for key, value in filters.items():
        if key == "or":
            ok = any(label_matches(label, f) for f in value)
        elif key == "and":
            ok = all(label_matches(label, f) for f in value)
        elif key == "name":
            ok = _string_matches(label["name"], value, "label name")
        elif key == "team":
            ok = _team_matches(label["team"], value, "label")
        else:
            raise FakeLimit(f"label filter {key}")
        if not ok:
            return False
    return True


def state_matches(state: dict[str, Any], filters: dict[str, Any]) -> bool:
    """WorkflowStateFilter: `team` (id eq/in), `type` and `name` (eq, eqIgnoreCase, in), and/or."""
    for key, value in filters.items():
        if key == "or":
            ok = any(state_matches(state, f) for f in value)
        elif key == "and":
            ok = all(state_matches(state, f) for f in value)
        elif key in ("type", "name"):
            ok = _string_matches(state[key], value, f"workflow state {key}")
        elif key == "team":
            ok = _team_matches(state["team"], value, "workflow state")
        else:
            raise FakeLimit(f"workflow state filter {key}")
        if not ok:
            return False
    return True
