"""The `followthrough` command: migrate, and manage tokens that then work against the API."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from app.cli import app as cli
from app.main import create_app
from app.settings import Settings, SyncPolicy, get_settings


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("FOLLOWTHROUGH_DATABASE_URL", url)
    monkeypatch.setenv("FOLLOWTHROUGH_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    yield Settings(database_url=url, data_dir=tmp_path, sync=SyncPolicy(run_in_api_process=False))
    get_settings.cache_clear()


def test_tokens_created_by_the_cli_work_and_revoking_stops_them(env: Settings) -> None:
    runner = CliRunner()
    assert runner.invoke(cli, ["db", "upgrade"]).exit_code == 0
    created = runner.invoke(cli, ["tokens", "create", "--scope", "admin", "--name", "ci"])
    assert created.exit_code == 0, created.output
    token = created.stdout.strip().splitlines()[0]
    assert token.startswith("ft_")
    with TestClient(create_app(env), headers={"Authorization": f"Bearer {token}"}) as client:
        assert client.get("/v1/integrations").status_code == 200
        listed = runner.invoke(cli, ["tokens", "list"])
        assert "ci" in listed.stdout and "admin" in listed.stdout and token not in listed.stdout
        assert runner.invoke(cli, ["tokens", "revoke", "ci"]).exit_code == 0
        assert client.get("/v1/integrations").status_code == 401
    unknown = runner.invoke(cli, ["tokens", "revoke", "nobody"])
    assert unknown.exit_code == 1


def test_the_secret_key_is_generated_once_and_kept(env: Settings) -> None:
    first = env.resolved_secret_key()
    assert (env.data_dir / "secret.key").read_text() == first
    assert Settings(data_dir=env.data_dir).resolved_secret_key() == first
    assert (env.data_dir / "secret.key").stat().st_mode & 0o077 == 0


def test_openapi_command_prints_the_spec(env: Settings) -> None:
    result = CliRunner().invoke(cli, ["openapi"])
    assert result.exit_code == 0
    assert '"/v1/postmortems"' in result.stdout
