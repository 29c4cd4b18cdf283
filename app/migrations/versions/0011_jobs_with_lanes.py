"""one job table with a kind, a lane and a payload; requested item states; pending verification
signals and swept duplicates on ticket links

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import app.db

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COPIED = (
    "id, action_item_id, delivery_id, integration_id, status, attempts, available_at, "
    "leased_until, lease_owner, last_error, created_at, updated_at"
)


def upgrade() -> None:
    op.create_table(
        "job",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
        sa.Column("lane", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("action_item_id", sa.Uuid(), nullable=True),
        sa.Column("delivery_id", sa.Uuid(), nullable=True),
        sa.Column("integration_id", sa.Uuid(), nullable=True),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("available_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("leased_until", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("lease_owner", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["action_item_id"], ["action_item.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["delivery_id"], ["webhook_delivery.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.create_index("ix_job_due", ["lane", "status", "available_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_job_action_item_id"), ["action_item_id"])
        batch_op.create_index(batch_op.f("ix_job_delivery_id"), ["delivery_id"])
        batch_op.create_index(batch_op.f("ix_job_integration_id"), ["integration_id"])
    op.execute(
        f"INSERT INTO job (kind, lane, payload, {COPIED}) "
        "SELECT CASE operation WHEN 'webhook.process' THEN 'webhook.apply' ELSE operation END, "
        "CASE operation WHEN 'webhook.process' THEN 'inbound' ELSE 'outbound' END, "
        f"'{{}}', {COPIED} FROM outbox_entry"
    )
    op.drop_table("outbox_entry")

    with op.batch_alter_table("action_item", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "requested_status", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=True
            )
        )
    with op.batch_alter_table("ticket_link", schema=None) as batch_op:
        batch_op.add_column(sa.Column("verification_signal", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "verification_signal_by",
                sqlmodel.sql.sqltypes.AutoString(length=200),
                nullable=True,
            )
        )
        batch_op.add_column(
            sa.Column("duplicate_keys", sa.JSON(), nullable=False, server_default="[]")
        )


def downgrade() -> None:
    raise NotImplementedError("0011 moves the job queue to a new table; restore from a backup")
