"""action item durations: microseconds from creation to close and to verification

The dashboard's medians sort these integers from the period index instead of computing a date
difference for every row of the period; a second index, by chain level and status first, gives
the period's counts per level and status without sorting its rows. Existing items are
backfilled with one UPDATE.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PERIOD_BEFORE = [
    "incident_started_at", "committed", "status", "chain_level", "due_date", "created_at",
    "closed_at", "verified_at",
]
DURATIONS_AND_POSTMORTEM = ["microseconds_to_close", "microseconds_to_verify", "postmortem_id"]
PERIOD_AFTER = [*PERIOD_BEFORE, *DURATIONS_AND_POSTMORTEM]
LEVEL_STATUS_PERIOD = [
    "chain_level", "status", "incident_started_at", "committed", "due_date", "created_at",
    *DURATIONS_AND_POSTMORTEM,
]


def _microseconds(dialect: str, start: str, end: str) -> str:
    """SQL for the exact microseconds from `start` to `end` (NULL when either is NULL)."""
    if dialect == "postgresql":
        return f"round(extract(epoch from {end} - {start}) * 1000000)::bigint"
    # SQLite keeps 'YYYY-MM-DD HH:MM:SS.ffffff': whole seconds from strftime, the fraction read
    # as written (julianday would round it through a float of days).
    def at(column: str) -> str:
        return (
            f"(CAST(strftime('%s', {column}) AS INTEGER) * 1000000"
            f" + CAST(substr({column}, 21, 6) AS INTEGER))"
        )

    return f"({at(end)} - {at(start)})"


# Plain operations (no batch): SQLite adds columns and indexes in place, and a rebuilt table
# would lose its full-text triggers.
def upgrade() -> None:
    op.add_column("action_item", sa.Column("microseconds_to_close", sa.BigInteger(), nullable=True))
    op.add_column(
        "action_item", sa.Column("microseconds_to_verify", sa.BigInteger(), nullable=True)
    )
    dialect = op.get_bind().dialect.name
    op.execute(
        "UPDATE action_item SET "
        f"microseconds_to_close = {_microseconds(dialect, 'created_at', 'closed_at')}, "
        f"microseconds_to_verify = {_microseconds(dialect, 'created_at', 'verified_at')} "
        "WHERE closed_at IS NOT NULL OR verified_at IS NOT NULL"
    )
    op.drop_index("ix_action_item_period", table_name="action_item")
    op.create_index("ix_action_item_period", "action_item", PERIOD_AFTER, unique=False)
    op.create_index(
        "ix_action_item_level_status_period", "action_item", LEVEL_STATUS_PERIOD, unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_action_item_level_status_period", table_name="action_item")
    op.drop_index("ix_action_item_period", table_name="action_item")
    op.create_index("ix_action_item_period", "action_item", PERIOD_BEFORE, unique=False)
    op.drop_column("action_item", "microseconds_to_verify")
    op.drop_column("action_item", "microseconds_to_close")
