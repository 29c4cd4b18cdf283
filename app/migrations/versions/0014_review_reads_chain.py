"""who read a postmortem, and whether they sit outside its team

The new review questions live in the postmortem's `review` JSON and the chain-level search reads
the `chain_walk` JSON, so neither needs a schema change.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-08
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import app.db

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "postmortem_reader",
        sa.Column("postmortem_id", sa.Uuid(), nullable=False),
        sa.Column("reader", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("read_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("outside_team", sa.Boolean(), nullable=True),
        sa.ForeignKeyConstraint(["postmortem_id"], ["postmortem.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("postmortem_id", "reader"),
    )


def downgrade() -> None:
    op.drop_table("postmortem_reader")
