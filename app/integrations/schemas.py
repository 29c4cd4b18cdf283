from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from app.enums import TrackerKind
from app.validation import Label, Name, Slug, Url
from connectors import registry

Project = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
IssueType = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Secret = Annotated[str, StringConstraints(min_length=1, max_length=4000)]
PROJECT_HINTS = "; ".join(f"{p.display_name}: {p.project_hint}" for p in registry.PROFILES.values())


class IntegrationOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    timeout_seconds: float = Field(15.0, gt=0, le=120)
    # Jira: resolutions that mean "won't do" when the status category is done.
    wont_do_resolutions: list[Annotated[str, StringConstraints(min_length=1, max_length=100)]] = [
        "Won't Do",
        "Won't Fix",
        "Duplicate",
        "Cannot Reproduce",
        "Declined",
    ]
    # GitHub: its advice is one write a second; tests turn this down against the fakes.
    seconds_between_writes: float = Field(1.0, ge=0, le=60)
    seconds_between_requests: float = Field(0.25, ge=0, le=60)
    # Verification signals from the tracker (the API's POST .../verify always works too).
    verification_label: Annotated[str, StringConstraints(min_length=1, max_length=100)] | None = (
        Field("verified", description="A label that marks a closed ticket verified")
    )
    verification_status: Annotated[str, StringConstraints(min_length=1, max_length=100)] | None = (
        Field(
            None, description='A workflow status (Jira/Linear) that means verified, e.g. "Verified"'
        )
    )
    verify_command: bool = Field(True, description="`/verified <evidence>` in a comment verifies")
    verify_commenters: list[Annotated[str, StringConstraints(min_length=1, max_length=200)]] = (
        Field(
            [],
            description="Tracker accounts allowed to use /verified besides the item's owner "
            "(whose account on this integration always may)",
        )
    )
    allow_unsigned: bool = Field(
        False,
        description="UNSAFE: accept webhook deliveries while the integration has no webhook "
        "secret (Jira sends them unsigned), so anyone who can reach the webhook URL can close "
        "and verify action items. Only Jira sends unsigned deliveries; GitHub and Linear ones "
        "are always checked. Off by default: without a secret deliveries are refused; set one "
        "with POST /v1/integrations/{id}/webhook or webhook_secret instead",
    )


class RouteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    team: Slug
    project: Project | None = None
    issue_type: IssueType | None = None


class RouteRead(BaseModel):
    team: str
    project: str | None
    issue_type: str | None


class IntegrationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: TrackerKind
    name: Name
    base_url: Url | None = Field(None, description="API base URL; omit for the vendor's cloud")
    credentials: dict[str, Secret] = Field(
        description="Write-only; encrypted at rest, never returned"
    )
    webhook_secret: Secret | None = Field(None, description="Write-only; verifies inbound webhooks")
    default_project: Project = Field(description=PROJECT_HINTS)
    default_issue_type: IssueType | None = None
    labels: Annotated[list[Label], Field(max_length=20)] = []
    options: IntegrationOptions = IntegrationOptions()
    routes: Annotated[list[RouteIn], Field(max_length=500)] = []
    is_default: bool = Field(False, description="Used for teams that have no route")
    max_concurrency: int = Field(2, ge=1, le=16)

    @field_validator("credentials")
    @classmethod
    def _credentials_fit_the_tracker(cls, value: dict[str, str], info: ValidationInfo) -> Any:
        if "kind" in info.data:
            registry.profile(info.data["kind"]).parse_credentials(value)
        return value

    @field_validator("default_project")
    @classmethod
    def _project_fits_the_tracker(cls, value: str, info: ValidationInfo) -> str:
        if "kind" in info.data:
            registry.profile(info.data["kind"]).check_project(value, "default_project")
        return value

    @field_validator("routes")
    @classmethod
    def _route_projects_fit_the_tracker(cls, value: list[RouteIn], info: ValidationInfo) -> Any:
        if "kind" in info.data:
            profile = registry.profile(info.data["kind"])
            for index, route in enumerate(value):
                if route.project is not None:
                    profile.check_project(route.project, f"routes[{index}].project")
        return value


class IntegrationUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name | None = None
    base_url: Url | None = None
    credentials: dict[str, Secret] | None = None
    webhook_secret: Secret | None = None
    default_project: Project | None = None
    default_issue_type: IssueType | None = None
    labels: Annotated[list[Label], Field(max_length=20)] | None = None
    options: IntegrationOptions | None = None
    routes: Annotated[list[RouteIn], Field(max_length=500)] | None = None
    is_default: bool | None = None
    max_concurrency: int | None = Field(None, ge=1, le=16)


class IntegrationRead(BaseModel):
    id: UUID
    kind: TrackerKind
    name: str
    base_url: str | None
    default_project: str
    default_issue_type: str | None
    labels: list[str]
    options: IntegrationOptions
    routes: list[RouteRead]
    is_default: bool
    max_concurrency: int
    credential_fields: list[str] = Field(
        description="Which credentials are stored; never their values"
    )
    credentials_configured: bool = Field(
        description="False when no credentials are stored (a base_url change clears them)"
    )
    has_webhook_secret: bool
    webhook_url: str
    paused_until: datetime | None
    created_at: datetime
    updated_at: datetime
    notice: str | None = Field(
        None,
        description="In a PATCH answer: what the change cleared (credentials, webhook secret "
        "after a base_url change) and what to send again",
    )


class IntegrationList(BaseModel):
    items: list[IntegrationRead]


class IntegrationTestResult(BaseModel):
    ok: bool
    identity: str | None = None
    error: str | None = None
    retryable: bool | None = None


class WebhookSetup(BaseModel):
    """How to point the tracker's webhook at this integration."""

    registered: bool
    tracker_webhook_id: str | None = None
    url: str
    events: list[str]
    secret_configured: bool
    secret: str | None = Field(
        None,
        description="The webhook secret to paste into the tracker by hand; only in the answer "
        "of the call that generated it, and only when the tracker could not be set up by API",
    )
    signature_header: str
    instructions: str
