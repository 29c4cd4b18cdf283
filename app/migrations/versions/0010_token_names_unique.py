"""API token names unique; existing duplicates renamed name-2, name-3, ... first

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

from collections.abc import Sequence
from uuid import UUID

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAME_MAX_LENGTH = 100

api_token = sa.table(
    "api_token",
    sa.column("id", sa.Uuid()),
    sa.column("name", sa.String(NAME_MAX_LENGTH)),
    sa.column("created_at"),
)


def renamed_duplicates(rows: Sequence[tuple[UUID, str]]) -> dict[UUID, str]:
    """New names for every token but the first (in the given order) of each shared name.

    A suffixed name never takes one that is already in use, and is cut to fit the column.
    """
    taken = {name for _, name in rows}
    kept: set[str] = set()
    renames: dict[UUID, str] = {}
    for token_id, name in rows:
        if name not in kept:
            kept.add(name)
            continue
        n = 2
        while True:
            suffix = f"-{n}"
            candidate = name[: NAME_MAX_LENGTH - len(suffix)] + suffix
            if candidate not in taken:
                break
            n += 1
        taken.add(candidate)
        renames[token_id] = candidate
    return renames


def upgrade() -> None:
    # Revoked tokens keep their rows (and their names appear in the history as actors), so they
    # take part too; the oldest token keeps the name.
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(api_token.c.id, api_token.c.name).order_by(api_token.c.created_at, api_token.c.id)
    ).all()
    for token_id, name in renamed_duplicates([(row.id, row.name) for row in rows]).items():
        bind.execute(api_token.update().where(api_token.c.id == token_id).values(name=name))

    # Batch: SQLite can only add a constraint by rebuilding the table (nothing refers to it).
    with op.batch_alter_table("api_token", schema=None) as batch_op:
        batch_op.drop_index("ix_api_token_name")
        batch_op.create_unique_constraint("uq_api_token_name", ["name"])


def downgrade() -> None:
    # Renamed tokens keep their new names: which ones were renamed is not recorded.
    with op.batch_alter_table("api_token", schema=None) as batch_op:
        batch_op.drop_constraint("uq_api_token_name", type_="unique")
        batch_op.create_index("ix_api_token_name", ["name"], unique=False)
