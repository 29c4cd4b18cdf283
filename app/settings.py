"""Process-wide settings, read from `FOLLOWTHROUGH_*` environment variables."""

from __future__ import annotations

import json
import os
import secrets
from functools import lru_cache
from ipaddress import IPv4Network, IPv6Network
from pathlib import Path
from typing import Annotated, Literal

from fastapi import Depends, Request
from pydantic import BaseModel, Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# Verbs (and nominal heads) that make an item vague when they lead it and nothing measurable
# follows: "Improve search" is vague, "Improve search p95 from 1.2 s to 400 ms" is not. Every word
# form counts (improve, improved, improving, improvements; re-work, rework).
DEFAULT_VAGUE_VERBS = [
    "investigate",
    "consider",
    "explore",
    "look into",
    "look at",
    "improve",
    "revisit",
    "rework",
    "rethink",
    "reevaluate",
    "re-evaluate",
    "re-examine",
    "review",
    "dig into",
    "sort out",
    "figure out",
    "think about",
    "discuss",
    "evaluate",
    "assess",
    "research",
    "analyse",
    "analyze",
    "understand",
    "address",
    "tackle",
    "work on",
    "follow up",
    "check on",
    "clean up",
    "tidy up",
    "optimise",
    "optimize",
    "streamline",
    "enhance",
    "strengthen",
    "refine",
    "monitor",
    "keep an eye on",
    "more",
    "better",
    "additional",
    "extra",
    "increased",
    "enhanced",
]

# Hedges that make an item vague wherever they stand, unless something measurable is given.
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
    "somehow",
    "as appropriate",
    "where appropriate",
    "when possible",
    "if needed",
    "if necessary",
    "as necessary",
    "going forward",
    "asap",
    "etc",
    "and so on",
    "some kind of",
    "more robust",
    "more resilient",
    "more reliable",
    "more visibility",
    "better visibility",
    "more alerts",
    "more alerting",
    "more tests",
    "more testing",
    "more documentation",
    "more docs",
]

DEFAULT_BLAME_PHRASES = [
    "be more careful",
    "more carefully",
    "human error",
    "operator error",
    "pilot error",
    "user error",
    "engineer error",
    "should have known",
    "should have noticed",
    "should have caught",
    "should have checked",
    "should have tested",
    "should have asked",
    "should've known",
    "pay more attention",
    "paid more attention",
    "not paying attention",
    "was careless",
    "were careless",
    "carelessly",
    "careless",
    "was negligent",
    "negligence",
    "negligently",
    "sloppy",
    "failed to notice",
    "forgot to",
    "forgot",
    "neglected",
    "fat-fingered",
    "fat finger",
    "mistyped",
    "misread",
    "didn't bother",
    "did not bother",
    "be more vigilant",
    "more vigilant",
    "be more diligent",
    "more diligent",
    "be more mindful",
    "lack of attention",
    "lapse of judgement",
    "lapse in judgement",
    "lapse in judgment",
    "poor judgement",
    "poor judgment",
]

# Words that, before a blame phrase in the same clause, say the phrase is not an accusation:
# "not human error", "rather than human error", "calling it human error hides ...".
DEFAULT_NEGATION_CUES = [
    "not",
    "no",
    "never",
    "rather than",
    "instead of",
    "isn't",
    "wasn't",
    "weren't",
    "aren't",
    "nothing",
    "calling",
    "blaming",
    "call it",
    "beyond",
    "far from",
    "without",
]

# A person's behaviour offered as the fix: "Dana will double-check every migration".
DEFAULT_BEHAVIOUR_PHRASES = [
    "double-check",
    "double check",
    "triple-check",
    "remember to",
    "remember",
    "be careful",
    "take care",
    "pay attention",
    "be vigilant",
    "be aware",
    "be mindful",
    "think twice",
    "keep in mind",
    "make sure to",
    "try harder",
    "watch out",
    "manually check",
    "manually verify",
    "check manually",
    "verify manually",
]

# Role nouns name a seat, not a person: "the on-call didn't know" is not an accusation.
DEFAULT_ROLE_NOUNS = [
    "on-call",
    "oncall",
    "on call",
    "responder",
    "first responder",
    "incident commander",
    "ic",
    "commander",
    "engineer",
    "developer",
    "dev",
    "devs",
    "senior dev",
    "sre",
    "operator",
    "reviewer",
    "approver",
    "author",
    "deployer",
    "release manager",
    "primary",
    "secondary",
    "shadow",
    "lead",
    "tech lead",
    "manager",
    "support",
    "support engineer",
    "dba",
    "admin",
    "team",
    "customer",
    "user",
    "scribe",
    "comms lead",
    "senior",
    "junior",
    "new hire",
    "contractor",
]

# Timeline authors that are tools, not people: matched on the author's words and as a suffix.
DEFAULT_TOOL_AUTHOR_WORDS = [
    "bot",
    "alertmanager",
    "pagerduty",
    "opsgenie",
    "grafana",
    "prometheus",
    "datadog",
    "sentry",
    "statuspage",
    "github",
    "jenkins",
    "ci",
    "cron",
    "system",
    "monitor",
    "monitoring",
    "alert",
    "alerts",
    "webhook",
    "automation",
    "slack",
    "deploy",
    "deployer",
]

# Placeholders: never an owner, a criterion or a verification.
DEFAULT_PLACEHOLDERS = [
    "tbd",
    "tba",
    "todo",
    "to do",
    "fixme",
    "n/a",
    "na",
    "none",
    "nil",
    "null",
    "?",
    "-",
    "later",
    "soon",
    "pending",
    "unknown",
    "wip",
    "xxx",
    "tk",
    "placeholder",
    "same",
    "same as above",
    "see above",
    "see ticket",
    "etc",
    "...",
]

# Registered people who are no one in particular.
DEFAULT_PLACEHOLDER_PEOPLE = [
    "nobody",
    "no one",
    "noone",
    "no-one",
    "none",
    "tbd",
    "todo",
    "unassigned",
    "unknown",
    "someone",
    "somebody",
    "anyone",
    "anybody",
    "everyone",
    "everybody",
    "owner",
    "n/a",
    "na",
    "placeholder",
    "team",
    "all",
    "whoever",
]

# Words a placeholder condition is made of: "There was no process in place", "Lack of
# communication", "Human factors". A condition made only of these says nothing.
DEFAULT_PLACEHOLDER_CONDITION_WORDS = [
    "there",
    "was",
    "were",
    "is",
    "are",
    "be",
    "been",
    "a",
    "an",
    "the",
    "no",
    "not",
    "any",
    "in",
    "place",
    "of",
    "lack",
    "lacking",
    "lacked",
    "missing",
    "poor",
    "bad",
    "insufficient",
    "inadequate",
    "proper",
    "clear",
    "good",
    "enough",
    "some",
    "our",
    "we",
    "they",
    "it",
    "had",
    "has",
    "have",
    "process",
    "processes",
    "procedure",
    "procedures",
    "communication",
    "communications",
    "miscommunication",
    "coordination",
    "ownership",
    "awareness",
    "visibility",
    "monitoring",
    "testing",
    "tests",
    "documentation",
    "docs",
    "knowledge",
    "training",
    "human",
    "humans",
    "factor",
    "factors",
    "error",
    "errors",
    "issue",
    "issues",
    "problem",
    "problems",
    "gap",
    "gaps",
    "failure",
    "failures",
    "breakdown",
    "luck",
    "unlucky",
    "bad-luck",
    "timing",
    "unknown",
    "tbd",
    "todo",
    "n/a",
    "na",
    "other",
    "misc",
    "general",
    "overall",
    "things",
    "stuff",
    "mistake",
    "mistakes",
    "oversight",
    "oversights",
    "happened",
    "happens",
    "just",
    "simply",
    "between",
    "across",
    "teams",
    "team",
    "people",
    "person",
    "communication-gap",
    "organisational",
    "organizational",
    "cultural",
    "culture",
    "context",
    "clarity",
    "alignment",
    "in-place",
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
    # The wording lists: English by default, replaceable for other languages.
    vague_verbs: list[str] = DEFAULT_VAGUE_VERBS
    # Verbs that wish a quality on a thing ("Make deploys safer", "Keep alerts more useful"):
    # vague when a comparative follows and nothing measurable does.
    quality_verbs: list[str] = ["make", "keep"]
    vague_phrases: list[str] = DEFAULT_VAGUE_PHRASES
    blame_phrases: list[str] = DEFAULT_BLAME_PHRASES
    negation_cues: list[str] = DEFAULT_NEGATION_CUES
    behaviour_phrases: list[str] = DEFAULT_BEHAVIOUR_PHRASES
    role_nouns: list[str] = DEFAULT_ROLE_NOUNS
    tool_author_words: list[str] = DEFAULT_TOOL_AUTHOR_WORDS
    placeholders: list[str] = DEFAULT_PLACEHOLDERS
    placeholder_people: list[str] = DEFAULT_PLACEHOLDER_PEOPLE
    placeholder_condition_words: list[str] = DEFAULT_PLACEHOLDER_CONDITION_WORDS
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
    # Jobs one worker process runs at once (threads that each claim and run); each
    # integration's max_concurrency still caps the jobs running against it.
    runners: int = Field(8, ge=1, le=64)
    # Workers wake as soon as a job is queued (an in-process signal; LISTEN/NOTIFY on
    # PostgreSQL). Off, they only poll: e.g. behind a pooler in transaction mode, which does
    # not keep a LISTEN.
    wake_on_enqueue: bool = True
    # Replace every tracker's declared write budget (GitHub: 500 an hour, 80 a minute), e.g. to
    # stay further below it when other tools share the token.
    write_budget_per_hour: int | None = Field(None, ge=1)
    write_budget_per_minute: int | None = Field(None, ge=1)


class EgressSettings(BaseModel):
    """Where outbound calls may go (see connectors/egress/policy.py): public addresses only,
    unless the host is named here, e.g. `FOLLOWTHROUGH_EGRESS__ALLOW_HOSTS=jira.internal.example`
    for a self-hosted tracker, or `127.0.0.1,localhost` for trackers on this machine."""

    # Host names or addresses, exactly as they appear in an integration's base_url.
    allow_hosts: Annotated[list[str], NoDecode] = []

    @field_validator("allow_hosts", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return value


class RequestLimits(BaseModel):
    """What one client may hold or try: connection timeouts, idempotency keys, failed sign-ins."""

    # A request's head (request line and headers) must arrive this long after the connection
    # opens or the previous answer ends, or the connection is closed.
    header_timeout_seconds: float = Field(10.0, gt=0)
    # The whole body must arrive this long after the head, or the answer is 408.
    body_timeout_seconds: float = Field(30.0, gt=0)
    # An idle keep-alive connection is closed after this long.
    keep_alive_seconds: int = Field(5, ge=1)
    # Open connections served at once per process; past this, requests get 503.
    max_connections: int = Field(200, ge=1)
    # An Idempotency-Key is remembered this long; after that the same key is new again.
    idempotency_key_hours: float = Field(24.0, gt=0)
    # How often the sync worker deletes expired idempotency records.
    idempotency_purge_seconds: float = Field(600.0, gt=0)
    # More than this many 401 answers to one client address within the window: that address
    # gets 429 until the window has passed. Counted per process.
    auth_failures_allowed: int = Field(20, ge=1)
    auth_failure_window_seconds: float = Field(60.0, gt=0)
    # Addresses remembered at once (oldest forgotten first), which bounds the memory it takes.
    auth_failure_addresses: int = Field(10_000, ge=1)


class RetentionPolicy(BaseModel):
    """How long webhook deliveries and finished jobs are kept (app/retention.py purges them)."""

    # An applied delivery (about one of our tickets) keeps its body and headers this long, to
    # read what a tracker sent; its row, outcome and detail stay for good.
    delivery_body_days: float = Field(14.0, gt=0)
    # A delivery about no ticket of ours, or of an event type we do not use, is deleted this long
    # after it was processed; until then a redelivery of it is a duplicate. Two hours outlast
    # Jira's retries (about 30 minutes) and Linear's first two (about 1 minute and 1 hour). A later
    # one (Linear's last, about 6 hours; GitHub's manual redeliveries, up to 3 days) is judged
    # again, which changes nothing for a ticket that is not ours. Deliveries about our tickets
    # are never deleted, so any redelivery of one is caught.
    unused_delivery_hours: float = Field(2.0, gt=0)
    # Finished (done) jobs. Parked (dead) jobs and failed deliveries are kept until someone
    # retries them. At least a day: the write budget counts the last hour's jobs (sync/budget.py).
    done_job_days: float = Field(7.0, ge=1)
    # How often the sync worker purges, and rows per transaction. SQLite's write lock is held for
    # one batch at a time: a thousand deliveries with their jobs take some 50-100 ms there (their
    # random ids scatter the changes over many index pages).
    purge_seconds: float = Field(300.0, gt=0)
    batch_rows: int = Field(1000, ge=1)


class WebhookIngest(BaseModel):
    """How this process receives trackers' webhook deliveries (app/webhooks/inbox_writer.py)."""

    # An integration and its opened webhook secret are kept this long for deliveries. Changes
    # made through this process apply at once; this bounds how long one made by another process
    # (another API replica) goes unseen. A rotated secret is read again at its first delivery.
    integration_cache_seconds: float = Field(5.0, ge=0)
    # Deliveries stored in one transaction at most.
    batch_size: int = Field(256, ge=1, le=10_000)
    # Deliveries waiting to be stored at most; past this the answer is 503 with Retry-After.
    queue_size: int = Field(4096, ge=1)


class DatabasePool(BaseModel):
    """PostgreSQL connections each process keeps (SQLite ignores these)."""

    # Enough for the thread pool's requests, the worker's runners and the webhook writer, so
    # that load does not open and close overflow connections.
    size: int = Field(20, ge=1)
    max_overflow: int = Field(10, ge=0)
    # Connections older than this are replaced (before a server or proxy drops them idle).
    recycle_seconds: float = Field(1800.0, gt=0)
    # A connection unused this long is checked with one round trip before it is handed out,
    # so the first request after a database restart gets a live one. Busy connections are
    # not checked: a lost one fails its statement, and SQLAlchemy then replaces the whole pool.
    check_after_idle_seconds: float = Field(10.0, ge=0)


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
    # /metrics without a bearer token (FOLLOWTHROUGH_METRICS_PUBLIC=true): its figures name teams
    # and integrations, so by default a scraper sends a read token like any other client.
    metrics_public: bool = False
    # The wall page (/dashboard) reloads itself this often.
    wall_refresh_seconds: int = Field(60, ge=5, le=3600)
    # Entries one postmortem's timeline may hold (FOLLOWTHROUGH_MAX_TIMELINE_ENTRIES); adding or
    # importing past it is refused with 409.
    max_timeline_entries: int = Field(2000, ge=1)
    # The dashboard counts a postmortem as read outside its team when that happens this many
    # days after publishing at the latest.
    read_window_days: int = Field(14, ge=0)
    sync: SyncPolicy = SyncPolicy()
    # Proxies (addresses or networks) whose X-Forwarded-For is believed, for the audit log's
    # client address; empty: the socket peer is recorded as it is.
    trusted_proxies: list[IPv4Network | IPv6Network] = []
    limits: RequestLimits = RequestLimits()
    egress: EgressSettings = EgressSettings()
    retention: RetentionPolicy = RetentionPolicy()
    webhooks: WebhookIngest = WebhookIngest()
    database_pool: DatabasePool = DatabasePool()

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
        # Only the service's own user may enter the data dir or read the key (0700, 0600).
        self.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        key = secrets.token_urlsafe(32)
        # Written in full under another name, then linked into place: a second process starting
        # at the same moment either wins the link or reads the complete key of the one that did.
        draft = self.data_dir / f".secret.key.{secrets.token_hex(8)}"
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(key)
            os.link(draft, key_file)
        except FileExistsError:
            return key_file.read_text().strip()
        finally:
            draft.unlink(missing_ok=True)
        return key


@lru_cache
def get_settings() -> Settings:
    return Settings()


def _settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(_settings_of)]
