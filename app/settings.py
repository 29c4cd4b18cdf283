"""Process-wide settings, read from `FOLLOWTHROUGH_*` environment variables."""

from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from fastapi import Depends, Request
from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_VAGUE_PHRASES = [
    "investigate",
    "consider",
    "explore",
    "look into",
    "improve",
    "more monitoring",
    "be more careful",
    "better",
    "revisit",
    "as needed",
    "where possible",
    "if possible",
    "try to",
]

DEFAULT_BLAME_PHRASES = [
    "be more careful",
    "more carefully",
    "human error",
    "operator error",
    "pilot error",
    "should have known",
    "should have noticed",
    "pay more attention",
    "was careless",
    "was negligent",
    "failed to notice",
    "forgot to",
]


class CheckPolicy(BaseModel):
    """Thresholds and switches for the postmortem checks; every rule is configurable."""

    max_committed_items: int = Field(3, ge=1)
    due_window_days: int = Field(14, ge=1)
    review_window_hours: int = Field(72, ge=1)
    # Entries written more than this long after resolution count as reconstructed.
    reconstructed_grace_minutes: int = Field(60, ge=0)
    # Share of timeline entries written after the fact that makes the timeline "reconstructed".
    reconstructed_share: float = Field(0.5, gt=0, le=1)
    responder_timeline_severities: list[str] = ["SEV1", "SEV2"]
    vague_phrases: list[str] = DEFAULT_VAGUE_PHRASES
    blame_phrases: list[str] = DEFAULT_BLAME_PHRASES
    disabled_rules: list[str] = []
    # rule id -> "error" | "warning" | "info"
    severity_overrides: dict[str, Literal["error", "warning", "info"]] = {}


class SyncPolicy(BaseModel):
    """How the job worker paces, retries and gives up."""

    run_in_api_process: bool = True
    poll_seconds: float = Field(1.0, gt=0)
    lease_seconds: float = Field(120.0, gt=0)
    max_attempts: int = Field(8, ge=1)
    backoff_base_seconds: float = Field(2.0, gt=0)
    backoff_cap_seconds: float = Field(900.0, gt=0)
    # After a create whose answer never came, no second create goes out until the first can no
    # longer land: the integration's client timeout plus this margin, or the tracker's own
    # declared window when longer (Jira: its search index lags).
    resend_margin_seconds: float = Field(30.0, ge=0)
    # Replaces every tracker's declared window (tests and unusual set-ups).
    resend_window_seconds: float | None = Field(None, ge=0)
    # How often each worker reads open tickets back from the trackers; 0 turns it off.
    reconcile_interval_seconds: float = Field(300.0, ge=0)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="FOLLOWTHROUGH_", env_nested_delimiter="__", extra="ignore"
    )

    data_dir: Path = Path("data")
    database_url: str = ""
    secret_key: str = ""
    max_body_bytes: int = Field(1_048_576, ge=1024)
    checks: CheckPolicy = CheckPolicy()
    # Where people reach this service; links in tickets point here.
    public_url: str = "http://127.0.0.1:8000"
    # /metrics recomputes its aggregate queries at most this often.
    metrics_cache_seconds: float = Field(15.0, ge=0)
    # The wall page (/dashboard) reloads itself this often.
    wall_refresh_seconds: int = Field(60, ge=5, le=3600)
    sync: SyncPolicy = SyncPolicy()

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'followthrough.db').as_posix()}"

    def resolved_secret_key(self) -> str:
        """The configured key, or one generated on first run and kept in the data dir."""
        if self.secret_key:
            return self.secret_key
        key_file = self.data_dir / "secret.key"
        if key_file.exists():
            return key_file.read_text().strip()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(32)
        key_file.touch(mode=0o600)
        key_file.write_text(key)
        return key


@lru_cache
def get_settings() -> Settings:
    return Settings()


def _settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(_settings_of)]
