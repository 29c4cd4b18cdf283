"""postmortems keep their exact time from resolution to review, covered by the period index

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-08
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BEFORE = [
    "started_at", "id", "resolved_at", "review_held_at", "status", "team_id", "severity",
    "completed_at", "published_at", "restricted",
]
AFTER = [*BEFORE, "microseconds_to_review"]


def _microseconds(dialect: str, start: str, end: str) -> str:
    """SQL for the exact microseconds from `start` to `end` (as migration 0018 computes it)."""
    if dialect == "postgresql":
        return f"round(extract(epoch from {end} - {start}) * 1000000)::bigint"

    def at(column: str) -> str:
        return (
            f"(CAST(strftime('%s', {column}) AS INTEGER) * 1000000"
            f" + CAST(substr({column}, 21, 6) AS INTEGER))"
        )

    return f"({at(end)} - {at(start)})"


# Plain operations (no batch): a rebuilt postmortem table would lose its full-text triggers.
def upgrade() -> None:
    op.add_column("postmortem", sa.Column("microseconds_to_review", sa.BigInteger(), nullable=True))
    dialect = op.get_bind().dialect.name
    op.execute(
        "UPDATE postmortem SET "
        f"microseconds_to_review = {_microseconds(dialect, 'resolved_at', 'review_held_at')} "
        "WHERE resolved_at IS NOT NULL AND review_held_at IS NOT NULL"
    )
    op.drop_index("ix_postmortem_period", table_name="postmortem")
    op.create_index("ix_postmortem_period", "postmortem", AFTER, unique=False)


def downgrade() -> None:
    op.drop_index("ix_postmortem_period", table_name="postmortem")
    op.create_index("ix_postmortem_period", "postmortem", BEFORE, unique=False)
    op.drop_column("postmortem", "microseconds_to_review")
