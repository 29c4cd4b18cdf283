"""team-scoped tokens and restricted postmortems

A token's `team_ids` is null for an org-wide token, else the teams it may read and write. A
restricted postmortem is visible only to its own team's tokens and to admins.

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
    with op.batch_alter_table("api_token") as batch:
        batch.add_column(sa.Column("team_ids", sa.JSON(), nullable=True))
    with op.batch_alter_table("postmortem") as batch:
        batch.add_column(
            sa.Column("restricted", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("postmortem") as batch:
        batch.drop_column("restricted")
    with op.batch_alter_table("api_token") as batch:
        batch.drop_column("team_ids")
