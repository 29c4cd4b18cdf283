"""Jira Cloud (and Data Center), as the service needs to know it."""

from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field

from connectors.base import TrackerKind
from connectors.profile import COMMON_KEPT_HEADERS, TrackerProfile, WebhookProfile


class JiraApiToken(BaseModel):
    """Jira Cloud: basic auth with the account's email and an API token."""

    model_config = ConfigDict(extra="forbid")
    email: str = Field(min_length=3, pattern=r"^[^@\s]+@[^@\s]+$")
    api_token: str = Field(min_length=1)


class JiraPat(BaseModel):
    """Jira Data Center 8.14+: a personal access token, sent as a Bearer token."""

    model_config = ConfigDict(extra="forbid")
    pat: str = Field(min_length=1)


PROFILE = TrackerProfile(
    kind=TrackerKind.JIRA,
    display_name="Jira",
    credentials=(JiraApiToken, JiraPat),
    project_pattern=r"^[A-Z][A-Z0-9_]{0,19}$",
    project_hint="a project key such as OPS",
    webhook=WebhookProfile(
        events=("jira:issue_updated", "jira:issue_deleted", "comment_created"),
        # Admin webhooks with a secret (WebSub style, sha256=<hex>).
        signature_header="X-Hub-Signature",
        # Unchanged across Jira's retries; the retry header counts them.
        delivery_id_header="x-atlassian-webhook-identifier",
        event_header=None,
        event_body_field="webhookEvent",
        kept_headers=(
            "x-atlassian-webhook-identifier",
            "x-atlassian-webhook-retry",
            *COMMON_KEPT_HEADERS,
        ),
        # Dynamic webhooks (POST /rest/api/3/webhook) are for Connect and OAuth 2.0 apps only,
        # so an API-token or PAT integration is set up on the admin page.
        setup_steps=(
            "In Jira administration > System > WebHooks, create a webhook.",
            "URL: the url in this answer.",
            "Secret: this integration's webhook secret (Jira then signs every delivery).",
            "JQL filter: the integration's project, for example project = OPS.",
            "Events: Issue updated, Issue deleted and Comment created.",
        ),
    ),
    # /rest/api/3/search/jql is eventually consistent: a new issue may be missing from the
    # marker search for minutes, so a lost create is not sent again before this.
    resend_window=timedelta(minutes=5),
)
