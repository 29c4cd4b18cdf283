"""The `followthrough` command: migrate, and manage tokens that then work against the API."""

from __future__ import annotations

import importlib.metadata
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from app import __version__
from app.auth import service as auth_service
from app.auth.models import ApiToken
from app.cli import app as cli
from app.db import session_scope
from app.main import create_app
from app.people.models import Team
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


def _states(engine: Engine) -> dict[str, bool]:
    """Each token's name and whether it is revoked."""
    with session_scope(engine) as session:
        return {t.name: t.revoked_at is not None for t in auth_service.list_tokens(session)}


def test_creating_a_second_token_with_a_taken_name_fails(on_test_database: Engine) -> None:
    runner = CliRunner()
    assert runner.invoke(cli, ["tokens", "create", "--name", "deploy"]).exit_code == 0
    assert runner.invoke(cli, ["tokens", "revoke", "deploy"]).exit_code == 0
    again = runner.invoke(cli, ["tokens", "create", "--scope", "admin", "--name", "deploy"])
    assert again.exit_code == 1
    assert "A token named 'deploy' already exists" in again.stderr
    assert "ft_" not in again.stdout
    assert _states(on_test_database) == {"deploy": True}


def test_revoke_by_name_or_id_revokes_exactly_one_token(on_test_database: Engine) -> None:
    runner = CliRunner()
    for name in ("laptop", "laptop-2", "ci"):
        assert runner.invoke(cli, ["tokens", "create", "--name", name]).exit_code == 0
    by_name = runner.invoke(cli, ["tokens", "revoke", "laptop"])
    assert by_name.exit_code == 0, by_name.output
    assert "(laptop)" in by_name.stdout
    with session_scope(on_test_database) as session:
        ci_id = next(t.id for t in auth_service.list_tokens(session) if t.name == "ci")
    assert runner.invoke(cli, ["tokens", "revoke", str(ci_id)]).exit_code == 0
    assert _states(on_test_database) == {"laptop": True, "laptop-2": False, "ci": True}


def test_revoke_refuses_without_revoking_anything(on_test_database: Engine) -> None:
    runner = CliRunner()
    assert runner.invoke(cli, ["tokens", "create", "--name", "gone"]).exit_code == 0
    assert runner.invoke(cli, ["tokens", "create", "--name", "kept"]).exit_code == 0
    assert runner.invoke(cli, ["tokens", "revoke", "gone"]).exit_code == 0
    with session_scope(on_test_database) as session:
        kept = next(t for t in auth_service.list_tokens(session) if t.name == "kept")
        # A name equal to another token's id, as older data may hold.
        session.add(ApiToken(name=str(kept.id), scope="read", token_hash="2" * 64, prefix="ft_z"))

    again = runner.invoke(cli, ["tokens", "revoke", "gone"])
    assert again.exit_code == 1 and "already revoked" in again.stderr
    unknown = runner.invoke(cli, ["tokens", "revoke", "nobody"])
    assert unknown.exit_code == 1 and "No token with id or name 'nobody'" in unknown.stderr
    ambiguous = runner.invoke(cli, ["tokens", "revoke", str(kept.id)])
    assert ambiguous.exit_code == 1
    assert "matches 2 tokens" in ambiguous.stderr and "nothing was revoked" in ambiguous.stderr
    assert _states(on_test_database) == {"gone": True, "kept": False, str(kept.id): False}


def test_tokens_list_tells_tokens_apart(on_test_database: Engine) -> None:
    runner = CliRunner()
    assert (
        runner.invoke(cli, ["tokens", "create", "--name", "old", "--scope", "write"]).exit_code == 0
    )
    assert runner.invoke(cli, ["tokens", "create", "--name", "new"]).exit_code == 0
    assert runner.invoke(cli, ["tokens", "revoke", "old"]).exit_code == 0
    listed = runner.invoke(cli, ["tokens", "list"])
    assert listed.exit_code == 0, listed.output
    header, *lines = listed.stdout.splitlines()
    assert header.split() == [
        "ID", "PREFIX", "SCOPE", "TEAMS", "STATE", "CREATED", "REVOKED", "NAME"
    ]  # fmt: skip
    with session_scope(on_test_database) as session:
        tokens = auth_service.list_tokens(session)
    assert [line.split()[0] for line in lines] == [str(t.id) for t in tokens]
    old, new = (line.split() for line in lines)
    assert old[1] == f"{tokens[0].prefix}…" and old[2:5] == ["write", "(all)", "revoked"]
    revoked_at = tokens[0].revoked_at
    assert revoked_at is not None
    assert old[-1] == "old" and old[-3] == revoked_at.strftime("%Y-%m-%d")
    assert new[2:5] == ["read", "(all)", "active"] and new[-2:] == ["-", "new"]


def test_a_token_scoped_to_teams_lists_them_and_unknown_teams_are_refused(
    on_test_database: Engine,
) -> None:
    with session_scope(on_test_database) as session:
        session.add(Team(slug="payments", name="Payments"))
        session.add(Team(slug="search", name="Search"))
    runner = CliRunner()
    create = ["tokens", "create", "--name", "pay", "--scope", "write"]
    made = runner.invoke(cli, [*create, "--team", "search", "--team", "payments"])
    assert made.exit_code == 0, made.output
    assert "teams payments, search" in made.stderr
    unknown = runner.invoke(cli, ["tokens", "create", "--name", "x", "--team", "nope"])
    assert unknown.exit_code == 1 and "No team with slug 'nope'" in unknown.stderr
    admin = runner.invoke(
        cli, ["tokens", "create", "--name", "y", "--scope", "admin", "--team", "search"]
    )
    assert admin.exit_code == 1 and "Admin tokens are org-wide" in admin.stderr
    listed = runner.invoke(cli, ["tokens", "list"]).stdout.splitlines()
    assert [line.split()[3] for line in listed[1:]] == ["payments,search"]


def test_the_secret_key_is_generated_once_and_kept(env: Settings) -> None:
    first = env.resolved_secret_key()
    assert (env.data_dir / "secret.key").read_text() == first
    assert Settings(data_dir=env.data_dir).resolved_secret_key() == first
    assert (env.data_dir / "secret.key").stat().st_mode & 0o077 == 0


def test_openapi_command_prints_the_spec(env: Settings) -> None:
    result = CliRunner().invoke(cli, ["openapi"])
    assert result.exit_code == 0
    assert '"/v1/postmortems"' in result.stdout


def test_version_prints_the_installed_version() -> None:
    answer = CliRunner().invoke(cli, ["--version"])
    assert answer.exit_code == 0
    assert answer.output == f"followthrough {__version__}\n"
    assert __version__ == importlib.metadata.version("followthrough")


@pytest.mark.parametrize(
    "command",
    [["tokens", "list"], ["tokens", "create", "--scope", "read", "--name", "x"], ["db", "purge"]],
)
def test_an_unmigrated_database_is_one_line_naming_the_fix(
    env: Settings, command: list[str]
) -> None:
    answer = CliRunner().invoke(cli, command)
    assert answer.exit_code == 1
    assert answer.exception is None or isinstance(answer.exception, SystemExit)
    lines = answer.output.strip().splitlines()
    assert len(lines) == 1, answer.output
    assert "not migrated" in lines[0] and "`followthrough db upgrade`" in lines[0]
    # Once upgraded, the same command works.
    assert CliRunner().invoke(cli, ["db", "upgrade"]).exit_code == 0
    assert CliRunner().invoke(cli, command).exit_code == 0
