"""the postmortem period index also holds when each was published and whether it is restricted

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-08
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BEFORE = [
    "started_at", "id", "resolved_at", "review_held_at", "status", "team_id", "severity",
    "completed_at",
]
# The read-outside-team share reads published_at, and the team boundary restricted, for every
# postmortem of the period: from the index, not one table lookup each.
AFTER = [*BEFORE, "published_at", "restricted"]


def upgrade() -> None:
    op.drop_index("ix_postmortem_period", table_name="postmortem")
    op.create_index("ix_postmortem_period", "postmortem", AFTER, unique=False)


def downgrade() -> None:
    op.drop_index("ix_postmortem_period", table_name="postmortem")
    op.create_index("ix_postmortem_period", "postmortem", BEFORE, unique=False)
