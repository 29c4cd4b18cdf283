"""Pure GitHub mappings: the issue body we write, the marker in it, states and references."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

from connectors.base import TicketRef, TicketSnapshot, TicketSpec, TicketState
from connectors.markdown import ticket_markdown

MARKER_PREFIX = "<!-- followthrough:action-item="
# The due line `ticket_markdown` writes ("**Due:** 2026-12-01"), or plain "Due:" as people retype
# it. Bodies edited in GitHub's web editor come back with CRLF line ends.
_DUE_LINE = re.compile(r"^(?:\*\*Due:\*\*|Due:)[ \t]*\d{4}-\d{2}-\d{2}[ \t]*(?=\r?$)", re.MULTILINE)
_LINK_LINE = re.compile(r"^From the postmortem: ", re.MULTILINE)
# GitHub's own rules: an owner is 1-39 letters, digits or single hyphens, not starting or
# ending with one; a repository name is up to 100 ASCII letters, digits, ".", "-" or "_" and is
# never "." or "..". Issue numbers start at 1.
_OWNER = r"[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}"
_REPO = r"(?!\.\.?(?:[#/]|$))[A-Za-z0-9._-]{1,100}"
# A repository as the project an integration or a route names: the same rules as in a
# reference, so `../..` can never become part of an API path.
REPOSITORY = rf"^{_OWNER}/{_REPO}$"
_NUMBER = r"[1-9][0-9]{0,9}"
_REF_KEY = re.compile(rf"^(?P<repo>{_OWNER}/{_REPO})#(?P<number>{_NUMBER})$")
_REF_URL = re.compile(
    rf"^(?P<scheme>https?)://(?P<host>[^/?#@\s]+)/(?P<repo>{_OWNER}/{_REPO})"
    rf"/issues/(?P<number>{_NUMBER})/?(?:[?#][^\s]*)?$"
)


def marker_comment(marker: str) -> str:
    return f"{MARKER_PREFIX}{marker} -->"


def render_body(spec: TicketSpec) -> str:
    """GitHub has no due-date field, so the date goes in the body; the marker closes it."""
    return ticket_markdown(spec, due_in_body=True, footer=marker_comment(spec.marker))


def with_due_date(body: str, due: date) -> str:
    """`body` with its due line set to `due`; a body without one gets it above the link back
    (or above the marker, or at the end), where `render_body` puts it."""
    line = f"**Due:** {due.isoformat()}"
    if _DUE_LINE.search(body):
        return _DUE_LINE.sub(line, body, count=1)
    anchor = _LINK_LINE.search(body)
    at = anchor.start() if anchor else body.find(MARKER_PREFIX)
    if at < 0:
        return f"{body.rstrip()}\n\n{line}" if body.strip() else line
    return f"{body[:at]}{line}\n\n{body[at:]}"


def state_of(state: str, state_reason: str | None) -> TicketState:
    """Closed as completed (or with no reason) is done; not planned and duplicate are won't do."""
    if state != "closed":
        return TicketState.OPEN
    if state_reason in ("not_planned", "duplicate"):
        return TicketState.WONT_DO
    return TicketState.DONE


def state_change(state: TicketState, duplicate: bool) -> tuple[str, str]:
    """The (`state`, `state_reason`) PATCH for a settable state. GitHub applies a reason only
    together with a state, so both always go together."""
    if state is TicketState.OPEN:
        return "open", "reopened"
    if state is TicketState.WONT_DO:
        return "closed", "duplicate" if duplicate else "not_planned"
    return "closed", "completed"


def raw_status(state: str, state_reason: str | None) -> str:
    return f"{state}:{state_reason}" if state == "closed" and state_reason else state


def external_key(repo: str, number: int) -> str:
    return f"{repo}#{number}"


def parse_ref(url_or_key: str, web_host: str | None = None) -> tuple[str, int] | None:
    """("owner/repo", number) from "owner/repo#12", or from
    "https://<web_host>/owner/repo/issues/12" when `web_host` (host[:port], the host people
    browse the integration's issues on) is given; None for anything else."""
    text = url_or_key.strip()
    match = _REF_KEY.match(text)
    if match is None and web_host is not None:
        match = _REF_URL.match(text)
        if match is not None and match.group("host").lower() != web_host.lower():
            match = None
    if match is None:
        return None
    return match.group("repo"), int(match.group("number"))


def snapshot(repo: str, raw: Mapping[str, Any], etag: str | None) -> TicketSnapshot:
    """A snapshot from GitHub's JSON for one issue."""
    key = external_key(repo, int(raw["number"]))
    state, reason = str(raw.get("state", "open")), raw.get("state_reason")
    updated = datetime.fromisoformat(str(raw["updated_at"]).replace("Z", "+00:00"))
    assignees = raw.get("assignees") or []
    return TicketSnapshot(
        ref=TicketRef(external_key=key, external_id=key, url=str(raw.get("html_url", ""))),
        state=state_of(state, reason),
        raw_status=raw_status(state, reason),
        updated_at=updated if updated.tzinfo else updated.replace(tzinfo=UTC),
        assignee=assignees[0].get("login") if assignees else None,
        labels=[
            str(label.get("name")) for label in raw.get("labels") or [] if isinstance(label, dict)
        ],
        etag=etag,
    )
