"""Linear connector: GraphQL over httpx, every call sent once.

Creates are truly idempotent: the issue's id is ours (the action item's marker, a UUID v4 that
`IssueCreateInput.id` accepts), so after a lost answer `issue(id:)` says for certain whether the
issue exists, and a resent create with the same id is refused instead of making a second issue.

The connector holds one `httpx.Client`; use one connector per worker thread.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, ClassVar

from connectors.base import (
    ConnectorConfig,
    PermanentConnectorError,
    RetryableConnectorError,
    Target,
    TicketChanges,
    TicketRef,
    TicketSnapshot,
    TicketSpec,
    TicketState,
    TrackerKind,
)
from connectors.linear import mapping
from connectors.linear.client import LinearClient, NotFound
from connectors.linear.profile import PROFILE
from connectors.markdown import state_change_comment

# Ids per reconciliation query (and labels per lookup): Linear's usual page size.
_BATCH = 50


class LinearConnector:
    """Creates and follows Linear issues; `Target.project` is the team id (UUID)."""

    kind: ClassVar[TrackerKind] = TrackerKind.LINEAR

    def __init__(self, config: ConnectorConfig) -> None:
        self._client = LinearClient(
            config.base_url, config.credentials, config.timeout, config.egress
        )
        # Team id -> its workflow states; admins rarely change them, and a refused move drops
        # the team's entry so the next try reads them afresh.
        self._states: dict[str, list[Mapping[str, Any]]] = {}

    # -- the Connector protocol ----------------------------------------------------------------

    def check_credentials(self) -> str:
        """`viewer { id name }` as the configured identity; its name (else its id)."""
        with self._answers("check credentials"):
            viewer = self._client.call(mapping.VIEWER)["viewer"]
            return str(viewer.get("name") or viewer["id"])

    def create_ticket(self, target: Target, spec: TicketSpec) -> TicketRef:
        """One `issueCreate` with input.id = the marker. Label names are resolved (and missing
        labels created) first; those calls change nothing a retry would duplicate.

        A resent create whose first try landed is refused, since the id is taken ("Issue with
        this id already exists"; the wording is not documented). Any refusal is therefore
        checked with `issue(id:)`: when the issue is there, it is the one this create made and
        its ref is the answer; otherwise the refusal stands."""
        label_ids = self._label_ids(target.project, spec.labels) if spec.labels else None
        fields = mapping.create_input(target.project, spec, label_ids)
        try:
            result = self._call(
                "issueCreate",
                f"create issue in team {target.project}",
                mapping.CREATE,
                {"input": fields},
            )
        except NotFound:
            raise  # the team (or a label) is not there: nothing can have been created
        except PermanentConnectorError:
            existing = self._issue_by_id(spec.marker, "look up the refused create")
            if existing is None:
                raise
            return existing
        try:
            if not result.get("success"):
                raise mapping.UnexpectedAnswerError("issueCreate answered success: false")
            return mapping.ref_from_issue(result.get("issue"))
        except mapping.UnexpectedAnswerError as exc:
            # The issue may exist all the same; the caller looks the marker up.
            raise RetryableConnectorError(f"Linear create issue: {exc}") from exc

    def find_by_marker(
        self, target: Target, marker: str, created_after: datetime
    ) -> TicketRef | None:
        """The issue whose id is the marker, if there is one (see `find_all_by_marker`)."""
        found = self.find_all_by_marker(target, marker, created_after)
        return found[0] if found else None

    def find_all_by_marker(
        self, target: Target, marker: str, created_after: datetime
    ) -> list[TicketRef]:
        """`issue(id: marker)`: the marker is the issue's own id, so there is at most one, and
        the answer is certain and immediate (no search index). "Entity not found" means it was
        never created."""
        found = self._issue_by_id(marker, "find by marker")
        return [found] if found is not None else []

    def _issue_by_id(self, issue_id: str, action: str) -> TicketRef | None:
        try:
            issue = self._call("issue", action, mapping.ISSUE_REF, {"id": issue_id})
        except NotFound:
            return None
        return self._ref(issue, action)

    def update_ticket(self, ref: TicketRef, changes: TicketChanges) -> None:
        """`issueUpdate` with the changed title/description/assignee/due date/labels; the
        workflow state is never sent."""
        label_ids = None
        if changes.labels is not None:
            team_id = self._team_of(ref)
            label_ids = self._label_ids(team_id, changes.labels) if changes.labels else []
        fields = mapping.update_input(changes, label_ids)
        if not fields:
            return
        result = self._call(
            "issueUpdate",
            f"update {ref.external_key}",
            mapping.UPDATE,
            {"id": self._issue_id(ref), "input": fields},
        )
        if not result.get("success"):
            raise PermanentConnectorError(f"Linear did not update {ref.external_key}")

    def set_state(
        self,
        ref: TicketRef,
        state: TicketState,
        *,
        comment: str | None = None,
        duplicate_of: TicketRef | None = None,
    ) -> TicketSnapshot:
        """`issueUpdate(stateId)` to the team's lowest-position state of type completed (DONE),
        canceled (WONT_DO; duplicate instead when `duplicate_of` is given and the team has
        such a state) or unstarted, else backlog, else triage (OPEN). The issue's team and its
        states are read first (states cached per team), then the comment is added
        (`commentCreate`, naming the real ticket for a duplicate), then the state is set; the
        snapshot comes from the update's answer."""
        text = state_change_comment(state, comment, duplicate_of)
        team_id = self._team_of(ref)
        states = self._workflow_states(team_id)
        chosen = mapping.pick_state(states, state, duplicate=duplicate_of is not None)
        if chosen is None:
            have = ", ".join(f"{s.get('name')} ({s.get('type')})" for s in states) or "none"
            wanted = " or ".join(mapping.wanted_state_types(state, duplicate_of is not None))
            raise PermanentConnectorError(
                f"Linear team {team_id} has no workflow state of type {wanted} (it has: {have})"
            )
        if text is not None:
            self.comment(ref, text)
        action = f"move {ref.external_key} to {chosen.get('name')!r}"
        try:
            result = self._call(
                "issueUpdate",
                action,
                mapping.SET_STATE,
                {"id": self._issue_id(ref), "input": {"stateId": str(chosen["id"])}},
            )
        except PermanentConnectorError:
            self._states.pop(team_id, None)  # perhaps an admin removed the state
            raise
        with self._answers(action):
            if not result.get("success"):
                raise mapping.UnexpectedAnswerError("issueUpdate did not succeed")
            return mapping.snapshot(result["issue"])

    def _workflow_states(self, team_id: str) -> list[Mapping[str, Any]]:
        if team_id not in self._states:
            answer = self._call(
                "workflowStates",
                f"read the workflow states of team {team_id}",
                mapping.STATES,
                {"teamId": team_id, "first": mapping.STATES_PAGE},
            )
            with self._answers(f"read the workflow states of team {team_id}"):
                self._states[team_id] = [dict(node) for node in answer["nodes"]]
        return self._states[team_id]

    def fetch_state(self, ref: TicketRef) -> TicketSnapshot:
        """The workflow state's type decides; `raw_status` is the state's name. An issue in
        Linear's trash counts as not found, as one deleted for good does."""
        issue = self._call(
            "issue", f"fetch {ref.external_key}", mapping.ISSUE, {"id": self._issue_id(ref)}
        )
        if mapping.trashed(issue):
            raise NotFound(f"Linear: {ref.external_key} was deleted (it is in the trash)")
        with self._answers(f"fetch {ref.external_key}"):
            return mapping.snapshot(issue)

    def fetch_states(
        self, refs: Sequence[TicketRef], etags: Mapping[str, str]
    ) -> dict[str, TicketSnapshot | None]:
        """One `issues(filter: {id: {in: [...]}})` query per 50 tickets, archived ones included
        (no ETags on Linear). Keyed by the key each ref was asked with, even when the issue has
        since moved team and got a new key (the snapshot's ref carries the new one). Issues
        deleted or in the trash are left out."""
        states: dict[str, TicketSnapshot | None] = {}
        by_id = {ref.external_id: ref for ref in refs if ref.external_id}
        ids = list(by_id)
        for start in range(0, len(ids), _BATCH):
            chunk = ids[start : start + _BATCH]
            answer = self._call(
                "issues", "batch fetch", mapping.ISSUES, {"ids": chunk, "first": len(chunk)}
            )
            with self._answers("batch fetch"):
                for issue in answer["nodes"]:
                    asked = by_id.get(issue.get("id"))
                    if asked is not None and not mapping.trashed(issue):
                        states[asked.external_key] = mapping.snapshot(issue)
        for ref in refs:
            if not ref.external_id:  # known by its key only: one lookup each
                try:
                    states[ref.external_key] = self.fetch_state(ref)
                except NotFound:
                    continue
        return states

    def comment(self, ref: TicketRef, text: str) -> None:
        """`commentCreate` with a Markdown body."""
        result = self._call(
            "commentCreate",
            f"comment on {ref.external_key}",
            mapping.COMMENT,
            {"input": {"issueId": self._issue_id(ref), "body": text}},
        )
        if not result.get("success"):
            raise PermanentConnectorError(f"Linear did not add the comment to {ref.external_key}")

    def resolve_ref(self, url_or_key: str) -> TicketRef:
        """ "ENG-7" or "https://linear.app/<workspace>/issue/ENG-7/<slug>"; `issue(id:)` takes
        the identifier too, and answers the issue's current key if it moved team."""
        key = mapping.parse_ref(url_or_key)
        if key is None:
            raise PermanentConnectorError(
                "not a Linear issue reference: expected a key such as ENG-7 or "
                "https://linear.app/<workspace>/issue/ENG-7"
            )
        issue = self._call("issue", f"resolve {key}", mapping.ISSUE_REF, {"id": key})
        return self._ref(issue, f"resolve {key}")

    def register_webhook(self, target: Target, url: str, secret: str) -> str | None:
        """`webhookCreate` for the team's Issue and Comment events (needs admin rights)."""
        fields = {
            "url": url,
            "teamId": target.project,
            "resourceTypes": list(PROFILE.webhook.events),
            "secret": secret,
            "label": "Followthrough",
        }
        result = self._call(
            "webhookCreate", "create webhook", mapping.WEBHOOK_CREATE, {"input": fields}
        )
        with self._answers("create webhook"):
            if not result.get("success") or not result.get("webhook"):
                raise mapping.UnexpectedAnswerError("webhookCreate did not succeed")
            return str(result["webhook"]["id"])

    # -- plumbing ------------------------------------------------------------------------------

    def _label_ids(self, team_id: str, names: Sequence[str]) -> list[str]:
        """Label ids for names, creating team labels for the names Linear does not have."""
        wanted = mapping.label_names(names)
        ids: dict[str, str] = {}
        for start in range(0, len(wanted), _BATCH):
            ids.update(self._find_labels(team_id, wanted[start : start + _BATCH]))
        for name in wanted:
            if name in ids:
                continue
            try:
                created = self._call(
                    "issueLabelCreate",
                    f"create label {name!r}",
                    mapping.LABEL_CREATE,
                    {"input": {"name": name, "teamId": team_id}},
                )
            except PermanentConnectorError:
                # Refused as a duplicate when another worker created it since we looked.
                found = self._find_labels(team_id, [name])
                if name not in found:
                    raise
                ids[name] = found[name]
                continue
            with self._answers(f"create label {name!r}"):
                if not created.get("success"):
                    raise mapping.UnexpectedAnswerError("issueLabelCreate did not succeed")
                ids[name] = str(created["issueLabel"]["id"])
        return [ids[name] for name in wanted]

    def _find_labels(self, team_id: str, names: Sequence[str]) -> dict[str, str]:
        # Several teams may each have a label with the name: ask for enough of them.
        answer = self._call(
            "issueLabels",
            "look labels up",
            mapping.LABELS,
            {"filter": mapping.label_filter(names), "first": 250},
        )
        with self._answers("look labels up"):
            return mapping.pick_labels(answer["nodes"], team_id, names)

    def _team_of(self, ref: TicketRef) -> str:
        issue = self._call(
            "issue",
            f"read team of {ref.external_key}",
            mapping.ISSUE_TEAM,
            {"id": self._issue_id(ref)},
        )
        with self._answers(f"read team of {ref.external_key}"):
            return str(issue["team"]["id"])

    def _call(
        self, root: str, action: str, query: str, variables: Mapping[str, Any]
    ) -> Mapping[str, Any]:
        """Send the document and return `data[root]` (every root we select is an object)."""
        try:
            data = self._client.call(query, variables)
        except NotFound as exc:
            raise NotFound(f"{exc.message} ({action})", status=exc.status) from exc
        value = data.get(root)
        if value is None:
            raise PermanentConnectorError(f"Linear {action}: the answer has no {root}")
        if not isinstance(value, Mapping):
            raise PermanentConnectorError(f"Linear {action}: the answer's {root} is not an object")
        return value

    def _ref(self, issue: Any, action: str) -> TicketRef:
        with self._answers(action):
            return mapping.ref_from_issue(issue)

    @staticmethod
    def _issue_id(ref: TicketRef) -> str:
        # The UUID survives a move to another team; the identifier does not.
        return ref.external_id or ref.external_key

    @staticmethod
    @contextmanager
    def _answers(action: str) -> Iterator[None]:
        """An answer without the fields the document selected is Linear's fault, not ours."""
        try:
            yield
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise PermanentConnectorError(
                f"Linear {action}: unexpected answer ({type(exc).__name__})"
            ) from exc
