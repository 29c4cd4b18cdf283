"""GitHub Issues, as the service needs to know it."""

from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field

from connectors.base import TrackerKind
from connectors.github.mapping import REPOSITORY
from connectors.profile import COMMON_KEPT_HEADERS, TrackerProfile, WebhookProfile, WriteLimits


class GitHubToken(BaseModel):
    """A personal access token (classic or fine-grained) with issues read/write."""

    model_config = ConfigDict(extra="forbid")
    token: str = Field(min_length=1)


PROFILE = TrackerProfile(
    kind=TrackerKind.GITHUB,
    display_name="GitHub",
    credentials=(GitHubToken,),
    project_pattern=REPOSITORY,
    project_hint="owner/repo",
    webhook=WebhookProfile(
        events=("issues", "issue_comment"),
        signature_header="X-Hub-Signature-256",
        # The same GUID on a manual redelivery.
        delivery_id_header="x-github-delivery",
        event_header="x-github-event",
        kept_headers=(
            "x-github-event",
            "x-github-delivery",
            "x-github-hook-id",
            *COMMON_KEPT_HEADERS,
        ),
        setup_steps=(
            "In the repository's Settings > Webhooks, add a webhook.",
            "Payload URL: the url in this answer; content type application/json.",
            "Secret: this integration's webhook secret; if it has none, choose one and set it"
            " as its webhook_secret too (PATCH /v1/integrations/{id}).",
            "Events: Issues and Issue comments.",
        ),
    ),
    # A create either lands or not within the request; no index to wait for.
    resend_window=timedelta(0),
    # Secondary limits: writes sent serially, at most 80 content-creating requests a minute and
    # 500 an hour (docs: "Best practices for using the REST API", rate limits for the REST API).
    write_limits=WriteLimits(serial=True, per_minute=80, per_hour=500),
)
