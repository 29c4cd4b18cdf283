"""team-scoped tokens and restricted postmortems

A token's `team_ids` is null for an org-wide token, else the teams it may read and write. A
restricted postmortem is visible only to its own team's tokens and to admins.

Plain ADD/DROP COLUMN, not batch mode: SQLite's batch mode rebuilds the table, which would drop
the full-text triggers on `postmortem` (migration 0008).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("api_token", sa.Column("team_ids", sa.JSON(), nullable=True))
    op.add_column(
        "postmortem",
        sa.Column("restricted", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.create_index("ix_postmortem_restricted", "postmortem", ["restricted"])


def downgrade() -> None:
    op.drop_index("ix_postmortem_restricted", table_name="postmortem")
    # SQLite 3.35+ drops a column in place, keeping the table's triggers.
    op.execute("ALTER TABLE postmortem DROP COLUMN restricted")
    op.execute("ALTER TABLE api_token DROP COLUMN team_ids")
