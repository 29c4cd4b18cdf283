"""check waivers: a finding accepted with a reason, who and when, and a fingerprint of the
waived text

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-08
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import app.db

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "check_waiver",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("postmortem_id", sa.Uuid(), nullable=False),
        sa.Column("action_item_id", sa.Uuid(), nullable=True),
        sa.Column("rule", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("path", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("fingerprint", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("created_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("withdrawn_by", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("withdrawn_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("applied_at_publish", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["postmortem_id"], ["postmortem.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["action_item_id"], ["action_item.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("check_waiver", schema=None) as batch_op:
        batch_op.create_index(
            "ix_check_waiver_finding", ["postmortem_id", "rule", "path"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("check_waiver", schema=None) as batch_op:
        batch_op.drop_index("ix_check_waiver_finding")
    op.drop_table("check_waiver")
