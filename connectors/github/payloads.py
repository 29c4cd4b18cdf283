"""The fields of GitHub `issues` and `issue_comment` deliveries that the parser reads, typed;
every other field is ignored. Field names are GitHub's
(https://docs.github.com/en/webhooks/webhook-events-and-payloads#issues)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StrictInt

from connectors.webhook_support import Account, Payload, VendorTime

NonEmpty = Annotated[str, Field(min_length=1)]


class Action(Payload):
    action: str


class User(Payload):
    login: Account | None = None


class Label(Payload):
    name: str


class Repository(Payload):
    full_name: NonEmpty


class Issue(Payload):
    number: StrictInt
    updated_at: VendorTime = None
    state_reason: str | None = None
    labels: list[Label] | None = None
    assignee: User | None = None
    # Absent and empty differ: without the list, the deprecated `assignee` decides.
    assignees: list[User] | None = None


class Comment(Payload):
    created_at: VendorTime = None
    body: str | None = None
    user: User | None = None


class IssuesEvent(Payload):
    """An `issues` delivery (closed, reopened, deleted, transferred, (un)assigned, (un)labeled)
    or an `issue_comment` one (which also carries `comment`)."""

    action: str
    issue: Issue
    repository: Repository
    sender: User | None = None
    assignee: User | None = None
    label: Label | None = None
    comment: Comment | None = None
