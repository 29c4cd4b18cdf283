"""request hygiene: idempotency records belong to a token and may withhold their answer

Records were keyed by a hash of the whole Authorization header, which cannot be mapped to a
token id; they are short-lived replies (24 h by default), so the upgrade drops them and a key
sent before the upgrade counts as new.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(sa.text("DELETE FROM idempotency_record"))
    with op.batch_alter_table("idempotency_record") as batch:
        batch.drop_constraint("uq_idempotency_caller_key", type_="unique")
        batch.drop_column("caller")
        batch.add_column(sa.Column("token_id", sa.Uuid(), nullable=False))
        batch.add_column(sa.Column("withheld", sa.Boolean(), nullable=False))
        batch.create_foreign_key(
            "fk_idempotency_record_token_id_api_token",
            "api_token",
            ["token_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch.create_unique_constraint("uq_idempotency_token_key", ["token_id", "key"])


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM idempotency_record"))
    with op.batch_alter_table("idempotency_record") as batch:
        batch.drop_constraint("uq_idempotency_token_key", type_="unique")
        batch.drop_constraint("fk_idempotency_record_token_id_api_token", type_="foreignkey")
        batch.drop_column("withheld")
        batch.drop_column("token_id")
        batch.add_column(
            sa.Column("caller", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False)
        )
        batch.create_unique_constraint("uq_idempotency_caller_key", ["caller", "key"])
