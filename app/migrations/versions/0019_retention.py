"""retention: partial indexes for what the purge removes

Deliveries about no ticket of ours ("foreign") or of an unused event type ("ignored") are
deleted a short while after they were processed, and applied deliveries lose their body after
some days (app/retention.py). Each index holds only the rows still to purge, so a batch is found
at once however many deliveries are stored; finished jobs are found through ix_job_due.
Deliveries stored as applied that were about no ticket of ours become foreign, so the first
purge deletes them too (one pass over the table).

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# As in app/webhooks/models.py (a migration keeps its own copy: the models move on).
UNUSED = "outcome IN ('foreign', 'ignored')"
BODY_KEPT = "outcome = 'applied' AND body <> ''"


# Deliveries applied before 'foreign' existed whose every event was about a ticket not ours:
# each part of their detail reads "<key>: not a ticket of ours", and no key holds ": ".
WHOLLY_FOREIGN = (
    "outcome = 'applied' AND detail LIKE '%: not a ticket of ours'"
    " AND REPLACE(detail, ': not a ticket of ours', '') NOT LIKE '%: %'"
)


# Plain operations (no batch): SQLite creates indexes in place.
def upgrade() -> None:
    # So that retention deletes the deliveries stored before it, as it will the new ones.
    op.execute(f"UPDATE webhook_delivery SET outcome = 'foreign' WHERE {WHOLLY_FOREIGN}")
    for name, where in (
        ("ix_webhook_delivery_unused", UNUSED),
        ("ix_webhook_delivery_body_kept", BODY_KEPT),
    ):
        op.create_index(
            name,
            "webhook_delivery",
            ["processed_at"],
            unique=False,
            sqlite_where=sa.text(where),
            postgresql_where=sa.text(where),
        )


def downgrade() -> None:
    # Foreign deliveries read as what they were called before: applied, about no ticket of ours.
    op.execute("UPDATE webhook_delivery SET outcome = 'applied' WHERE outcome = 'foreign'")
    op.drop_index("ix_webhook_delivery_body_kept", table_name="webhook_delivery")
    op.drop_index("ix_webhook_delivery_unused", table_name="webhook_delivery")
