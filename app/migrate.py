"""Apply Alembic migrations programmatically (used by the CLI and the tests)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

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
