"""The neutral vocabulary between the service and the trackers, and the Connector protocol.

Nothing here knows about the service's tables: the service turns its action items into a
`TicketSpec`, and connectors turn tracker answers into `TicketSnapshot`s and `TrackerEvent`s.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any, ClassVar, Protocol

from connectors.egress.policy import EgressError, RedirectRefused, status_text
from connectors.egress.policy import EgressPolicy as EgressPolicy


class TrackerKind(StrEnum):
    GITHUB = "github"
    JIRA = "jira"
    LINEAR = "linear"


class TicketState(StrEnum):
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    WONT_DO = "wont_do"
    DELETED = "deleted"


class EventKind(StrEnum):
    STATE_CHANGED = "state_changed"
    ASSIGNEE_CHANGED = "assignee_changed"
    DUE_DATE_CHANGED = "due_date_changed"
    LABEL_ADDED = "label_added"
    LABEL_REMOVED = "label_removed"
    COMMENT_ADDED = "comment_added"
    DELETED = "deleted"
    CREATED = "created"
    EDITED = "edited"


@dataclass(frozen=True)
class ConnectorConfig:
    """Everything a connector needs, handed over by the service (decrypted credentials included)."""

    base_url: str | None
    credentials: Mapping[str, str]
    timeout: float = 15.0
    options: Mapping[str, Any] = field(default_factory=dict)
    # Where the connector may send requests; the default allows public addresses only.
    egress: EgressPolicy = field(default_factory=EgressPolicy)


@dataclass(frozen=True)
class Target:
    """Where tickets go: GitHub `owner/repo`; Jira project key (+ issue type); Linear team id."""

    project: str
    issue_type: str | None = None


@dataclass(frozen=True)
class TicketSpec:
    """What a ticket should say. `marker` is the action item's idempotency key, put in every ticket."""

    title: str
    description: str
    definition_of_done: Sequence[str]
    verification: str
    postmortem_url: str
    marker: str
    assignee: str | None = None
    due_date: date | None = None
    labels: Sequence[str] = ()
    priority: str | None = None


@dataclass(frozen=True)
class TicketChanges:
    """A partial update; None means "leave as it is"."""

    title: str | None = None
    spec: TicketSpec | None = None
    assignee: str | None = None
    clear_assignee: bool = False
    due_date: date | None = None
    labels: Sequence[str] | None = None


@dataclass(frozen=True)
class TicketRef:
    """A ticket as the tracker names it. `external_key` is what people read ("OPS-42", "acme/api#12")."""

    external_key: str
    external_id: str
    url: str


@dataclass(frozen=True)
class TicketSnapshot:
    ref: TicketRef
    state: TicketState
    raw_status: str
    updated_at: datetime
    resolution: str | None = None
    assignee: str | None = None
    due_date: date | None = None
    labels: Sequence[str] = ()
    etag: str | None = None


@dataclass(frozen=True)
class TrackerEvent:
    """One thing that happened to a ticket, as every tracker webhook turns into."""

    external_key: str
    delivery_id: str
    occurred_at: datetime
    kind: EventKind
    state: TicketState | None = None
    raw_status: str = ""
    resolution: str | None = None
    assignee: str | None = None
    due_date: date | None = None
    label: str | None = None
    labels: Sequence[str] = ()
    comment: str | None = None
    actor: str | None = None


class ConnectorError(Exception):
    """Base of the only two errors a connector may raise."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class RetryableConnectorError(ConnectorError):
    """Timeouts, 429s, 5xx and connection failures: the same call may succeed later.

    `retry_after` is the tracker's own word on when to try again, in seconds, when it gave one.
    """

    def __init__(
        self, message: str, *, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message, status=status)
        self.retry_after = retry_after


class PermanentConnectorError(ConnectorError):
    """4xx answers that will not change on retry (bad credentials, unknown project, invalid field)."""


# What an HTTP error status means, in our words: a connector's error says this and the status,
# never the body or headers the tracker (or whatever answered instead) sent.
_STATUS_MEANINGS = {
    400: "the request was refused as malformed",
    401: "the credentials were not accepted",
    403: "the credentials lack permission for this, or a rate limit applies",
    404: "not found, or these credentials cannot see it",
    405: "this URL does not take the call; check base_url",
    409: "it conflicts with the current state",
    410: "it was deleted",
    413: "the request was too large",
    422: "what was sent was refused as invalid",
    429: "rate limited",
}


def status_meaning(status: int) -> str:
    if status in _STATUS_MEANINGS:
        return _STATUS_MEANINGS[status]
    if 300 <= status < 400:
        return "a redirect, which is not followed; check base_url"
    if status >= 500:
        return "a failure on the tracker's side"
    return "refused"


def answered(tracker: str, action: str, status: int) -> str:
    """ "GitHub read issue: answered 404 Not Found (not found, or these credentials cannot see
    it)": the status and our classification, nothing the far side wrote."""
    return f"{tracker} {action}: answered {status_text(status)} ({status_meaning(status)})"


def refused_by_egress(tracker: str, action: str, exc: EgressError) -> PermanentConnectorError:
    """The connector error for a destination or redirect the egress policy refused."""
    if isinstance(exc, RedirectRefused):
        return PermanentConnectorError(
            f"{tracker} {action}: {exc.reason}; check base_url, and whether the site, project "
            "or repository was moved or renamed",
            status=exc.status,
        )
    return PermanentConnectorError(f"{tracker} {action}: not called: {exc.reason}")


class Connector(Protocol):
    kind: ClassVar[TrackerKind]

    def check_credentials(self) -> str:
        """Call the tracker as the configured identity and return who that is."""
        ...

    def create_ticket(self, target: Target, spec: TicketSpec) -> TicketRef:
        """Create one ticket carrying `spec.marker`. Sent once, with library retries off:
        after any failure the caller looks the marker up before trying again."""
        ...

    def find_by_marker(
        self, target: Target, marker: str, created_after: datetime
    ) -> TicketRef | None:
        """The ticket carrying `marker`, if the tracker can see one yet."""
        ...

    def find_all_by_marker(
        self, target: Target, marker: str, created_after: datetime
    ) -> list[TicketRef]:
        """Every ticket carrying `marker` that the tracker can see, oldest first (the sweep for
        duplicates left by a create that landed twice)."""
        ...

    def update_ticket(self, ref: TicketRef, changes: TicketChanges) -> None:
        """Apply a partial update to the ticket's content (never its open/closed state)."""
        ...

    def set_state(
        self,
        ref: TicketRef,
        state: TicketState,
        *,
        comment: str | None = None,
        duplicate_of: TicketRef | None = None,
    ) -> TicketSnapshot:
        """Move the ticket to OPEN, DONE or WONT_DO the tracker's own way (GitHub: state and
        state_reason; Jira: a transition into the done category with a resolution, or out of
        it; Linear: the team's completed, canceled or unstarted workflow state). With
        `duplicate_of`, WONT_DO closes it as a duplicate of that ticket. `comment`, when given,
        is added to the ticket first. Returns the ticket as it is after the change."""
        ...

    def fetch_state(self, ref: TicketRef) -> TicketSnapshot:
        """The ticket's current state, assignee, due date and labels."""
        ...

    def fetch_states(
        self, refs: Sequence[TicketRef], etags: Mapping[str, str]
    ) -> dict[str, TicketSnapshot | None]:
        """Many tickets at once, keyed by external key, in as few calls as the tracker allows.
        None means "unchanged since the ETag in `etags`"; a ticket left out was not found."""
        ...

    def comment(self, ref: TicketRef, text: str) -> None:
        """Add a comment to the ticket."""
        ...

    def resolve_ref(self, url_or_key: str) -> TicketRef:
        """Find an existing ticket from its URL or key (to adopt it instead of creating one)."""
        ...

    def register_webhook(self, target: Target, url: str, secret: str) -> str | None:
        """Create the tracker-side webhook where its API allows; returns its id, or None when
        it must be set up by hand (the service then says how)."""
        ...


class WebhookRejected(ValueError):
    """A delivery refused before it is read, with the reason in plain words (for example a
    timestamp outside the freshness window); raised by `verify_signature` where the plain
    "signature does not match" would mislead."""


class MalformedPayload(ValueError):
    """A webhook body that is not what the vendor sends (bad JSON, missing fields)."""


class WebhookParser(Protocol):
    """What each `connectors/<kind>/webhooks.py` module provides, as plain functions.

    Parsing lives here, state changes in the service: a parser turns a vendor delivery into
    neutral `TrackerEvent`s and never touches the database.
    """

    def verify_signature(
        self, headers: Mapping[str, str], body: bytes, secret: str | None, now: datetime
    ) -> bool:
        """True when the delivery is signed with `secret` (constant-time compare, raw bytes,
        freshness window where the vendor sends a timestamp). Header names are lower-case."""
        ...

    def delivery_id(self, headers: Mapping[str, str], body: bytes) -> str:
        """The vendor's delivery id (stable across redeliveries), else a hash of the body."""
        ...

    def parse_events(
        self, headers: Mapping[str, str], body: bytes, options: Mapping[str, Any]
    ) -> list[TrackerEvent]:
        """The events in a delivery; [] for event types the service does not use.
        Raises MalformedPayload for a body that cannot be read."""
        ...
