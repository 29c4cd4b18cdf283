"""The app a benchmark drives: migrated database (SQLite in a temp dir, or
FOLLOWTHROUGH_DATABASE_URL), no worker thread, and an admin token."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from fastapi import FastAPI

from app import migrate
from app.auth import service as auth_service
from app.db import session_scope
from app.enums import Scope
from app.main import create_app
from app.settings import Settings, SyncPolicy


def bench_app() -> tuple[FastAPI, str]:
    data_dir = Path(tempfile.mkdtemp())
    url = os.environ.get("FOLLOWTHROUGH_DATABASE_URL") or f"sqlite:///{data_dir / 'bench.db'}"
    migrate.upgrade(url)
    settings = Settings(
        database_url=url,
        data_dir=data_dir,
        secret_key="bench",
        sync=SyncPolicy(run_in_api_process=False),
    )
    return create_app(settings), url


def admin_token(app: FastAPI) -> str:
    with session_scope(app.state.engine) as session:
        _, token = auth_service.create(session, name="bench", scope=Scope.ADMIN)
    return token
