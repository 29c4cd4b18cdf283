"""The data dir, the SQLite database (with its -wal and -shm) and the generated secret key are
created readable by the service's own user only."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import text

from app.db import make_engine
from app.settings import Settings


@pytest.fixture(autouse=True)
def _usual_umask() -> Iterator[None]:
    # Under the common umask 022, files would otherwise come out world-readable.
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_secret_key_and_data_dir_are_private(tmp_path: Path) -> None:
    data_dir = tmp_path / "fresh" / "data"
    key = Settings(data_dir=data_dir, secret_key="").resolved_secret_key()
    assert mode(data_dir) == 0o700
    assert mode(data_dir / "secret.key") == 0o600
    assert (data_dir / "secret.key").read_text() == key
    assert [p.name for p in data_dir.iterdir()] == ["secret.key"]


def test_the_key_is_generated_once_when_processes_race(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", secret_key="")
    with ThreadPoolExecutor(8) as pool:
        keys = set(pool.map(lambda _: settings.resolved_secret_key(), range(8)))
    assert len(keys) == 1
    assert keys == {settings.resolved_secret_key()}


def test_sqlite_database_wal_and_shm_are_private(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    engine = make_engine(Settings(data_dir=data_dir).resolved_database_url())
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE t (x INTEGER)"))
            conn.execute(text("INSERT INTO t VALUES (1)"))
        with engine.connect() as conn:
            files = {p.name: mode(p) for p in data_dir.iterdir()}
    finally:
        engine.dispose()
    assert mode(data_dir) == 0o700
    assert files == {
        "followthrough.db": 0o600,
        "followthrough.db-wal": 0o600,
        "followthrough.db-shm": 0o600,
    }


def test_an_existing_database_file_is_left_as_it_is(tmp_path: Path) -> None:
    db = tmp_path / "existing.db"
    db.touch(mode=0o640)
    engine = make_engine(f"sqlite:///{db}")
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT 1")).scalar() == 1
    finally:
        engine.dispose()
    assert mode(db) == 0o640
