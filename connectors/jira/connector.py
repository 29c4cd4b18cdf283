"""Jira Cloud connector: REST v3 through the `jira` library (pycontribs), library retries off.

Every call goes out once. The library's `ResilientSession` would otherwise resend any request,
POST included, on 429, on 503 with Retry-After and on connection errors, sleeping up to a
minute in between; with `max_retries=0` it sends exactly once and sleeps never. Retrying is the
sync engine's job, and a resent create is how duplicate issues are made.

The client wraps one `requests.Session`, whose thread safety is not promised: use one connector
per worker thread.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, ClassVar, cast

import requests
from jira import JIRA, JIRAError

from connectors.base import (
    ConnectorConfig,
    ConnectorError,
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
from connectors.egress.requests_adapter import mount
from connectors.jira import mapping, workflow
from connectors.markdown import state_change_comment

log = logging.getLogger(__name__)

_SNAPSHOT_FIELDS = "status,resolution,assignee,duedate,labels,updated"
# More than one issue per marker only happens after a lost create answer was retried too early;
# a page or two at most, but never an endless walk.
_MARKER_SEARCH_PAGES = 10
# Keys per reconciliation search: Jira's page size for /search/jql.
_BATCH = 50


def _auth(credentials: Mapping[str, str]) -> dict[str, Any]:
    """Cloud: email + API token as basic auth. Data Center PATs and OAuth 2.0 (3LO) access
    tokens (with base_url https://api.atlassian.com/ex/jira/<cloudId>) go as a Bearer token."""
    if credentials.get("email") and credentials.get("api_token"):
        return {"basic_auth": (credentials["email"], credentials["api_token"])}
    if credentials.get("pat"):
        return {"token_auth": credentials["pat"]}
    raise PermanentConnectorError(
        "Jira credentials need either 'email' and 'api_token' (Cloud) or 'pat' (bearer token)"
    )


class JiraConnector:
    """Creates and follows Jira Cloud issues.

    Options (`ConnectorConfig.options`):
    - `wont_do_resolutions`: resolution names that make a done issue "won't do"
      (default: Won't Do, Won't Fix, Duplicate, Cannot Reproduce, Declined);
    - `site_url`: the site people browse, when `base_url` is the OAuth gateway
      (`https://api.atlassian.com/ex/jira/<cloudId>`); defaults to `base_url`;
    - `priority_names`: our priority -> Jira priority name; priorities not listed are not sent;
    - `done_transition`, `wont_do_transition`, `reopen_transition`: the transition (or target
      status) name `set_state` prefers, case-insensitive; otherwise it goes by status category;
    - `done_resolution` (default "Done"), `wont_do_resolution` ("Won't Do"),
      `duplicate_resolution` ("Duplicate"): the resolution `set_state` sets when the transition
      screen has the field. The last two, when given, also count as won't-do resolutions.
    """

    kind: ClassVar[TrackerKind] = TrackerKind.JIRA

    def __init__(self, config: ConnectorConfig) -> None:
        if not config.base_url:
            raise PermanentConnectorError("Jira needs base_url, e.g. https://<site>.atlassian.net")
        server = config.base_url.rstrip("/")
        try:
            config.egress.check_url(server)
        except EgressError as exc:
            raise refused_by_egress("Jira", "connect", exc) from exc
        options = config.options
        self._site_url = str(options.get("site_url") or server).rstrip("/")
        wont_do = options.get("wont_do_resolutions")
        if wont_do is None:
            wont_do = mapping.DEFAULT_WONT_DO_RESOLUTIONS
        self._workflow = workflow.WorkflowOptions.from_options(options)
        # Resolutions named for set_state must read back as won't do; the defaults for them
        # are in the default won't-do set already, and an explicit set stays as given.
        chosen = [
            options[n] for n in ("wont_do_resolution", "duplicate_resolution") if options.get(n)
        ]
        self._wont_do = mapping.normalised_names(
            [*([wont_do] if isinstance(wont_do, str) else wont_do), *map(str, chosen)]
        )
        self._priority_names: dict[str, str] = dict(options.get("priority_names") or {})
        self._client = JIRA(
            server=server,
            # v3 speaks Atlassian Document Format; v2 (the library's default) wiki markup.
            options={"rest_api_version": "3"},
            # The library's default is no timeout at all.
            timeout=config.timeout,
            # Otherwise the constructor itself calls GET /serverInfo.
            get_server_info=False,
            max_retries=0,
            **_auth(config.credentials),
        )
        # Without GET /serverInfo the library does not know it talks to Cloud, and its
        # @cloud_api methods (enhanced_search_issues among them) then return None with only a
        # log line. This connector speaks REST v3 and ADF, which only Cloud serves.
        self._client.deploymentType = "Cloud"
        # Every request through the egress policy, redirects refused (the library's session
        # would follow them, credentials and all).
        mount(self._client._session, config.egress, max_retries=0)

    # -- the Connector protocol ----------------------------------------------------------------

    def check_credentials(self) -> str:
        """GET /myself as the configured identity; returns its accountId."""
        with self._calls("check credentials"):
            return mapping.account_name(self._client.myself())

    def create_ticket(self, target: Target, spec: TicketSpec) -> TicketRef:
        """One POST /issue carrying the ADF description, the marker label and the marker
        property. Any failure may hide a created issue: the caller looks the marker up."""
        body = mapping.create_body(target.project, target.issue_type, spec, self._priority_names)
        with self._calls(f"create issue in {target.project}"):
            answer = self._post_json("issue", body)
        try:
            return mapping.ref_from_issue(answer, self._site_url)
        except mapping.UnexpectedAnswerError as exc:
            # The issue may exist all the same; let the caller find it by its marker.
            raise RetryableConnectorError(f"Jira create issue in {target.project}: {exc}") from exc

    def find_by_marker(
        self, target: Target, marker: str, created_after: datetime
    ) -> TicketRef | None:
        """The oldest issue carrying the marker (see `find_all_by_marker`); when several do,
        the rest are logged."""
        found = self.find_all_by_marker(target, marker, created_after)
        if len(found) > 1:
            keys = [ref.external_key for ref in found]
            log.warning(
                "Jira issues %s all carry marker label %s; using the oldest",
                keys,
                mapping.marker_label(marker),
            )
        return found[0] if found else None

    def find_all_by_marker(
        self, target: Target, marker: str, created_after: datetime
    ) -> list[TicketRef]:
        """JQL on the marker label (JQL cannot see issue properties without an app that indexes
        them), oldest first. `created_after` is not sent: the label is unique, and JQL compares
        dates in the account's time zone, which would only add a way to miss the issue.

        /search/jql is eventually consistent, so a fresh issue can be missing for a while;
        the caller keeps asking before it creates again."""
        jql = mapping.marker_jql(mapping.marker_label(marker))
        found: list[tuple[datetime, int, TicketRef]] = []
        token: str | None = None
        with self._calls("search by marker"):
            for _ in range(_MARKER_SEARCH_PAGES):
                params = {"jql": jql, "fields": "created", "maxResults": str(_BATCH)}
                # Straight to /search/jql: the library would first call GET /field to
                # translate the field names, an endpoint we do not otherwise use.
                answer = self._client._session.get(
                    self._client._get_url("search/jql"),
                    params=params | ({"nextPageToken": token} if token else {}),
                ).json()
                for raw in answer.get("issues") or []:
                    created = mapping.parse_timestamp(str((raw.get("fields") or {})["created"]))
                    ref = mapping.ref_from_issue(raw, self._site_url)
                    found.append((created, int(ref.external_id), ref))
                token = answer.get("nextPageToken")
                if answer.get("isLast", True) or not token:
                    break
        # Issues made in the same millisecond: the lower id is the older.
        return [ref for _, _, ref in sorted(found, key=lambda item: item[:2])]

    def update_ticket(self, ref: TicketRef, changes: TicketChanges) -> None:
        """PUT the changed summary/description/assignee/duedate/labels; marker labels stay."""
        if not mapping.has_changes(changes):
            return
        with self._calls(f"update {ref.external_key}"):
            issue = self._client.issue(self._issue_id(ref), fields="labels")
            current = (issue.raw.get("fields") or {}).get("labels") or []
            issue.update(fields=mapping.edit_fields(changes, current))

    def set_state(
        self,
        ref: TicketRef,
        state: TicketState,
        *,
        comment: str | None = None,
        duplicate_of: TicketRef | None = None,
    ) -> TicketSnapshot:
        """Read the issue; unless it is already where asked (OPEN counts any status outside
        the done category), read its transitions with their screen fields, choose one (see
        `workflow.plan`), add the comment (ADF; "Duplicate of <key>" first for a duplicate),
        then POST the transition with the resolution its screen takes. Returns the issue as
        read after the change, which tells the caller what the workflow really did."""
        text = state_change_comment(state, comment, duplicate_of)
        before = self.fetch_state(ref)
        arrived = before.state is state or (
            state is TicketState.OPEN and before.state is TicketState.IN_PROGRESS
        )
        if arrived:
            if text is None:
                return before
            self.comment(ref, text)
            return self.fetch_state(ref)
        issue_id = self._issue_id(ref)
        with self._calls(f"read the transitions of {ref.external_key}"):
            transitions = self._client.transitions(issue_id, expand="transitions.fields")
            if not isinstance(transitions, list):
                raise mapping.UnexpectedAnswerError("the transitions answer is not a list")
        try:
            move = workflow.plan(
                transitions,
                state,
                duplicate=duplicate_of is not None,
                options=self._workflow,
                wont_do=self._wont_do,
            )
        except workflow.NoTransition as exc:
            raise PermanentConnectorError(
                f"Jira cannot move {ref.external_key} from {before.raw_status!r} to "
                f"{state.value}: {exc}"
            ) from exc
        if text is not None:
            self.comment(ref, text)
        body: dict[str, Any] = {"transition": {"id": move.transition_id}}
        if move.fields:
            body["fields"] = move.fields
        with self._calls(f"transition {ref.external_key} with {move.name!r}"):
            self._client._session.post(
                self._client._get_url(f"issue/{issue_id}/transitions"), data=json.dumps(body)
            )
        return self.fetch_state(ref)

    def fetch_state(self, ref: TicketRef) -> TicketSnapshot:
        """Status category decides open/in progress/closed; the resolution decides done vs
        won't do. A done issue without a resolution counts as done (and is logged)."""
        with self._calls(f"fetch {ref.external_key}"):
            issue = self._client.issue(self._issue_id(ref), fields=_SNAPSHOT_FIELDS)
            snapshot = mapping.snapshot(issue.raw, self._site_url, self._wont_do)
        if snapshot.state is TicketState.DONE and snapshot.resolution is None:
            log.warning(
                "Jira issue %s is in done status %r without a resolution; counting it as done",
                snapshot.ref.external_key,
                snapshot.raw_status,
            )
        return snapshot

    def fetch_states(
        self, refs: Sequence[TicketRef], etags: Mapping[str, str]
    ) -> dict[str, TicketSnapshot | None]:
        """One JQL `key in (...)` search per 50 tickets (Jira has no ETags for issues)."""
        states: dict[str, TicketSnapshot | None] = {}
        for start in range(0, len(refs), _BATCH):
            keys = [ref.external_key for ref in refs[start : start + _BATCH]]
            with self._calls("batch fetch"):
                # Straight to /search/jql: the library would first call GET /field to
                # translate the field names, an endpoint we do not otherwise use.
                answer = self._client._session.get(
                    self._client._get_url("search/jql"),
                    params={
                        "jql": f"key in ({', '.join(keys)})",
                        "fields": _SNAPSHOT_FIELDS,
                        "maxResults": str(len(keys)),
                    },
                ).json()
                for raw in answer.get("issues") or []:
                    snapshot = mapping.snapshot(raw, self._site_url, self._wont_do)
                    states[snapshot.ref.external_key] = snapshot
        return states

    def comment(self, ref: TicketRef, text: str) -> None:
        """Add a comment; the body goes as an ADF document, as Jira Cloud v3 requires."""
        with self._calls(f"comment on {ref.external_key}"):
            # The library types `body` as str but sends whatever it gets as JSON
            # (pycontribs/jira#1841); v3 needs the ADF object here.
            self._client.add_comment(self._issue_id(ref), cast(Any, mapping.text_document(text)))

    def resolve_ref(self, url_or_key: str) -> TicketRef:
        """ "OPS-42" or "https://<site>/browse/OPS-42" on the configured site, confirmed with a
        GET (which also follows a moved issue to its current key). Anything else is refused
        before any call."""
        try:
            key = mapping.parse_ref(url_or_key, self._site_url)
        except ValueError as exc:
            raise PermanentConnectorError(str(exc)) from exc
        with self._calls(f"resolve {key}"):
            issue = self._client.issue(key, fields="summary")
            return mapping.ref_from_issue(issue.raw, self._site_url)

    # -- plumbing ------------------------------------------------------------------------------

    @staticmethod
    def _issue_id(ref: TicketRef) -> str:
        # The id survives a move to another project; the key does not.
        return ref.external_id or ref.external_key

    def _post_json(self, path: str, body: Mapping[str, Any]) -> Any:
        """POST through the library's own session (same auth, timeout and retry settings).

        JIRA.create_issue() cannot send `properties` (it wraps only `fields`), would resolve
        a project key and issue type name with extra GETs first, and re-reads the issue after.
        """
        url = self._client._get_url(path)
        return self._client._session.post(url, data=json.dumps(body)).json()

    @contextmanager
    def _calls(self, action: str) -> Iterator[None]:
        """Turn everything the library and requests raise into the two connector errors, worded
        by us: the status and its meaning, or the kind of failure, never the answer's text."""
        try:
            yield
        except JIRAError as exc:
            raise _from_jira_error(action, exc) from exc
        except EgressError as exc:
            raise refused_by_egress("Jira", action, exc) from exc
        except requests.exceptions.JSONDecodeError as exc:
            # A 2xx that is not JSON: a proxy or maintenance page, not Jira's final word.
            raise RetryableConnectorError(f"Jira {action}: the answer is not JSON") from exc
        except (
            requests.Timeout,
            requests.ConnectionError,
            requests.exceptions.ChunkedEncodingError,
        ) as exc:
            raise RetryableConnectorError(
                f"Jira {action}: no complete answer ({type(exc).__name__})"
            ) from exc
        except requests.RequestException as exc:
            # Invalid URL or schema: configuration, not weather.
            raise PermanentConnectorError(
                f"Jira {action}: the request could not be sent ({type(exc).__name__})"
            ) from exc
        except mapping.UnexpectedAnswerError as exc:
            raise PermanentConnectorError(f"Jira {action}: {exc}") from exc

    def register_webhook(self, target: Target, url: str, secret: str) -> str | None:
        # Dynamic webhooks (POST /rest/api/3/webhook) are for Connect and OAuth 2.0 apps only;
        # with an API token or PAT the admin page is the way, so say how instead.
        return None


def _from_jira_error(action: str, exc: JIRAError) -> ConnectorError:
    status = exc.status_code
    response = exc.response
    if status is None:
        return RetryableConnectorError(f"Jira {action}: no HTTP answer")
    message = answered("Jira", action, status)
    if mapping.is_retryable_status(status):
        headers: Mapping[str, str] = response.headers if response is not None else {}
        retry_after = mapping.retry_after_seconds(headers, datetime.now(UTC))
        return RetryableConnectorError(message, status=status, retry_after=retry_after)
    return PermanentConnectorError(message, status=status)
