"""Choosing the Jira transition (and the resolution to set with it) that moves an issue to a
wanted state. Pure: it reads GET /rest/api/3/issue/{id}/transitions?expand=transitions.fields
answers and returns what to POST; no network here.

Workflows are per project and admins rename everything, so the choice goes by the target
status's category (`done` to close, anything else to reopen), with names from the
integration's options as a preference, never as the only way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from connectors.base import TicketState

# Order of preference for reopening: back to "To Do" before "In Progress".
_OPEN_CATEGORIES = {"new": 0, "indeterminate": 1}
# Transition or status names that read as closing without doing the work.
_WONT_DO_WORDS = frozenset({"cancel", "cancelled", "canceled", "decline", "reject", "rejected"})


class NoTransition(ValueError):
    """No transition on offer leads where asked; the message lists what is on offer."""


@dataclass(frozen=True)
class WorkflowOptions:
    """The integration's names for transitions (or their target statuses) and resolutions."""

    done_transition: str | None = None
    wont_do_transition: str | None = None
    reopen_transition: str | None = None
    done_resolution: str = "Done"
    wont_do_resolution: str = "Won't Do"
    duplicate_resolution: str = "Duplicate"

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> WorkflowOptions:
        def text(name: str) -> str | None:
            value = options.get(name)
            return str(value).strip() or None if value is not None else None

        defaults = cls()
        return cls(
            done_transition=text("done_transition"),
            wont_do_transition=text("wont_do_transition"),
            reopen_transition=text("reopen_transition"),
            done_resolution=text("done_resolution") or defaults.done_resolution,
            wont_do_resolution=text("wont_do_resolution") or defaults.wont_do_resolution,
            duplicate_resolution=text("duplicate_resolution") or defaults.duplicate_resolution,
        )


@dataclass(frozen=True)
class Move:
    """What to POST to /transitions: the transition id and the screen fields to set."""

    transition_id: str
    name: str
    fields: dict[str, Any] = field(default_factory=dict)


def normalised(name: str) -> str:
    # Admins type names by hand; a typographic apostrophe (U+2019) is common.
    return " ".join(name.replace("\u2019", "'").casefold().split())


def _category(transition: Mapping[str, Any]) -> str:
    to = transition.get("to") or {}
    return str((to.get("statusCategory") or {}).get("key") or "undefined")


def _names(transition: Mapping[str, Any]) -> set[str]:
    return {
        normalised(str(name))
        for name in (transition.get("name"), (transition.get("to") or {}).get("name"))
        if name
    }


def describe(transitions: Sequence[Mapping[str, Any]]) -> str:
    """ "Start Progress -> In Progress (indeterminate), ..." for error messages."""
    return (
        ", ".join(
            f"{t.get('name')} -> {(t.get('to') or {}).get('name')} ({_category(t)})"
            for t in transitions
        )
        or "none"
    )


def wanted_resolutions(state: TicketState, duplicate: bool, options: WorkflowOptions) -> list[str]:
    """Resolution names to try, best first (normalised, each once)."""
    if state is TicketState.DONE:
        names = [options.done_resolution, "Done", "Fixed"]
    elif duplicate:
        names = [options.duplicate_resolution, "Duplicate", options.wont_do_resolution, "Won't Do"]
    else:
        names = [options.wont_do_resolution, "Won't Do"]
    return list(dict.fromkeys(normalised(name) for name in names))


def _resolution(
    transition: Mapping[str, Any], wanted: list[str], state: TicketState, wont_do: frozenset[str]
) -> tuple[int, dict[str, Any] | None]:
    """(rank, resolution value) for the transition: rank 0 when its screen offers a wanted
    resolution (or one of the right kind), 1 when it has no resolution field (the workflow's
    post functions decide), 2 when it has one but nothing fits (unusable when required, or
    when closing as won't do, which only a resolution can say)."""
    spec = (transition.get("fields") or {}).get("resolution")
    if not isinstance(spec, Mapping):
        return 1, None
    allowed = [v for v in spec.get("allowedValues") or [] if isinstance(v, Mapping)]
    if not allowed:  # the screen does not list them: name the first choice
        return 0, {"name": wanted[0]}
    by_name = {normalised(str(v.get("name") or "")): v for v in allowed}
    choice = next((by_name[name] for name in wanted if name in by_name), None)
    if choice is None:
        # The named resolution does not exist here: one of the same kind will do.
        closing_kind = [
            v for name, v in by_name.items() if (name in wont_do) == (state is TicketState.WONT_DO)
        ]
        choice = closing_kind[0] if closing_kind else None
    if choice is None:
        return 2, None
    return 0, {"id": str(choice["id"])} if choice.get("id") else {"name": str(choice["name"])}


def plan(
    transitions: Sequence[Mapping[str, Any]],
    state: TicketState,
    *,
    duplicate: bool,
    options: WorkflowOptions,
    wont_do: frozenset[str],
) -> Move:
    """The transition to take for `state`, with its resolution when its screen has one.

    DONE and WONT_DO take a transition into the done category; OPEN one out of it (to a
    `new` status before an `indeterminate` one). A transition named in the options (by its
    own name or its target status's) comes first when it is on offer and leads the right way.
    Raises NoTransition, listing what is on offer, when nothing fits."""
    closing = state in (TicketState.DONE, TicketState.WONT_DO)
    named = {
        TicketState.DONE: options.done_transition,
        TicketState.WONT_DO: options.wont_do_transition,
        TicketState.OPEN: options.reopen_transition,
    }.get(state)
    wanted = wanted_resolutions(state, duplicate, options)
    wont_do_words = wont_do | _WONT_DO_WORDS
    ranked: list[tuple[tuple[int, ...], Move]] = []
    for index, transition in enumerate(transitions):
        if transition.get("isAvailable") is False or (_category(transition) == "done") != closing:
            continue
        names = _names(transition)
        rank: tuple[int, ...]
        not_named = 0 if named and normalised(named) in names else 1
        if not closing:
            rank = (not_named, _OPEN_CATEGORIES.get(_category(transition), 2), index)
            ranked.append((rank, Move(str(transition["id"]), str(transition.get("name")))))
            continue
        fit, resolution = _resolution(transition, wanted, state, wont_do)
        spec = (transition.get("fields") or {}).get("resolution") or {}
        if fit == 2 and (spec.get("required") or state is TicketState.WONT_DO):
            continue
        looks_wont_do = 1 if names & wont_do_words else 0
        if state is TicketState.DONE:
            rank = (not_named, looks_wont_do, fit, index)
        else:
            rank = (not_named, fit, 1 - looks_wont_do, index)
        fields = {"resolution": resolution} if resolution is not None else {}
        ranked.append((rank, Move(str(transition["id"]), str(transition.get("name")), fields)))
    if not ranked:
        where = "into the done category" if closing else "out of the done category"
        detail = ""
        if closing:
            detail = f" with a resolution among {', '.join(wanted)} (or one of that kind)"
        raise NoTransition(
            f"no transition leads {where}{detail}; on offer: {describe(transitions)}"
        )
    return min(ranked, key=lambda pair: pair[0])[1]
