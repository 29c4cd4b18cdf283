"""The fake Jira's workflow: statuses with their categories, transitions (with or without a
resolution screen), resolutions, and the /issue/{id}/transitions routes.

As Jira Cloud answers them: GET lists the transitions available from the issue's status (the
screen's fields only with `expand=transitions.fields`); POST takes `transition.id` and, in
`fields`, only what the transition's screen has, and answers 204. Taking a transition into the
done category sets the resolution from the screen (or the transition's post function); leaving
it clears the resolution, as Jira's default workflows do.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tests.fake_trackers import jira_shapes as shapes
from tests.fake_trackers.server import Reply, Request

NOT_ON_SCREEN = "Field '{}' cannot be set. It is not on the appropriate screen, or unknown."


@dataclass
class Transition:
    id: str
    name: str
    to: str
    # Statuses it is offered from; None with `from_category` None: a global transition.
    sources: frozenset[str] | None = None
    # Offered from every status of this category (so statuses a test invents get it too).
    from_category: str | None = None
    resolution_screen: bool = False
    resolution_required: bool = True
    # A post function's resolution, for a transition without a screen.
    sets_resolution: str | None = None


@dataclass
class Workflow:
    statuses: dict[str, str] = field(
        default_factory=lambda: {"To Do": "new", "In Progress": "indeterminate", "Done": "done"}
    )
    transitions: list[Transition] = field(
        default_factory=lambda: [
            Transition("11", "Start Progress", "In Progress", sources=frozenset({"To Do"})),
            Transition("21", "Stop Progress", "To Do", sources=frozenset({"In Progress"})),
            Transition("31", "Done", "Done", resolution_screen=True),
            Transition("41", "Reopen", "To Do", from_category="done"),
        ]
    )
    # What the resolution field on a screen offers.
    resolutions: list[str] = field(
        default_factory=lambda: ["Done", "Won't Do", "Duplicate", "Cannot Reproduce"]
    )

    def available(self, status: str) -> list[Transition]:
        category = self.statuses.get(status)
        return [
            t
            for t in self.transitions
            if t.to != status
            and (
                (t.sources is not None and status in t.sources)
                or (t.from_category is not None and t.from_category == category)
                or (t.sources is None and t.from_category is None)
            )
        ]


def _now() -> str:
    return shapes.jira_time(datetime.now(UTC))


class JiraWorkflow:
    """Mixed into FakeJira: `workflow` (replace or edit it in a test), status and resolution
    ids, the "as a person would" `transition` helper and the /transitions routes."""

    base_url: str
    lock: threading.RLock
    issues: dict[str, dict[str, Any]]

    def __init__(self) -> None:
        super().__init__()
        self.workflow = Workflow()
        self.statuses: dict[str, str] = {}
        self.resolutions: dict[str, str] = {}
        for name in self.workflow.resolutions:
            self._resolution(name)

    # -- test helpers --------------------------------------------------------------------------

    def transition(
        self, key: str, status_name: str, category: str, resolution: str | None = None
    ) -> None:
        """Move an issue as a person would in the UI: status (and its category) and resolution."""
        with self.lock:
            self.workflow.statuses.setdefault(status_name, category)
            fields = self.issues[key]["fields"]
            fields["status"] = self._status(status_name, category)
            fields["resolution"] = self._resolution(resolution) if resolution else None
            fields["resolutiondate"] = _now() if resolution else None
            fields["statuscategorychangedate"] = fields["updated"] = _now()

    def add_transition(self, transition: Transition, category: str | None = None) -> None:
        """A transition an admin added, to a new status of `category` if it is not known."""
        with self.lock:
            if category is not None:
                self.workflow.statuses.setdefault(transition.to, category)
            self.workflow.transitions.append(transition)

    # -- rendering -----------------------------------------------------------------------------

    def _status(self, name: str, category: str) -> dict[str, Any]:
        status_id = self.statuses.setdefault(name, str(10000 + len(self.statuses)))
        return shapes.status(self.base_url, status_id, name, category)

    def _resolution(self, name: str) -> dict[str, Any]:
        resolution_id = self.resolutions.setdefault(name, str(10000 + len(self.resolutions)))
        return shapes.named(self.base_url, "resolution", resolution_id, name)

    def _render_transition(self, transition: Transition, with_fields: bool) -> dict[str, Any]:
        to = self._status(transition.to, self.workflow.statuses[transition.to])
        rendered: dict[str, Any] = {
            "id": transition.id,
            "name": transition.name,
            "to": to,
            "hasScreen": transition.resolution_screen,
            "isGlobal": transition.sources is None and transition.from_category is None,
            "isInitial": False,
            "isAvailable": True,
            "isConditional": False,
            "isLooped": False,
        }
        if with_fields:
            rendered["fields"] = {}
            if transition.resolution_screen:
                rendered["fields"]["resolution"] = {
                    "required": transition.resolution_required,
                    "schema": {"type": "resolution", "system": "resolution"},
                    "name": "Resolution",
                    "key": "resolution",
                    "operations": ["set"],
                    "allowedValues": [self._resolution(n) for n in self.workflow.resolutions],
                }
        return rendered

    # -- the routes (called holding self.lock) -------------------------------------------------

    def _transitions(
        self, issue: dict[str, Any], method: str, query: dict[str, list[str]], request: Request
    ) -> Reply:
        offered = self.workflow.available(issue["fields"]["status"]["name"])
        if method == "GET":
            wanted = query.get("transitionId")
            with_fields = "transitions.fields" in ",".join(query.get("expand") or [])
            listed = [t for t in offered if not wanted or t.id in wanted]
            return Reply(
                200,
                {
                    "expand": "transitions",
                    "transitions": [self._render_transition(t, with_fields) for t in listed],
                },
            )
        if method != "POST":
            return shapes.error(405, [f"{method} is not allowed here"])
        body = request.json() or {}
        wanted_id = str((body.get("transition") or {}).get("id") or "")
        transition = next((t for t in offered if t.id == wanted_id), None)
        if transition is None:
            return shapes.error(400, [f"Transition id '{wanted_id}' is not valid for this issue."])
        fields = dict(body.get("fields") or {})
        errors = {name: NOT_ON_SCREEN.format(name) for name in body.get("update") or {}}
        errors |= {
            name: NOT_ON_SCREEN.format(name)
            for name in fields
            if name != "resolution" or not transition.resolution_screen
        }
        resolution = transition.sets_resolution
        if transition.resolution_screen and not errors:
            given = fields.get("resolution")
            resolution = self._chosen_resolution(given)
            if given is not None and resolution is None:
                errors["resolution"] = f"Resolution '{_reference(given)}' does not exist."
            elif resolution is None and transition.resolution_required:
                errors["resolution"] = "Resolution is required."
        if errors:
            return shapes.error(400, errors=errors)
        self._move(issue, transition.to, resolution)
        return Reply(204)

    def _chosen_resolution(self, given: Any) -> str | None:
        if not isinstance(given, dict):
            return None
        for name in self.workflow.resolutions:
            if given.get("name") == name or given.get("id") == self.resolutions.get(name):
                return name
        return None

    def _move(self, issue: dict[str, Any], status: str, resolution: str | None) -> None:
        fields = issue["fields"]
        category = self.workflow.statuses[status]
        now = _now()
        if fields["status"]["statusCategory"]["key"] != category:
            fields["statuscategorychangedate"] = now
        fields["status"] = self._status(status, category)
        closed = category == "done" and resolution is not None
        fields["resolution"] = self._resolution(resolution) if closed and resolution else None
        fields["resolutiondate"] = now if closed else None
        fields["updated"] = now


def _reference(given: Any) -> str:
    return str(given.get("name") or given.get("id")) if isinstance(given, dict) else str(given)
