"""Pure Linear mappings: the GraphQL documents we send, the description, states, references."""

from __future__ import annotations

import re

from connectors.base import TicketSpec, TicketState
from connectors.markdown import ticket_markdown

ISSUE_FIELDS = "id identifier url updatedAt dueDate assignee { id } labels { nodes { name } } state { name type }"

VIEWER = "query Viewer { viewer { id name } }"
ISSUE = f"query Issue($id: String!) {{ issue(id: $id) {{ {ISSUE_FIELDS} }} }}"
CREATE = (
    "mutation IssueCreate($input: IssueCreateInput!) "
    "{ issueCreate(input: $input) { success issue { id identifier url } } }"
)
UPDATE = (
    "mutation IssueUpdate($id: String!, $input: IssueUpdateInput!) "
    "{ issueUpdate(id: $id, input: $input) { success } }"
)
COMMENT = "mutation CommentCreate($input: CommentCreateInput!) { commentCreate(input: $input) { success } }"
LABELS = (
    "query Labels($names: [String!]!, $teamId: ID!) "
    "{ issueLabels(filter: { name: { in: $names }, team: { id: { eq: $teamId } } }) { nodes { id name } } }"
)
LABEL_CREATE = (
    "mutation LabelCreate($input: IssueLabelCreateInput!) "
    "{ issueLabelCreate(input: $input) { success issueLabel { id name } } }"
)

# Linear priorities: 0 none, 1 urgent, 2 high, 3 normal, 4 low.
PRIORITIES = {"urgent": 1, "high": 2, "medium": 3, "low": 4}

_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9]*-\d+$")
_URL = re.compile(
    r"^https?://linear\.app/[^/]+/issue/(?P<key>[A-Za-z][A-Za-z0-9]*-\d+)(?:[/?#].*)?$"
)


def render_description(spec: TicketSpec) -> str:
    return ticket_markdown(spec)


def state_of(state_type: str) -> TicketState:
    if state_type == "completed":
        return TicketState.DONE
    if state_type in ("canceled", "duplicate"):
        return TicketState.WONT_DO
    if state_type == "started":
        return TicketState.IN_PROGRESS
    return TicketState.OPEN


def parse_ref(url_or_key: str) -> str | None:
    """The issue identifier ("ENG-7") from itself or a linear.app issue URL."""
    text = url_or_key.strip()
    if _KEY.match(text):
        return text.upper()
    match = _URL.match(text)
    return match.group("key").upper() if match else None


WEBHOOK_CREATE = (
    "mutation WebhookCreate($input: WebhookCreateInput!) "
    "{ webhookCreate(input: $input) { success webhook { id enabled } } }"
)
ISSUES = (
    "query Issues($ids: [ID!]!, $first: Int!) "
    f"{{ issues(filter: {{ id: {{ in: $ids }} }}, first: $first) {{ nodes {{ {ISSUE_FIELDS} }} }} }}"
)
