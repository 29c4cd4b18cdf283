"""What the admin API asks of a tracker: who the stored credentials are (/test), and its webhook
(/webhook). Both go through `service.connector_for`, so through the egress policy, and report
failures in our words."""

from __future__ import annotations

import secrets
from uuid import UUID

from sqlmodel import Session

from app.crypto import SecretBox
from app.db import utcnow
from app.enums import TrackerKind
from app.errors import InvalidInput
from app.integrations.schemas import IntegrationTestResult, WebhookSetup
from app.integrations.service import connector_for, get, require_credentials
from app.settings import EgressSettings
from connectors import registry
from connectors.base import ConnectorError, RetryableConnectorError, Target


def test_connection(
    session: Session, integration_id: UUID, box: SecretBox, egress: EgressSettings
) -> IntegrationTestResult:
    """Ask the tracker who the stored credentials authenticate as; CredentialsMissing (409)
    when there are none, without calling the tracker. A failure is summarised in our words
    (status and meaning, a refused destination or redirect), never the tracker's answer."""
    integration = get(session, integration_id)
    require_credentials(integration, box)
    try:
        identity = connector_for(integration, box, egress).check_credentials()
    except ConnectorError as exc:
        return IntegrationTestResult(
            ok=False, error=exc.message, retryable=isinstance(exc, RetryableConnectorError)
        )
    except ValueError:
        # The stored credentials cannot be decrypted (the secret key changed).
        return IntegrationTestResult(
            ok=False, error="the stored credentials cannot be decrypted", retryable=False
        )
    return IntegrationTestResult(ok=True, identity=identity)


def webhook_setup(
    session: Session,
    integration_id: UUID,
    public_url: str,
    box: SecretBox,
    egress: EgressSettings,
    *,
    replayable: bool = False,
) -> WebhookSetup:
    """Register the webhook in the tracker where its API allows (GitHub repository hooks,
    Linear webhookCreate); otherwise say exactly what to configure by hand.

    A webhook secret is generated and stored (encrypted) when the integration has none. It is
    handed out in this one answer only when an admin has to paste it into the tracker by hand;
    no later call returns it (to replace it, set `webhook_secret` to null and call again).
    A `replayable` answer (kept for an Idempotency-Key) never carries one: the secret is then
    not generated for manual steps, and the answer says to call again without the key."""
    integration = get(session, integration_id)
    require_credentials(integration, box)
    webhook = registry.profile(TrackerKind(integration.kind)).webhook
    url = f"{public_url.rstrip('/')}/v1/webhooks/{integration.id}"
    generated: str | None = None
    if integration.webhook_secret_sealed is None:
        generated = secrets.token_urlsafe(32)
        integration.webhook_secret_sealed = box.seal(generated)
        integration.updated_at = utcnow()
        session.add(integration)
        session.flush()
    secret = generated or box.open(integration.webhook_secret_sealed)
    target = Target(project=integration.default_project)
    try:
        hook_id = connector_for(integration, box, egress).register_webhook(target, url, secret)
    except ConnectorError as exc:
        # The request fails, so a secret generated above is not kept; the steps say so.
        raise InvalidInput(
            f"{integration.name} refused to create the webhook: {exc.message}; set it up by hand"
            f" with the URL {url}. {webhook.instructions(str(integration.id))}"
        ) from exc
    registered = hook_id is not None
    instructions = (
        "Registered in the tracker." if registered else webhook.instructions(str(integration.id))
    )
    if not registered and generated and replayable:
        # The middleware stores a replayable answer as it is: a secret must not be in it.
        integration.webhook_secret_sealed = None
        session.add(integration)
        session.flush()
        generated = None
        instructions += (
            " This integration has no webhook secret yet, and this answer is kept for its"
            " Idempotency-Key, so it cannot carry one: call again without Idempotency-Key to"
            " get a secret, shown once."
        )
    elif not registered:
        instructions += (
            " The webhook secret is in this answer's secret field and is shown only this once."
            if generated
            else " The webhook secret is the one this integration already has; it is never"
            " shown again (set webhook_secret to null and call this again for a new one)."
        )
    return WebhookSetup(
        registered=registered,
        tracker_webhook_id=hook_id,
        url=url,
        events=list(webhook.events),
        secret_configured=integration.webhook_secret_sealed is not None,
        secret=generated if not registered else None,
        signature_header=webhook.signature_header,
        instructions=instructions,
    )
