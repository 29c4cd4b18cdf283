"""audit log: one row per admin action, token change or refused call, and the ids it acted on

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import app.db

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_event",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("token_id", sa.Uuid(), nullable=True),
        sa.Column("token_name", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.Column("scope", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=True),
        sa.Column("action", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("method", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=True),
        sa.Column("route", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("client_address", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.Column("request_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.create_index("ix_audit_event_at_id", ["at", "id"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_event_actor"), ["actor"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_event_action"), ["action"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_event_token_id"), ["token_id"], unique=False)

    op.create_table(
        "audit_target",
        sa.Column("audit_event_id", sa.Uuid(), nullable=False),
        sa.Column("target_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["audit_event_id"], ["audit_event.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("audit_event_id", "target_id"),
    )
    with op.batch_alter_table("audit_target", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_audit_target_target_id"), ["target_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("audit_target", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_target_target_id"))
    op.drop_table("audit_target")
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_event_token_id"))
        batch_op.drop_index(batch_op.f("ix_audit_event_action"))
        batch_op.drop_index(batch_op.f("ix_audit_event_actor"))
        batch_op.drop_index("ix_audit_event_at_id")
    op.drop_table("audit_event")
