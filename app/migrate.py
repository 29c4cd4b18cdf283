"""Apply Alembic migrations programmatically (used by the CLI and the tests)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    # ConfigParser interpolation: a literal % in a password must be doubled.
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    """Full-text search objects are made by hand in migration 0008, not from the models, so
    comparisons between the models and the database leave them out."""
    return not (name or "").startswith(("postmortem_fts", "ix_postmortem_fts"))


def upgrade(database_url: str, revision: str = "heads") -> None:
    command.upgrade(alembic_config(database_url), revision)


def not_at_head(engine: Engine) -> str | None:
    """Why the database cannot be used by this code yet (its schema revision is not the
    latest), or None when it is up to date."""
    heads = set(ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads())
    with engine.connect() as connection:
        current = set(MigrationContext.configure(connection).get_current_heads())
    if current == heads:
        return None
    at = ", ".join(sorted(current)) or "none (an empty database)"
    return (
        f"The database is not migrated: it is at revision {at}, this version needs"
        f" {', '.join(sorted(heads))}. Run `followthrough db upgrade` first."
    )
