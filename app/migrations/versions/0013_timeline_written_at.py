"""timeline entries keep the time they were written and where they came from

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import app.db

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Both are plain added columns, so SQLite's batch mode alters the table in place and the
    # entry indexes (ix_timeline_entry_period, ix_timeline_entry_postmortem_id) stay as they are.
    with op.batch_alter_table("timeline_entry", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("written_at", app.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column(
                "source",
                sqlmodel.sql.sqltypes.AutoString(length=20),
                nullable=False,
                server_default="api",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("timeline_entry", schema=None) as batch_op:
        batch_op.drop_column("source")
        batch_op.drop_column("written_at")
