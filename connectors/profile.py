"""What the service needs to know about a tracker, declared once in `connectors/<kind>/profile.py`.

A profile is plain facts: the credential shapes an admin may give, what a project looks like,
which webhook events to subscribe to and which headers matter, and how long a lost create may
still land. Importing one never imports the tracker's client library.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pydantic

from connectors.base import TrackerKind

# Worth keeping with every delivery, whichever tracker sent it.
COMMON_KEPT_HEADERS = ("content-type", "user-agent")


@dataclass(frozen=True)
class WebhookProfile:
    """How a tracker's webhooks are subscribed to, signed and told apart."""

    events: tuple[str, ...]
    signature_header: str
    delivery_id_header: str | None
    event_header: str | None
    kept_headers: tuple[str, ...]
    setup_steps: tuple[str, ...]
    # Where the event name is in the body when no header says it (Jira's `webhookEvent`).
    event_body_field: str | None = None

    def __post_init__(self) -> None:
        for name in (self.delivery_id_header, self.event_header, *self.kept_headers):
            if name is not None and name != name.lower():
                raise ValueError(f"header names are lower-case: {name!r}")
        if self.signature_header.lower() in self.kept_headers:
            # A stored signature proves nothing later and helps whoever reads the table.
            raise ValueError(f"{self.signature_header} must not be kept with a delivery")
        for name in (self.delivery_id_header, self.event_header):
            if name is not None and name not in self.kept_headers:
                raise ValueError(f"{name!r} is read later, so it must be in kept_headers")
        if not self.events or not self.setup_steps:
            raise ValueError("a webhook profile needs events and set-up steps")

    def event_name(self, headers: Mapping[str, str], body: Mapping[str, Any] | None) -> str:
        """The delivery's event name: from the event header, else the body field the tracker
        uses; "" when neither says."""
        if self.event_header is not None:
            wanted = self.event_header
            for name, value in headers.items():
                if name.lower() == wanted and value:
                    return value
        if self.event_body_field is not None and isinstance(body, Mapping):
            named = body.get(self.event_body_field)
            if isinstance(named, str):
                return named
        return ""

    def instructions(self, integration_id: str = "{id}") -> str:
        """The set-up steps as one text, numbered; "{id}" in a step names the integration."""
        return " ".join(
            f"{n}. {step.replace('{id}', integration_id)}"
            for n, step in enumerate(self.setup_steps, start=1)
        )


@dataclass(frozen=True)
class WriteLimits:
    """How a tracker asks its writes (creates, edits, comments) to be paced, per workspace."""

    # One write at a time: the service runs at most one outbound job against it at once.
    serial: bool = False
    # Writes allowed in any rolling minute and hour; None where the tracker sets no such cap.
    per_minute: int | None = None
    per_hour: int | None = None


@dataclass(frozen=True)
class TrackerProfile:
    """One tracker's facts, as `app/` reads them."""

    kind: TrackerKind
    display_name: str
    # Each model is one accepted shape (extra="forbid"): a Jira admin gives email + API token
    # or a personal access token, never a mix.
    credentials: tuple[type[pydantic.BaseModel], ...]
    project_pattern: str
    project_hint: str
    webhook: WebhookProfile
    # How long a create whose answer never came may still land (on top of the client timeout
    # the service adds itself).
    resend_window: timedelta
    # Write pacing the tracker documents; None when it documents none beyond its 429s.
    write_limits: WriteLimits | None = None

    def __post_init__(self) -> None:
        if not self.credentials:
            raise ValueError(f"{self.kind}: at least one credential shape")
        for model in self.credentials:
            if model.model_config.get("extra") != "forbid":
                raise ValueError(f"{model.__name__} must forbid extra fields")
        re.compile(self.project_pattern)
        if self.resend_window < timedelta(0):
            raise ValueError(f"{self.kind}: resend_window cannot be negative")

    @property
    def credential_shapes(self) -> tuple[tuple[str, ...], ...]:
        """The field names of each accepted shape, sorted."""
        return tuple(tuple(sorted(model.model_fields)) for model in self.credentials)

    def describe_credentials(self) -> str:
        """'{api_token, email} or {pat}': the accepted shapes as an admin reads them."""
        return " or ".join("{" + ", ".join(shape) + "}" for shape in self.credential_shapes)

    def parse_credentials(self, values: Mapping[str, str]) -> pydantic.BaseModel:
        """The first accepted shape `values` fits exactly; ValueError naming every accepted
        shape otherwise (the message never repeats a value)."""
        for model in self.credentials:
            if set(values) != set(model.model_fields):
                continue
            try:
                return model.model_validate(dict(values))
            except pydantic.ValidationError as exc:
                fields = sorted({str(e["loc"][0]) for e in exc.errors() if e["loc"]})
                raise ValueError(
                    f"credentials for {self.display_name}: {', '.join(fields)} not accepted"
                    f" ({self.describe_credentials()})"
                ) from None
        raise ValueError(
            f"credentials for {self.kind} must be exactly {self.describe_credentials()}"
        )

    def accepts_project(self, project: str) -> bool:
        return re.fullmatch(self.project_pattern, project) is not None

    def check_project(self, project: str, field: str = "project") -> None:
        """ValueError saying what a project looks like for this tracker."""
        if not self.accepts_project(project):
            raise ValueError(
                f"{field} {project!r} is not a valid {self.kind} target:"
                f" expected {self.project_hint}"
            )
