"""Workflow states in the fake Linear: each team's own states (as a new Linear team starts
with them, plus any a test adds), moving issues between them, and `workflowStates`."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime
from typing import Any

from tests.fake_trackers.linear_filters import state_matches

# (name, type, position) of a new team's states; Linear orders a board's columns by type, then
# by position within the type.
DEFAULT_WORKFLOW = (
    ("Backlog", "backlog", 0.0),
    ("Todo", "unstarted", 1.0),
    ("In Progress", "started", 2.0),
    ("In Review", "started", 3.0),
    ("Done", "completed", 4.0),
    ("Canceled", "canceled", 5.0),
)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class WorkflowStates:
    """Mixed into FakeLinear: `states` by id, each with its `team`."""

    lock: threading.RLock
    teams: dict[str, dict[str, Any]]
    issues: dict[str, dict[str, Any]]

    def __init__(self) -> None:
        super().__init__()
        self.states: dict[str, dict[str, Any]] = {}

    def add_default_workflow(self, team_id: str) -> None:
        for name, state_type, position in DEFAULT_WORKFLOW:
            self.add_state(name, state_type, position, team_id)

    # -- test helpers ----------------------------------------------------------------------

    def add_state(
        self, name: str, state_type: str, position: float, team_id: str | None = None
    ) -> dict[str, Any]:
        """A workflow state an admin added to the team's workflow."""
        with self.lock:
            team_id = team_id or next(iter(self.teams))
            state = {
                "id": str(uuid.uuid4()),
                "name": name,
                "type": state_type,
                "position": position,
                "color": "#bec2c8",
                "team": self.teams[team_id],
                "createdAt": _now(),
                "updatedAt": _now(),
                "archivedAt": None,
            }
            self.states[state["id"]] = state
            return state

    def state_named(self, name: str, team_id: str | None = None) -> dict[str, Any]:
        with self.lock:
            team_id = team_id or next(iter(self.teams))
            return next(
                s for s in self.states.values() if s["name"] == name and s["team"]["id"] == team_id
            )

    def set_state(self, issue_id: str, name: str, state_type: str) -> None:
        """Move an issue to a workflow state, as a person on Linear would: the team's state of
        that name and type (added to the team's workflow first if it has none)."""
        with self.lock:
            issue = self.issues[issue_id]
            team_id = issue["team"]["id"]
            state = next(
                (
                    s
                    for s in self.states.values()
                    if (s["name"], s["type"], s["team"]["id"]) == (name, state_type, team_id)
                ),
                None,
            ) or self.add_state(name, state_type, 99.0, team_id)
            self._move(issue, state)

    def _move(self, issue: dict[str, Any], state: dict[str, Any]) -> None:
        issue["state"] = state
        now = _now()
        issue["completedAt"] = now if state["type"] == "completed" else None
        issue["canceledAt"] = now if state["type"] in ("canceled", "duplicate") else None
        issue["updatedAt"] = now

    # -- resolvers ---------------------------------------------------------------------------

    def _first_state(self, team_id: str, state_type: str) -> dict[str, Any]:
        return min(
            (
                s
                for s in self.states.values()
                if s["team"]["id"] == team_id and s["type"] == state_type
            ),
            key=lambda s: s["position"],
        )

    def _workflowStates(self, args: dict[str, Any]) -> Any:
        filters = args.get("filter") or {}
        found = [s for s in self.states.values() if state_matches(s, filters)]
        first = args.get("first") or 50
        return {"nodes": found[:first], "pageInfo": {"hasNextPage": len(found) > first}}
