"""full-text search over postmortems: SQLite FTS5 table kept by triggers, PostgreSQL GIN index

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PG_DOCUMENT = "to_tsvector('english', title || ' ' || summary || ' ' || user_impact)"


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"CREATE INDEX ix_postmortem_fts ON postmortem USING gin ({PG_DOCUMENT})")
        return
    op.execute("CREATE VIRTUAL TABLE postmortem_fts USING fts5(postmortem_id UNINDEXED, title, summary, user_impact)")
    op.execute(
        "INSERT INTO postmortem_fts (postmortem_id, title, summary, user_impact) "
        "SELECT id, title, summary, user_impact FROM postmortem"
    )
    op.execute(
        "CREATE TRIGGER postmortem_fts_insert AFTER INSERT ON postmortem BEGIN "
        "INSERT INTO postmortem_fts (postmortem_id, title, summary, user_impact) "
        "VALUES (new.id, new.title, new.summary, new.user_impact); END"
    )
    op.execute(
        "CREATE TRIGGER postmortem_fts_update AFTER UPDATE ON postmortem BEGIN "
        "DELETE FROM postmortem_fts WHERE postmortem_id = old.id; "
        "INSERT INTO postmortem_fts (postmortem_id, title, summary, user_impact) "
        "VALUES (new.id, new.title, new.summary, new.user_impact); END"
    )
    op.execute(
        "CREATE TRIGGER postmortem_fts_delete AFTER DELETE ON postmortem BEGIN "
        "DELETE FROM postmortem_fts WHERE postmortem_id = old.id; END"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_postmortem_fts")
        return
    for trigger in ("insert", "update", "delete"):
        op.execute(f"DROP TRIGGER postmortem_fts_{trigger}")
    op.execute("DROP TABLE postmortem_fts")
