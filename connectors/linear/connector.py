"""Linear connector: GraphQL over httpx. Creates are truly idempotent: the issue's id is ours
(the action item's marker), so after a lost answer `issue(id:)` says for certain what exists."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any, ClassVar

from connectors.base import (
    ConnectorConfig,
    PermanentConnectorError,
    Target,
    TicketChanges,
    TicketRef,
    TicketSnapshot,
    TicketSpec,
    TrackerKind,
)
from connectors.linear import mapping
from connectors.linear.client import LinearClient, NotFound


class LinearConnector:
    kind: ClassVar[TrackerKind] = TrackerKind.LINEAR

    def __init__(self, config: ConnectorConfig) -> None:
        self._client = LinearClient(
            config.base_url or "https://api.linear.app", config.credentials, config.timeout
        )

    def check_credentials(self) -> str:
        viewer = self._client.call(mapping.VIEWER)["viewer"]
        return str(viewer.get("name") or viewer["id"])

    def create_ticket(self, target: Target, spec: TicketSpec) -> TicketRef:
        fields: dict[str, Any] = {
            "id": spec.marker,
            "teamId": target.project,
            "title": spec.title,
            "description": mapping.render_description(spec),
        }
        if spec.assignee:
            fields["assigneeId"] = spec.assignee
        if spec.due_date:
            fields["dueDate"] = spec.due_date.isoformat()
        if spec.priority in mapping.PRIORITIES:
            fields["priority"] = mapping.PRIORITIES[spec.priority or ""]
        if spec.labels:
            fields["labelIds"] = self._label_ids(target.project, list(spec.labels))
        result = self._client.call(mapping.CREATE, {"input": fields})["issueCreate"]
        if not result.get("success") or not result.get("issue"):
            raise PermanentConnectorError("Linear did not create the issue")
        return self._ref(result["issue"])

    def _label_ids(self, team_id: str, names: list[str]) -> list[str]:
        found = self._client.call(mapping.LABELS, {"names": names, "teamId": team_id})[
            "issueLabels"
        ]["nodes"]
        ids = {label["name"]: label["id"] for label in found}
        for name in names:
            if name not in ids:
                created = self._client.call(
                    mapping.LABEL_CREATE, {"input": {"name": name, "teamId": team_id}}
                )
                ids[name] = created["issueLabelCreate"]["issueLabel"]["id"]
        return [ids[name] for name in names]

    def find_by_marker(
        self, target: Target, marker: str, created_after: datetime
    ) -> TicketRef | None:
        try:
            return self._ref(self._client.call(mapping.ISSUE, {"id": marker})["issue"])
        except NotFound:
            return None

    def update_ticket(self, ref: TicketRef, changes: TicketChanges) -> None:
        fields: dict[str, Any] = {}
        if changes.title is not None:
            fields["title"] = changes.title
        if changes.spec is not None:
            fields["description"] = mapping.render_description(changes.spec)
        if changes.assignee is not None:
            fields["assigneeId"] = changes.assignee
        elif changes.clear_assignee:
            fields["assigneeId"] = None
        if changes.due_date is not None:
            fields["dueDate"] = changes.due_date.isoformat()
        if not fields:
            return
        self._client.call(mapping.UPDATE, {"id": ref.external_id, "input": fields})

    def fetch_state(self, ref: TicketRef) -> TicketSnapshot:
        variables = {"id": ref.external_id or ref.external_key}
        return self._snapshot(self._client.call(mapping.ISSUE, variables)["issue"])

    def fetch_states(
        self, refs: Sequence[TicketRef], etags: Mapping[str, str]
    ) -> dict[str, TicketSnapshot | None]:
        """One `issues(filter: {id: {in: [...]}})` query per 50 tickets."""
        states: dict[str, TicketSnapshot | None] = {}
        for start in range(0, len(refs), 50):
            ids = [ref.external_id for ref in refs[start : start + 50]]
            answer = self._client.call(mapping.ISSUES, {"ids": ids, "first": len(ids)})
            for issue in answer["issues"]["nodes"]:
                snapshot = self._snapshot(issue)
                states[snapshot.ref.external_key] = snapshot
        return states

    def _snapshot(self, issue: dict[str, Any]) -> TicketSnapshot:
        state = issue.get("state") or {}
        due = issue.get("dueDate")
        updated = datetime.fromisoformat(str(issue["updatedAt"]).replace("Z", "+00:00"))
        return TicketSnapshot(
            ref=self._ref(issue),
            state=mapping.state_of(str(state.get("type", ""))),
            raw_status=str(state.get("name", "")),
            updated_at=updated if updated.tzinfo else updated.replace(tzinfo=UTC),
            assignee=(issue.get("assignee") or {}).get("id"),
            due_date=date.fromisoformat(due) if due else None,
            labels=[label["name"] for label in (issue.get("labels") or {}).get("nodes", [])],
        )

    def comment(self, ref: TicketRef, text: str) -> None:
        self._client.call(mapping.COMMENT, {"input": {"issueId": ref.external_id, "body": text}})

    def resolve_ref(self, url_or_key: str) -> TicketRef:
        key = mapping.parse_ref(url_or_key)
        if key is None:
            raise PermanentConnectorError(
                f"{url_or_key!r} is neither a Linear key (ENG-7) nor an issue URL"
            )
        return self._ref(self._client.call(mapping.ISSUE, {"id": key})["issue"])

    def register_webhook(self, target: Target, url: str, secret: str) -> str | None:
        fields = {
            "url": url,
            "teamId": target.project,
            "resourceTypes": ["Issue", "Comment"],
            "secret": secret,
            "label": "Followthrough",
        }
        result = self._client.call(mapping.WEBHOOK_CREATE, {"input": fields})["webhookCreate"]
        if not result.get("success") or not result.get("webhook"):
            raise PermanentConnectorError("Linear did not create the webhook")
        return str(result["webhook"]["id"])

    @staticmethod
    def _ref(issue: dict[str, Any]) -> TicketRef:
        return TicketRef(
            external_key=issue["identifier"], external_id=issue["id"], url=issue["url"]
        )
