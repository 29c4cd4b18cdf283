"""Linear, as the service needs to know it."""

from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field

from connectors.base import TrackerKind
from connectors.profile import COMMON_KEPT_HEADERS, TrackerProfile, WebhookProfile


class LinearApiKey(BaseModel):
    """A personal API key (sent without "Bearer")."""

    model_config = ConfigDict(extra="forbid")
    api_key: str = Field(min_length=1)


class LinearOAuthToken(BaseModel):
    """An OAuth 2.0 access token (sent as a Bearer token)."""

    model_config = ConfigDict(extra="forbid")
    oauth_token: str = Field(min_length=1)


PROFILE = TrackerProfile(
    kind=TrackerKind.LINEAR,
    display_name="Linear",
    credentials=(LinearApiKey, LinearOAuthToken),
    project_pattern=r"^\S+$",
    project_hint="a team id",
    webhook=WebhookProfile(
        events=("Issue", "Comment"),
        signature_header="Linear-Signature",
        delivery_id_header="linear-delivery",
        event_header="linear-event",
        event_body_field="type",
        # The timestamp header is the freshness fallback when the body has no webhookTimestamp.
        kept_headers=("linear-delivery", "linear-event", "linear-timestamp", *COMMON_KEPT_HEADERS),
        setup_steps=(
            "In Linear Settings > API > Webhooks (workspace admin), create a webhook.",
            "URL: the url in this answer; team: the integration's team.",
            "Resource types: Issue and Comment.",
            "Copy Linear's signing secret into this integration's webhook_secret"
            " (PATCH /v1/integrations/{id}).",
        ),
    ),
    # Marker search reads the issue right after a create (no index lag reported).
    resend_window=timedelta(0),
)
