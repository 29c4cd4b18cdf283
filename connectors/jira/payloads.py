"""The fields of Jira Cloud webhook deliveries that the parser reads, typed; every other field
(custom fields included) is ignored. Field names are Jira's
(https://developer.atlassian.com/server/jira/platform/webhooks/)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from connectors.webhook_support import Account, Payload, VendorDate, VendorTime


class Envelope(Payload):
    webhookEvent: str


class User(Payload):
    accountId: Account | None = None
    displayName: Account | None = None
    name: Account | None = None


class StatusCategory(Payload):
    key: str | None = None


class Status(Payload):
    name: str | None = None
    statusCategory: StatusCategory | None = None


class Resolution(Payload):
    name: str | None = None


class Fields(Payload):
    updated: VendorTime = None
    status: Status | None = None
    resolution: Resolution | None = None
    assignee: User | None = None
    duedate: VendorDate = None
    labels: list[str] | None = None


class Issue(Payload):
    key: Annotated[str, Field(min_length=1)]
    fields: Fields | None = None


class ChangeItem(Payload):
    field: str | None = None
    fromString: str | None = None
    toString: str | None = None
    from_: str | None = Field(default=None, alias="from")
    to: str | None = None
    tmpToAccountId: Account | None = None


class Changelog(Payload):
    items: list[ChangeItem] | None = None


class Comment(Payload):
    # A plain string, or an Atlassian Document Format tree (read by `adf_text`, any shape).
    body: Any = None
    author: User | None = None


class IssueEvent(Payload):
    """A `jira:issue_updated`, `jira:issue_deleted` or `comment_created` delivery."""

    webhookEvent: str
    timestamp: VendorTime = None
    user: User | None = None
    issue: Issue
    changelog: Changelog | None = None
    comment: Comment | None = None
