"""The fields of Linear `Issue` and `Comment` webhook deliveries that the parser reads, typed;
every other field is ignored. Field names are Linear's
(https://developers.linear.app/docs/graphql/webhooks)."""

from __future__ import annotations

from typing import Any

from pydantic import StrictInt

from connectors.webhook_support import Account, Payload, VendorDate, VendorTime


class Envelope(Payload):
    type: str
    action: str


class Actor(Payload):
    id: Account | None = None
    name: Account | None = None


class Team(Payload):
    key: str | None = None


class State(Payload):
    type: str | None = None
    name: str | None = None


class Label(Payload):
    id: str | None = None
    name: str


class IssueRef(Payload):
    """An issue as a comment names it."""

    id: str | None = None
    identifier: str | None = None
    number: StrictInt | None = None
    team: Team | None = None


class Issue(IssueRef):
    updatedAt: VendorTime = None
    createdAt: VendorTime = None
    state: State | None = None
    assigneeId: Account | None = None
    dueDate: VendorDate = None
    labels: list[Label] | None = None
    labelIds: list[str] | None = None


class Comment(Payload):
    body: str | None = None
    user: Actor | None = None
    userId: Account | None = None
    issue: IssueRef | None = None
    issueId: str | None = None
    updatedAt: VendorTime = None
    createdAt: VendorTime = None


class UpdatedFrom(Payload):
    """The changed fields' previous values: which keys are present says what changed."""

    stateId: Any = None
    assigneeId: Any = None
    dueDate: Any = None
    labelIds: list[str] | None = None


class _Event(Payload):
    type: str
    action: str
    url: str | None = None
    actor: Actor | None = None
    webhookTimestamp: VendorTime = None


class IssueEvent(_Event):
    data: Issue
    updatedFrom: UpdatedFrom | None = None


class CommentEvent(_Event):
    data: Comment
