"""covering indexes for the dashboard and the wall; incident start and resolution on timeline entries

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

POSTMORTEM_PERIOD = [
    "started_at", "id", "resolved_at", "review_held_at", "status", "team_id", "severity",
    "completed_at",
]
ACTION_ITEM_STATUS_DUE = [
    "status", "due_date", "committed", "incident_started_at", "created_at", "postmortem_id",
]
ACTION_ITEM_CLOSED = ["closed_at", "created_at", "committed", "postmortem_id"]
ACTION_ITEM_PERIOD = [
    "incident_started_at", "committed", "status", "chain_level", "due_date", "created_at",
    "closed_at", "verified_at",
]


# Plain operations (no batch): SQLite adds columns and indexes in place, and rebuilding the
# postmortem table would drop its full-text triggers.
def upgrade() -> None:
    op.drop_index("ix_postmortem_started", table_name="postmortem")
    op.create_index("ix_postmortem_period", "postmortem", POSTMORTEM_PERIOD, unique=False)
    op.drop_index("ix_action_item_incident_started", table_name="action_item")
    op.create_index("ix_action_item_period", "action_item", ACTION_ITEM_PERIOD, unique=False)
    op.drop_index("ix_action_item_status_due", table_name="action_item")
    op.create_index("ix_action_item_status_due", "action_item", ACTION_ITEM_STATUS_DUE, unique=False)
    op.create_index("ix_action_item_closed", "action_item", ACTION_ITEM_CLOSED, unique=False)
    for name in ("incident_started_at", "incident_resolved_at"):
        op.add_column(
            "timeline_entry",
            sa.Column(name, app.db.UTCDateTime(timezone=True), nullable=True),
        )
    # Backfill from the postmortems (correlated subqueries work on SQLite and PostgreSQL).
    op.execute(
        "UPDATE timeline_entry SET "
        "incident_started_at = (SELECT postmortem.started_at FROM postmortem "
        "WHERE postmortem.id = timeline_entry.postmortem_id), "
        "incident_resolved_at = (SELECT postmortem.resolved_at FROM postmortem "
        "WHERE postmortem.id = timeline_entry.postmortem_id)"
    )
    op.create_index(
        "ix_timeline_entry_period",
        "timeline_entry",
        ["incident_started_at", "postmortem_id", "recorded_at", "incident_resolved_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_timeline_entry_period", table_name="timeline_entry")
    with op.batch_alter_table("timeline_entry", schema=None) as batch_op:
        batch_op.drop_column("incident_resolved_at")
        batch_op.drop_column("incident_started_at")
    op.drop_index("ix_action_item_closed", table_name="action_item")
    op.drop_index("ix_action_item_status_due", table_name="action_item")
    op.create_index("ix_action_item_status_due", "action_item", ["status", "due_date"], unique=False)
    op.drop_index("ix_action_item_period", table_name="action_item")
    op.create_index(
        "ix_action_item_incident_started", "action_item", ["incident_started_at"], unique=False
    )
    op.drop_index("ix_postmortem_period", table_name="postmortem")
    op.create_index("ix_postmortem_started", "postmortem", ["started_at"], unique=False)
