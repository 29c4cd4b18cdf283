"""Pure Linear mappings: the GraphQL documents we send, request inputs, the description,
state classification and references. No network here.

Every document is checked against Linear's published schema by the fake in the tests.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

from connectors.base import TicketChanges, TicketRef, TicketSnapshot, TicketSpec, TicketState
from connectors.markdown import ticket_markdown

# `trashed`: a deleted issue stays readable in Linear's trash (archived) for a while.
ISSUE_FIELDS = (
    "id identifier url updatedAt dueDate trashed assignee { id } labels { nodes { name } } "
    "state { name type }"
)

VIEWER = "query Viewer { viewer { id name } }"
ISSUE = f"query Issue($id: String!) {{ issue(id: $id) {{ {ISSUE_FIELDS} }} }}"
ISSUE_REF = "query IssueRef($id: String!) { issue(id: $id) { id identifier url } }"
CREATE = (
    "mutation IssueCreate($input: IssueCreateInput!) "
    "{ issueCreate(input: $input) { success issue { id identifier url } } }"
)
UPDATE = (
    "mutation IssueUpdate($id: String!, $input: IssueUpdateInput!) "
    "{ issueUpdate(id: $id, input: $input) { success } }"
)
COMMENT = (
    "mutation CommentCreate($input: CommentCreateInput!) "
    "{ commentCreate(input: $input) { success } }"
)
ISSUE_TEAM = "query IssueTeam($id: String!) { issue(id: $id) { team { id } } }"
# Workspace labels (no team) are usable on every team, so the lookup is by name only; labels of
# other teams are set aside by `pick_labels`. Case-insensitive, because Linear's uniqueness check
# for label names is: creating "postmortem" next to "Postmortem" is refused as a duplicate.
LABELS = (
    "query Labels($filter: IssueLabelFilter, $first: Int!) "
    "{ issueLabels(filter: $filter, first: $first) { nodes { id name team { id } } } }"
)
LABEL_CREATE = (
    "mutation LabelCreate($input: IssueLabelCreateInput!) "
    "{ issueLabelCreate(input: $input) { success issueLabel { id name } } }"
)
WEBHOOK_CREATE = (
    "mutation WebhookCreate($input: WebhookCreateInput!) "
    "{ webhookCreate(input: $input) { success webhook { id enabled } } }"
)
# A team has a handful of workflow states; 250 is Linear's largest page.
STATES = (
    "query States($teamId: ID!, $first: Int!) "
    "{ workflowStates(filter: { team: { id: { eq: $teamId } } }, first: $first) "
    "{ nodes { id name type position } } }"
)
STATES_PAGE = 250
SET_STATE = (
    "mutation SetState($id: String!, $input: IssueUpdateInput!) "
    f"{{ issueUpdate(id: $id, input: $input) {{ success issue {{ {ISSUE_FIELDS} }} }} }}"
)
# Archived issues included: Linear archives closed issues on its own after a team-set period, and
# a closed ticket still awaiting verification must not read as "not found".
ISSUES = (
    "query Issues($ids: [ID!]!, $first: Int!) "
    "{ issues(filter: { id: { in: $ids } }, first: $first, includeArchived: true) "
    f"{{ nodes {{ {ISSUE_FIELDS} }} }} }}"
)

# Linear priorities: 0 none, 1 urgent, 2 high, 3 normal, 4 low.
PRIORITIES = {"urgent": 1, "high": 2, "medium": 3, "low": 4}

# A team key is a few letters and digits; issue numbers start at 1. Issue URLs are
# https://linear.app/<workspace url key>/issue/<KEY-N>[/<title slug>].
_KEY_PATTERN = r"[A-Za-z][A-Za-z0-9_]{0,9}-[1-9][0-9]{0,9}"
_KEY = re.compile(rf"^{_KEY_PATTERN}$")
_URL = re.compile(
    rf"^https://linear\.app/[A-Za-z0-9_-]+/issue/(?P<key>{_KEY_PATTERN})"
    r"(?:/[A-Za-z0-9_.~%-]*)?/?(?:[?#]\S*)?$"
)


class UnexpectedAnswerError(ValueError):
    """Linear answered without what every answer to the document carries."""


# -- request inputs --------------------------------------------------------------------------


def render_description(spec: TicketSpec) -> str:
    """Markdown: the description, "## Definition of done" as a `- [ ]` checklist,
    "## Verification" and the link back to the postmortem."""
    return ticket_markdown(spec)


def label_names(names: Sequence[str]) -> list[str]:
    """Trimmed, non-empty, each once ignoring case (as Linear compares them), in order."""
    seen: dict[str, str] = {}
    for name in names:
        cleaned = " ".join(name.split())
        if cleaned:
            seen.setdefault(cleaned.casefold(), cleaned)
    return list(seen.values())


def label_filter(names: Sequence[str]) -> dict[str, Any]:
    """IssueLabelFilter for any of `names`, ignoring case (StringComparator has no `in` that
    ignores case, hence one `eqIgnoreCase` per name)."""
    return {"or": [{"name": {"eqIgnoreCase": name}} for name in names]}


def pick_labels(
    nodes: Sequence[Mapping[str, Any]], team_id: str, names: Sequence[str]
) -> dict[str, str]:
    """Wanted name -> id of a label usable on `team_id` with that name (ignoring case): the
    team's own label first, then a workspace label (no team), an exact spelling before another.
    Labels of other teams cannot go on this team's issues."""

    def rank(node: Mapping[str, Any], name: str) -> tuple[int, int]:
        team = node.get("team")
        own = isinstance(team, Mapping) and team.get("id") == team_id
        return (0 if own else 1, 0 if node.get("name") == name else 1)

    picked: dict[str, str] = {}
    for name in names:
        usable = [
            node
            for node in nodes
            if isinstance(node.get("id"), str)
            and isinstance(node.get("name"), str)
            and str(node["name"]).casefold() == name.casefold()
            and (
                node.get("team") is None
                or (isinstance(node.get("team"), Mapping) and node["team"].get("id") == team_id)
            )
        ]
        if usable:
            picked[name] = str(min(usable, key=lambda node: rank(node, name))["id"])
    return picked


def create_input(
    team_id: str, spec: TicketSpec, label_ids: Sequence[str] | None = None
) -> dict[str, Any]:
    """IssueCreateInput with our own id (the marker): a create is then truly idempotent."""
    fields: dict[str, Any] = {
        "id": spec.marker,
        "teamId": team_id,
        "title": spec.title,
        "description": render_description(spec),
    }
    if spec.assignee:
        fields["assigneeId"] = spec.assignee
    if spec.due_date is not None:
        fields["dueDate"] = spec.due_date.isoformat()
    if spec.priority in PRIORITIES:
        fields["priority"] = PRIORITIES[spec.priority or ""]
    if label_ids:
        fields["labelIds"] = list(label_ids)
    return fields


def update_input(changes: TicketChanges, label_ids: Sequence[str] | None = None) -> dict[str, Any]:
    """IssueUpdateInput for the content that changed; never the workflow state."""
    fields: dict[str, Any] = {}
    if changes.spec is not None:
        fields["title"] = changes.spec.title
        fields["description"] = render_description(changes.spec)
    if changes.title is not None:
        fields["title"] = changes.title
    if changes.clear_assignee:
        fields["assigneeId"] = None
    elif changes.assignee is not None:
        fields["assigneeId"] = changes.assignee
    if changes.due_date is not None:
        fields["dueDate"] = changes.due_date.isoformat()
    if label_ids is not None:
        fields["labelIds"] = list(label_ids)
    return fields


# -- answers ---------------------------------------------------------------------------------


def state_of(state_type: str) -> TicketState:
    """WorkflowState.type: completed -> done; canceled/duplicate -> won't do; started -> in
    progress; triage/backlog/unstarted (and anything new) -> open."""
    if state_type == "completed":
        return TicketState.DONE
    if state_type in ("canceled", "duplicate"):
        return TicketState.WONT_DO
    if state_type == "started":
        return TicketState.IN_PROGRESS
    return TicketState.OPEN


def wanted_state_types(state: TicketState, duplicate: bool) -> tuple[str, ...]:
    """WorkflowState.type values for a settable state, in order of preference."""
    if state is TicketState.DONE:
        return ("completed",)
    if state is TicketState.WONT_DO:
        return ("duplicate", "canceled") if duplicate else ("canceled",)
    return ("unstarted", "backlog", "triage")


def pick_state(
    states: Sequence[Mapping[str, Any]], state: TicketState, duplicate: bool
) -> Mapping[str, Any] | None:
    """The team's state to move to: of the first wanted type the team has, the one with the
    lowest position (the first in Linear's board column order)."""
    for state_type in wanted_state_types(state, duplicate):
        candidates = [s for s in states if s.get("type") == state_type and "id" in s]
        if candidates:
            return min(candidates, key=lambda s: float(s.get("position") or 0.0))
    return None


def ref_from_issue(issue: Any) -> TicketRef:
    if not isinstance(issue, Mapping):
        raise UnexpectedAnswerError("Linear answered something other than an issue")
    key, issue_id, url = issue.get("identifier"), issue.get("id"), issue.get("url")
    if not (isinstance(key, str) and isinstance(issue_id, str) and isinstance(url, str)):
        raise UnexpectedAnswerError("Linear answered an issue without id/identifier/url")
    return TicketRef(external_key=key, external_id=issue_id, url=url)


def parse_time(value: str) -> datetime:
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def trashed(issue: Mapping[str, Any]) -> bool:
    """Deleted on Linear: still readable from the trash, but gone for everyone using it."""
    return issue.get("trashed") is True


def snapshot(issue: Mapping[str, Any]) -> TicketSnapshot:
    """A TicketSnapshot from an issue selected with ISSUE_FIELDS."""
    state = issue.get("state")
    updated = issue.get("updatedAt")
    if not isinstance(state, Mapping) or not isinstance(updated, str):
        raise UnexpectedAnswerError("Linear answered an issue without state")
    due = issue.get("dueDate")
    return TicketSnapshot(
        ref=ref_from_issue(issue),
        state=state_of(str(state.get("type", ""))),
        raw_status=str(state.get("name", "")),
        updated_at=parse_time(updated),
        assignee=(issue.get("assignee") or {}).get("id"),
        due_date=date.fromisoformat(due) if due else None,
        labels=tuple(
            str(label["name"])
            for label in (issue.get("labels") or {}).get("nodes") or []
            if isinstance(label, Mapping) and "name" in label
        ),
    )


# -- refs ------------------------------------------------------------------------------------


def parse_ref(url_or_key: str) -> str | None:
    """The issue identifier ("ENG-7") from itself or a linear.app issue URL
    (`https://linear.app/<workspace>/issue/ENG-7/<slug>`)."""
    text = url_or_key.strip()
    if _KEY.match(text):
        return text.upper()
    match = _URL.match(text)
    return match.group("key").upper() if match else None
