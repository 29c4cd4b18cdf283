"""docker-compose.yml is a valid Compose file, and refuses to start without its secrets."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SECRETS = {"FOLLOWTHROUGH_SECRET_KEY": "compose-test-key", "POSTGRES_PASSWORD": "compose-test-pw"}


def compose_command() -> list[str] | None:
    """`docker compose` (the plugin) or the standalone `docker-compose`, whichever is here."""
    docker = shutil.which("docker")
    if docker is not None:
        found = subprocess.run([docker, "compose", "version"], capture_output=True, timeout=30)
        if found.returncode == 0:
            return [docker, "compose"]
    standalone = shutil.which("docker-compose")
    return [standalone] if standalone is not None else None


COMPOSE = compose_command()
needs_compose = pytest.mark.skipif(
    COMPOSE is None, reason="neither the docker compose plugin nor docker-compose is installed"
)


def config(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    assert COMPOSE is not None
    clean = {k: v for k, v in os.environ.items() if k not in SECRETS}
    return subprocess.run(
        [*COMPOSE, "-f", str(ROOT / "docker-compose.yml"), "config", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env={**clean, **env},
    )


@needs_compose
def test_compose_file_validates_with_its_secrets_given() -> None:
    result = config(SECRETS, "-q")
    assert result.returncode == 0, result.stderr
    rendered = config(SECRETS).stdout
    # Every process shares the one key and database; the API replicas run no sync work.
    assert rendered.count("FOLLOWTHROUGH_SECRET_KEY: compose-test-key") == 3
    assert (
        rendered.count("RUN_IN_API_PROCESS: 'false'")
        + rendered.count('RUN_IN_API_PROCESS: "false"')
        == 3
    )
    assert "service_completed_successfully" in rendered


@needs_compose
def test_compose_file_refuses_to_render_without_the_secret_key() -> None:
    result = config({"POSTGRES_PASSWORD": "compose-test-pw"}, "-q")
    assert result.returncode != 0
    assert "FOLLOWTHROUGH_SECRET_KEY" in result.stderr
