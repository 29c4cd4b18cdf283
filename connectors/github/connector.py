"""GitHub Issues connector through PyGithub, for github.com and GitHub Enterprise (base_url).

PyGithub's default `GithubRetry` resends POSTs on 5xx up to ten times, which creates duplicate
issues; the client here is built with `retry=None`, and all retrying is the sync engine's.
Its write spacing (one write a second, as GitHub asks for content creation) stays on.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import requests
from github import GithubException
from github.GithubException import BadAttributeException
from github.GithubObject import NotSet
from github.Issue import Issue

from connectors.base import (
    ConnectorConfig,
    PermanentConnectorError,
    RetryableConnectorError,
    Target,
    TicketChanges,
    TicketRef,
    TicketSnapshot,
    TicketSpec,
    TicketState,
    TrackerKind,
    answered,
    refused_by_egress,
)
from connectors.egress.policy import EgressError
from connectors.github import mapping
from connectors.github.client import github_client, web_host
from connectors.github.profile import PROFILE
from connectors.markdown import state_change_comment

SECONDARY_LIMIT_WAIT = 60.0
# `since` is compared with GitHub's clock, not ours; look back a little further than asked.
CLOCK_SKEW = timedelta(minutes=5)


def _header(headers: Mapping[str, str] | None, name: str) -> str | None:
    for key, value in (headers or {}).items():
        if key.lower() == name:
            return str(value)
    return None


def _seconds(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return max(float(value.strip()), 0.0)
    except ValueError:
        return None


def _classify(
    status: int, headers: Mapping[str, str] | None, data: Any, now: float
) -> tuple[bool, float | None]:
    """(retryable, retry_after) for an HTTP error answer, as GitHub documents its limits:
    `retry-after` first; a spent primary limit (`x-ratelimit-remaining: 0`) waits until
    `x-ratelimit-reset`; a secondary limit without either waits a minute."""
    retry_after = _seconds(_header(headers, "retry-after"))
    remaining = _header(headers, "x-ratelimit-remaining")
    message = str(data.get("message", "")) if isinstance(data, Mapping) else str(data or "")
    secondary = "secondary rate limit" in message.lower()
    primary = remaining is not None and remaining.strip() == "0"
    if retry_after is None and primary:
        reset = _seconds(_header(headers, "x-ratelimit-reset"))
        if reset is not None:
            retry_after = max(reset - now, 0.0)
    if retry_after is None and secondary:
        retry_after = SECONDARY_LIMIT_WAIT
    if status >= 500 or status in (408, 429):
        return True, retry_after
    if status == 403 and (primary or secondary or retry_after is not None):
        return True, retry_after
    return False, None


@contextmanager
def _translated(action: str) -> Iterator[None]:
    """Only the connector's two error kinds leave this block, and their messages say what
    happened in our words: the status and its meaning, or the kind of failure, never the text
    or headers of the answer."""
    try:
        yield
    except GithubException as exc:
        status = int(exc.status or 0)
        if not status:
            raise RetryableConnectorError(f"GitHub {action}: no HTTP answer") from exc
        message = answered("GitHub", action, status)
        retryable, retry_after = _classify(status, exc.headers, exc.data, time.time())
        if retryable:
            raise RetryableConnectorError(message, status=status, retry_after=retry_after) from exc
        raise PermanentConnectorError(message, status=status) from exc
    except EgressError as exc:
        raise refused_by_egress("GitHub", action, exc) from exc
    except (
        requests.Timeout,
        requests.ConnectionError,
        requests.exceptions.ChunkedEncodingError,
        requests.exceptions.ContentDecodingError,
        json.JSONDecodeError,
    ) as exc:
        # No answer, or half of one (PyGithub parses any body that starts with "{" or "[" and
        # lets the JSON error through): the call may have happened, and may pass next time.
        raise RetryableConnectorError(
            f"GitHub {action}: no complete answer ({type(exc).__name__})"
        ) from exc
    except requests.RequestException as exc:
        # Invalid URL or schema: configuration, not weather.
        raise PermanentConnectorError(
            f"GitHub {action}: the request could not be sent ({type(exc).__name__})"
        ) from exc
    except (BadAttributeException, RuntimeError, AssertionError) as exc:
        # PyGithub raises RuntimeError for a redirect it refuses to follow and checks the URLs
        # it follows with assert; BadAttributeException is an answer whose fields have the
        # wrong types. None of these changes on retry.
        raise PermanentConnectorError(
            f"GitHub {action}: unexpected answer ({type(exc).__name__})"
        ) from exc


class GitHubConnector:
    kind: ClassVar[TrackerKind] = TrackerKind.GITHUB

    def __init__(self, config: ConnectorConfig) -> None:
        token = config.credentials.get("token")
        if not token:
            raise PermanentConnectorError("GitHub credentials need a 'token'")
        try:
            self._github = github_client(token, config)
        except EgressError as exc:
            raise refused_by_egress("GitHub", "connect", exc) from exc
        self._web_host = web_host(config.base_url)
        self._login: str | None = None

    def _whoami(self) -> str:
        if self._login is None:
            with _translated("check credentials"):
                self._login = self._github.get_user().login
        return self._login

    def check_credentials(self) -> str:
        return self._whoami()

    def _issue(self, repo: str, number: int) -> Issue:
        return self._github.get_repo(repo).get_issue(number)

    def create_ticket(self, target: Target, spec: TicketSpec) -> TicketRef:
        with _translated("create issue"):
            issue = self._github.get_repo(target.project).create_issue(
                title=spec.title,
                body=mapping.render_body(spec),
                assignees=[spec.assignee] if spec.assignee else NotSet,
                labels=list(spec.labels) if spec.labels else NotSet,
            )
            return self._ref(target.project, issue)

    def find_by_marker(
        self, target: Target, marker: str, created_after: datetime
    ) -> TicketRef | None:
        """The oldest issue carrying the marker (see `find_all_by_marker`); stops reading pages
        at the first one."""
        return next(self._marked(target, marker, created_after), None)

    def find_all_by_marker(
        self, target: Target, marker: str, created_after: datetime
    ) -> list[TicketRef]:
        """Every issue we opened that carries the marker, oldest first."""
        return list(self._marked(target, marker, created_after))

    def _marked(self, target: Target, marker: str, created_after: datetime) -> Iterator[TicketRef]:
        """Pages through the repo's issues opened by us and updated since `created_after` less
        the clock skew (an issue's `updated_at` is never before its creation), using the list
        endpoint, not search: search lags by minutes and allows 30 requests a minute. Issues
        come oldest first (`sort=created`, ascending) and are scanned for the marker."""
        needle = mapping.marker_comment(marker)
        login = self._whoami()
        if created_after.tzinfo is None:
            # The service's timestamps are UTC; astimezone() would take a naive one as local.
            created_after = created_after.replace(tzinfo=UTC)
        with _translated("look for the marker"):
            issues: Iterable[Issue] = self._github.get_repo(target.project).get_issues(
                state="all",
                creator=login,  # type: ignore[arg-type]  # a login string works too
                since=(created_after - CLOCK_SKEW).astimezone(UTC),
                sort="created",
                direction="asc",
            )
            for issue in issues:
                if needle in (issue.body or ""):
                    yield self._ref(target.project, issue)

    def update_ticket(self, ref: TicketRef, changes: TicketChanges) -> None:
        """One PATCH of title, body, assignees and labels. GitHub has no due-date field: a new
        due date is written into the body (re-rendered from `spec`, or else the current body's
        due line is rewritten, which costs a read first)."""
        repo, number = self._parse(ref.external_key)
        fields: dict[str, Any] = {}
        if changes.spec is not None:
            spec = changes.spec
            if changes.due_date is not None:
                spec = replace(spec, due_date=changes.due_date)
            fields["title"] = spec.title
            fields["body"] = mapping.render_body(spec)
        elif changes.due_date is not None:
            with _translated("read issue"):
                current = self._issue(repo, number).body or ""
            fields["body"] = mapping.with_due_date(current, changes.due_date)
        if changes.title is not None:
            fields["title"] = changes.title
        if changes.assignee is not None:
            fields["assignees"] = [changes.assignee]
        elif changes.clear_assignee:
            fields["assignees"] = []
        if changes.labels is not None:
            fields["labels"] = list(changes.labels)
        if not fields:
            return
        with _translated("update issue"):
            # Never send `state` with a content edit: it would reset state_reason.
            self._issue(repo, number).edit(**fields)

    def set_state(
        self,
        ref: TicketRef,
        state: TicketState,
        *,
        comment: str | None = None,
        duplicate_of: TicketRef | None = None,
    ) -> TicketSnapshot:
        """The comment first (with "Duplicate of <key>", which GitHub itself recognises, when
        `duplicate_of` is given), then one PATCH of `state` with its `state_reason`: completed,
        not_planned, duplicate, or reopened for OPEN. The snapshot is read from the PATCH's
        answer, which is the issue after the change."""
        text = state_change_comment(state, comment, duplicate_of)
        new_state, reason = mapping.state_change(state, duplicate=duplicate_of is not None)
        repo, number = self._parse(ref.external_key)
        issue = self._issue(repo, number)
        if text is not None:
            with _translated(f"comment on {ref.external_key}"):
                issue.create_comment(text)
        with _translated(f"move {ref.external_key} to {new_state}:{reason}"):
            issue.edit(state=new_state, state_reason=reason)
            return self._snapshot(repo, issue)

    def fetch_state(self, ref: TicketRef) -> TicketSnapshot:
        repo, number = self._parse(ref.external_key)
        with _translated("read issue"):
            return self._snapshot(repo, self._issue(repo, number))

    def _snapshot(self, repo: str, issue: Issue) -> TicketSnapshot:
        state, reason = issue.state, issue.state_reason
        updated = issue.updated_at
        return TicketSnapshot(
            ref=self._ref(repo, issue),
            state=mapping.state_of(state, reason),
            raw_status=mapping.raw_status(state, reason),
            updated_at=updated if updated.tzinfo else updated.replace(tzinfo=UTC),
            assignee=issue.assignees[0].login if issue.assignees else None,
            labels=[label.name for label in issue.labels],
        )

    def fetch_states(
        self, refs: Sequence[TicketRef], etags: Mapping[str, str]
    ) -> dict[str, TicketSnapshot | None]:
        """GitHub has no batch read of issues by number; each read is conditional on the ETag
        of the last one, so an unchanged issue costs a 304 and no rate limit."""
        states: dict[str, TicketSnapshot | None] = {}
        for ref in refs:
            repo, number = self._parse(ref.external_key)
            headers = (
                {"If-None-Match": etags[ref.external_key]} if ref.external_key in etags else {}
            )
            try:
                with _translated(f"read {ref.external_key}"):
                    answer_headers, raw = self._github.requester.requestJsonAndCheck(
                        "GET", f"/repos/{repo}/issues/{number}", headers=headers
                    )
            except PermanentConnectorError as exc:
                if exc.status in (404, 410):  # 410 Gone: the issue was deleted
                    continue  # left out: "not found", and the other tickets still get read
                raise
            if raw is None:  # 304 Not Modified
                states[ref.external_key] = None
                continue
            try:
                states[ref.external_key] = mapping.snapshot(repo, raw, answer_headers.get("etag"))
            except (KeyError, TypeError, ValueError) as exc:
                raise PermanentConnectorError(
                    f"GitHub read {ref.external_key}: unexpected answer ({type(exc).__name__})"
                ) from exc
        return states

    def comment(self, ref: TicketRef, text: str) -> None:
        repo, number = self._parse(ref.external_key)
        with _translated("comment"):
            self._issue(repo, number).create_comment(text)

    def resolve_ref(self, url_or_key: str) -> TicketRef:
        parsed = mapping.parse_ref(url_or_key, self._web_host)
        if parsed is None:
            raise PermanentConnectorError(
                f"not a GitHub issue reference: expected owner/repo#N or "
                f"https://{self._web_host}/owner/repo/issues/N"
            )
        repo, number = parsed
        with _translated("read issue"):
            issue = self._issue(repo, number)
            return self._ref(repo, issue)

    def register_webhook(self, target: Target, url: str, secret: str) -> str | None:
        with _translated("create webhook"):
            hook = self._github.get_repo(target.project).create_hook(
                "web",
                {"url": url, "content_type": "json", "secret": secret, "insecure_ssl": "0"},
                events=list(PROFILE.webhook.events),
                active=True,
            )
            return str(hook.id)

    @staticmethod
    def _parse(external_key: str) -> tuple[str, int]:
        parsed = mapping.parse_ref(external_key)
        if parsed is None:
            raise PermanentConnectorError(f"{external_key!r} is not a GitHub issue key")
        return parsed

    @staticmethod
    def _ref(repo: str, issue: Issue) -> TicketRef:
        number, url = issue.number, issue.html_url
        if not isinstance(number, int) or not url:
            # PyGithub hands a 3xx body over as if it were the issue: GitHub answers a write to a
            # renamed or transferred repository with 307 (and nothing is created).
            raise PermanentConnectorError(
                f"GitHub answered without an issue for {repo} (moved or renamed repository?)"
            )
        key = mapping.external_key(repo, number)
        return TicketRef(external_key=key, external_id=key, url=url)
