"""Migration 0019: deliveries stored as applied that were about no ticket of ours become
'foreign', so that retention deletes the old ones too; down again, they read as before."""

from __future__ import annotations

from alembic import command
from sqlalchemy import create_engine, text

from app.integrations.models import Integration
from app.migrate import alembic_config
from app.webhooks.models import WebhookDelivery

DETAILS = {
    "one-foreign": ("applied", "acme/api#77: not a ticket of ours"),
    "two-foreign": (
        "applied",
        "acme/api#77: not a ticket of ours; acme/api#78: not a ticket of ours",
    ),
    "mixed": ("applied", "acme/api#1: closed; acme/api#77: not a ticket of ours"),
    "ours": ("applied", "acme/api#1: closed"),
    "ignored": ("ignored", "event type not used"),
    "failed": ("failed", "the stored delivery cannot be read: not JSON"),
    "waiting": ("received", None),
}


def outcomes(url: str) -> dict[str, str]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT delivery_id, outcome FROM webhook_delivery")).all()
    finally:
        engine.dispose()
    return {str(r[0]): str(r[1]) for r in rows}


def test_old_deliveries_about_no_ticket_of_ours_become_foreign(fresh_url: str) -> None:
    config = alembic_config(fresh_url)
    command.upgrade(config, "0018")
    engine = create_engine(fresh_url)
    integration = Integration(
        kind="github", name="old", credentials_sealed="x", default_project="acme/api"
    )
    with engine.begin() as conn:
        conn.execute(Integration.__table__.insert().values(**integration.model_dump()))  # type: ignore[attr-defined]
        for delivery_id, (outcome, detail) in DETAILS.items():
            row = WebhookDelivery(
                integration_id=integration.id,
                delivery_id=delivery_id,
                body="{}",
                outcome=outcome,
                detail=detail,
            )
            conn.execute(WebhookDelivery.__table__.insert().values(**row.model_dump()))  # type: ignore[attr-defined]
    engine.dispose()

    command.upgrade(config, "0019")
    assert outcomes(fresh_url) == {
        "one-foreign": "foreign",
        "two-foreign": "foreign",
        "mixed": "applied",
        "ours": "applied",
        "ignored": "ignored",
        "failed": "failed",
        "waiting": "received",
    }
    command.downgrade(config, "0018")
    assert outcomes(fresh_url) == {k: v[0] for k, v in DETAILS.items()}
