"""The database under test: SQLite and a throwaway PostgreSQL database per run, migrated once.

Every test that uses `client`, `app` or `engine` runs once per backend. Select backends with
`--backends=sqlite,postgresql` or FOLLOWTHROUGH_TEST_BACKENDS. PostgreSQL is never skipped
silently: when it is selected and unreachable, the run fails.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

import app.models
from app import migrate
from app.auth import service as auth_service
from app.db import session_scope
from app.enums import Scope
from app.main import create_app
from app.settings import EgressSettings, RequestLimits, Settings, SyncPolicy, get_settings

# The fake tracker servers' fixtures (fake_github, fake_jira, fake_linear).
pytest_plugins = [
    "tests.fake_trackers.github",
    "tests.fake_trackers.jira",
    "tests.fake_trackers.linear",
]

PG_ADMIN_DSN = os.environ.get(
    "FOLLOWTHROUGH_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres"
)
ALL_BACKENDS = ("sqlite", "postgresql")
# Hosts the tests' services may call: the fake trackers' loopback address and nothing else, so
# `localhost` and other names for this machine stay refused, as by default.
TEST_ALLOW_HOSTS = ("127.0.0.1",)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--backends",
        default=os.environ.get("FOLLOWTHROUGH_TEST_BACKENDS", ",".join(ALL_BACKENDS)),
        help="comma-separated databases to run the suite on: sqlite, postgresql",
    )


def selected_backends(config: pytest.Config) -> list[str]:
    names = [b.strip() for b in str(config.getoption("--backends")).split(",") if b.strip()]
    unknown = set(names) - set(ALL_BACKENDS)
    if unknown:
        raise pytest.UsageError(f"unknown backend(s): {', '.join(sorted(unknown))}")
    return names


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" in metafunc.fixturenames:
        backends = selected_backends(metafunc.config)
        only = metafunc.definition.get_closest_marker("backends")
        if only is not None:
            # A test that only makes sense on some databases is not generated for the others.
            backends = [b for b in backends if b in only.args]
        metafunc.parametrize("backend", backends, indirect=True, scope="session")


@pytest.fixture(scope="session")
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


# Databases this run created; dropped when the run ends.
_PG_DATABASES: list[str] = []


def _pg_url(name: str) -> str:
    base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    return f"{base}/{name}"


def _create_pg() -> str:
    name = f"followthrough_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    try:
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        pytest.fail(
            f"PostgreSQL is not reachable at {PG_ADMIN_DSN} ({exc}). Start it, or run only SQLite "
            "with --backends=sqlite",
            pytrace=False,
        )
    _PG_DATABASES.append(name)
    return name


def _drop_pg(name: str) -> None:
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    for name in _PG_DATABASES:
        with contextlib.suppress(psycopg.Error):
            _drop_pg(name)


@pytest.fixture(scope="session")
def database_url(backend: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'test.db'}"
    else:
        url = _pg_url(_create_pg())
    migrate.upgrade(url)
    return url


@pytest.fixture(scope="session")
def settings(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(
        database_url=database_url,
        data_dir=tmp_path_factory.mktemp("data"),
        secret_key="test-secret",
        # Tests drive the worker themselves (or run it as a separate process).
        sync=SyncPolicy(run_in_api_process=False),
        metrics_cache_seconds=0,
        # The fake trackers listen on 127.0.0.1, which the egress policy refuses unless named.
        egress=EgressSettings(allow_hosts=list(TEST_ALLOW_HOSTS)),
        # Every TestClient request comes from one address; the suite's own 401s must not add up
        # to a throttle (tests/api/test_throttle.py builds apps with small limits).
        limits=RequestLimits(auth_failures_allowed=100_000),
    )


@pytest.fixture(scope="session")
def app(settings: Settings) -> Iterator[FastAPI]:
    application = create_app(settings)
    yield application
    application.state.engine.dispose()


@pytest.fixture(scope="session")
def engine(app: FastAPI) -> Engine:
    return app.state.engine  # type: ignore[no-any-return]


@pytest.fixture(autouse=True)
def _clean_tables(request: pytest.FixtureRequest) -> Iterator[None]:
    """Each test starts from empty tables (the schema stays)."""
    yield
    if "engine" not in request.fixturenames:
        return
    engine: Engine = request.getfixturevalue("engine")
    tables = list(reversed(SQLModel.metadata.sorted_tables))
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("TRUNCATE " + ", ".join(f'"{t.name}"' for t in tables) + " CASCADE"))
        else:
            for table in tables:
                conn.execute(table.delete())


@pytest.fixture
def make_token(engine: Engine) -> Callable[..., str]:
    def make(
        scope: Scope | str = Scope.ADMIN, name: str = "tests", teams: list[str] | None = None
    ) -> str:
        with session_scope(engine) as session:
            team_ids = auth_service.team_ids_for(session, teams) if teams is not None else None
            _, plain = auth_service.create(
                session, name=name, scope=Scope(scope), team_ids=team_ids
            )
        return plain

    return make


@pytest.fixture
def on_test_database(
    database_url: str, engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Engine]:
    """The CLI pointed at the migrated database under test (SQLite and PostgreSQL)."""
    monkeypatch.setenv("FOLLOWTHROUGH_DATABASE_URL", database_url)
    monkeypatch.setenv("FOLLOWTHROUGH_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    yield engine
    get_settings.cache_clear()


@pytest.fixture
def client(app: FastAPI, make_token: Callable[..., str]) -> Iterator[TestClient]:
    """An admin-scoped client through the real app and the real database."""
    with TestClient(
        app, headers={"Authorization": f"Bearer {make_token(Scope.ADMIN, 'admin-tests')}"}
    ) as c:
        yield c


@pytest.fixture
def anon_client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def serving(app: FastAPI, **options: object) -> Iterator[str]:
    """The app served by uvicorn on a loopback port in a thread; `options` go to its Config."""
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, **{"log_level": "warning", **options})
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def live_server(app: FastAPI) -> Iterator[str]:
    """The app served by uvicorn on a loopback port, for tests that need real concurrency."""
    with serving(app) as url:
        yield url


@pytest.fixture
def fresh_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """An empty database of the backend under test, of this test's own."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrate.db'}"
        return
    name = f"followthrough_migrate_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def insert_as_of(conn: sa.Connection, model: Any, values: dict[str, Any]) -> None:
    """Insert into the model's table as the database has it now (an older schema): only the
    columns it has, with the model's types."""
    present = {c["name"] for c in sa.inspect(conn).get_columns(model.__tablename__)}
    table = sa.Table(
        model.__tablename__,
        sa.MetaData(),
        *[c._copy() for c in model.__table__.columns if c.name in present],
    )
    conn.execute(table.insert().values(**{k: v for k, v in values.items() if k in present}))
