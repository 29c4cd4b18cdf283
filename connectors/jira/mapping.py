"""Pure translation between Followthrough's neutral types and Jira Cloud REST v3 JSON.

No network and no `jira` library here: request bodies, Atlassian Document Format (ADF)
documents, status/resolution classification, ref parsing, the marker label and error
classification are plain functions, so they can be tested without a server.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from connectors.base import TicketChanges, TicketRef, TicketSnapshot, TicketSpec, TicketState

MARKER_PROPERTY_KEY = "followthrough"
MARKER_LABEL_PREFIX = "followthrough-"
DEFAULT_ISSUE_TYPE = "Task"
DEFAULT_WONT_DO_RESOLUTIONS = ("Won't Do", "Won't Fix", "Duplicate", "Cannot Reproduce", "Declined")

# Jira rejects a summary longer than 255 characters or containing a line break, and a label
# with whitespace in it or longer than 255 characters.
SUMMARY_MAX = 255
LABEL_MAX = 255

_ISSUE_KEY = re.compile(r"^[A-Z][A-Z0-9_]*-[1-9][0-9]*$")
_URL = re.compile(r"https?://[^\s<>\"]+")
_URL_TRAILING_PUNCTUATION = ".,;:!?)]}'"
_MARKER_LABEL = re.compile(rf"^{MARKER_LABEL_PREFIX}[0-9a-f]{{32}}$")


class UnexpectedAnswerError(ValueError):
    """Jira answered 2xx with JSON that lacks what every Jira Cloud answer carries."""


# -- marker ----------------------------------------------------------------------------------


def marker_label(marker: str) -> str:
    """The label that carries `marker` on an issue: `followthrough-<32 hex digits>`.

    A UUID marker keeps its own hex; anything else is hashed, so the label never contains
    characters Jira refuses in labels (whitespace) and always has the same length.
    """
    try:
        token = uuid.UUID(marker).hex
    except ValueError:
        token = hashlib.sha256(marker.encode()).hexdigest()[:32]
    return MARKER_LABEL_PREFIX + token


def is_marker_label(label: str) -> bool:
    return bool(_MARKER_LABEL.match(label))


def marker_jql(label: str) -> str:
    """Search by label: JQL cannot see issue properties unless an app indexes them."""
    return f'labels = "{label}" ORDER BY created ASC'


# -- Atlassian Document Format ---------------------------------------------------------------


def _text(text: str, href: str | None = None) -> dict[str, Any]:
    node: dict[str, Any] = {"type": "text", "text": text}
    if href is not None:
        node["marks"] = [{"type": "link", "attrs": {"href": href}}]
    return node


def _inline(line: str) -> list[dict[str, Any]]:
    """Text nodes for one line, with http(s) URLs turned into links (ADF does not autolink)."""
    nodes: list[dict[str, Any]] = []
    position = 0
    for match in _URL.finditer(line):
        url = match.group(0).rstrip(_URL_TRAILING_PUNCTUATION)
        if match.start() > position:
            nodes.append(_text(line[position : match.start()]))
        nodes.append(_text(url, href=url))
        position = match.start() + len(url)
    if position < len(line):
        nodes.append(_text(line[position:]))
    return nodes


def paragraph(text: str) -> dict[str, Any]:
    """One paragraph; the lines of `text` are separated by hard breaks."""
    content: list[dict[str, Any]] = []
    for line in text.split("\n"):
        line = line.rstrip()
        if content and line:
            content.append({"type": "hardBreak"})
        content.extend(_inline(line))
    return {"type": "paragraph", "content": content}


def paragraphs(text: str) -> list[dict[str, Any]]:
    """Paragraphs for plain text: blank lines separate paragraphs; empty text gives none."""
    blocks = re.split(r"\n\s*\n", text.replace("\r\n", "\n").strip())
    return [paragraph(block) for block in blocks if block.strip()]


def heading(text: str, level: int = 3) -> dict[str, Any]:
    return {"type": "heading", "attrs": {"level": level}, "content": [_text(text)]}


def bullet_list(items: Iterable[str]) -> dict[str, Any] | None:
    entries = [
        {"type": "listItem", "content": [paragraph(" ".join(item.split()))]}
        for item in items
        if item.strip()
    ]
    # ADF requires at least one listItem in a bulletList.
    return {"type": "bulletList", "content": entries} if entries else None


def document(blocks: Iterable[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "doc", "version": 1, "content": list(blocks)}


def text_document(text: str) -> dict[str, Any]:
    """A comment body: Jira Cloud v3 refuses plain strings where it expects ADF."""
    return document(paragraphs(text) or [{"type": "paragraph", "content": []}])


def description_document(spec: TicketSpec) -> dict[str, Any]:
    """The issue description: the text, the definition of done as a bullet list,
    the verification and a link back to the postmortem."""
    blocks = paragraphs(spec.description)
    checklist = bullet_list(spec.definition_of_done)
    if checklist is not None:
        blocks += [heading("Definition of done"), checklist]
    if spec.verification.strip():
        blocks += [heading("Verification"), *paragraphs(spec.verification)]
    if spec.postmortem_url:
        blocks.append(
            {
                "type": "paragraph",
                "content": [_text("Postmortem: "), _text(spec.postmortem_url, spec.postmortem_url)],
            }
        )
    return document(blocks)


# -- request bodies --------------------------------------------------------------------------


def summary(title: str) -> str:
    """Jira's summary: one line of at most 255 characters."""
    line = " ".join(title.split())
    return line if len(line) <= SUMMARY_MAX else line[: SUMMARY_MAX - 1] + "…"


def clean_labels(labels: Iterable[str]) -> list[str]:
    """Labels Jira accepts: whitespace becomes '-', empties and repeats are dropped."""
    seen: dict[str, None] = {}
    for label in labels:
        cleaned = "-".join(label.split())[:LABEL_MAX]
        if cleaned:
            seen.setdefault(cleaned, None)
    return list(seen)


def _by_id_or(name_key: str, value: str) -> dict[str, str]:
    # Jira accepts either form; a numeric value can only be an id.
    return {"id": value} if value.isdigit() else {name_key: value}


def create_body(
    project: str,
    issue_type: str | None,
    spec: TicketSpec,
    priority_names: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The POST /rest/api/3/issue body, marker label and marker property included."""
    fields: dict[str, Any] = {
        "project": _by_id_or("key", project),
        "issuetype": _by_id_or("name", issue_type or DEFAULT_ISSUE_TYPE),
        "summary": summary(spec.title),
        "description": description_document(spec),
        "labels": clean_labels([*spec.labels, marker_label(spec.marker)]),
    }
    if spec.assignee:
        fields["assignee"] = {"accountId": spec.assignee}
    if spec.due_date is not None:
        fields["duedate"] = spec.due_date.isoformat()
    if spec.priority and priority_names and spec.priority in priority_names:
        fields["priority"] = {"name": priority_names[spec.priority]}
    return {
        "fields": fields,
        # Written in the same request as the issue, so the marker can never be missing from
        # an issue that exists.
        "properties": [{"key": MARKER_PROPERTY_KEY, "value": {"marker": spec.marker}}],
    }


def has_changes(changes: TicketChanges) -> bool:
    return (
        changes.title is not None
        or changes.spec is not None
        or changes.assignee is not None
        or changes.clear_assignee
        or changes.due_date is not None
        or changes.labels is not None
    )


def edit_fields(changes: TicketChanges, current_labels: Sequence[str]) -> dict[str, Any]:
    """The `fields` of PUT /rest/api/3/issue/{id}. Labels always keep every marker label."""
    fields: dict[str, Any] = {}
    if changes.spec is not None:
        fields["summary"] = summary(changes.spec.title)
        fields["description"] = description_document(changes.spec)
    if changes.title is not None:
        fields["summary"] = summary(changes.title)
    if changes.clear_assignee:
        fields["assignee"] = None
    elif changes.assignee is not None:
        fields["assignee"] = {"accountId": changes.assignee}
    if changes.due_date is not None:
        fields["duedate"] = changes.due_date.isoformat()
    if changes.labels is not None:
        markers = [label for label in current_labels if is_marker_label(label)]
        if changes.spec is not None:
            markers.append(marker_label(changes.spec.marker))
        fields["labels"] = clean_labels([*changes.labels, *markers])
    return fields


# -- answers ---------------------------------------------------------------------------------


def browse_url(site_url: str, key: str) -> str:
    return f"{site_url.rstrip('/')}/browse/{key}"


def ref_from_issue(answer: Any, site_url: str) -> TicketRef:
    """A ref from a created-issue or issue answer (both carry `id` and `key`)."""
    if not isinstance(answer, Mapping):
        raise UnexpectedAnswerError("Jira answered something other than an issue")
    key, issue_id = answer.get("key"), answer.get("id")
    if not isinstance(key, str) or issue_id is None:
        raise UnexpectedAnswerError("Jira answered without an issue key and id")
    return TicketRef(external_key=key, external_id=str(issue_id), url=browse_url(site_url, key))


def normalised_names(names: Iterable[str]) -> frozenset[str]:
    return frozenset(_normalised(name) for name in names)


def _normalised(name: str) -> str:
    # Admins type resolution names by hand; a typographic apostrophe (U+2019) is common.
    return " ".join(name.replace("\u2019", "'").casefold().split())


def ticket_state(category_key: str, resolution: str | None, wont_do: frozenset[str]) -> TicketState:
    """Classify by status category (admins rename statuses, not categories); a done issue is
    won't-do when its resolution is in the site's won't-do set, and done otherwise."""
    if category_key == "done":
        if resolution is not None and _normalised(resolution) in wont_do:
            return TicketState.WONT_DO
        return TicketState.DONE
    if category_key == "indeterminate":
        return TicketState.IN_PROGRESS
    # "new", and "undefined" (statuses with no category) are not started yet.
    return TicketState.OPEN


def parse_timestamp(value: str) -> datetime:
    """Jira's `2026-03-01T10:15:30.123+0000` (also accepts ISO 8601 with a colon offset)."""
    for pattern in ("%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%dT%H:%M:%S%z"):
        try:
            return datetime.strptime(value, pattern)
        except ValueError:
            continue
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def snapshot(answer: Mapping[str, Any], site_url: str, wont_do: frozenset[str]) -> TicketSnapshot:
    """A TicketSnapshot from GET /rest/api/3/issue/{id} (fields status, resolution, assignee,
    duedate, labels, updated)."""
    fields = answer.get("fields")
    if not isinstance(fields, Mapping):
        raise UnexpectedAnswerError("Jira answered an issue without fields")
    status = fields.get("status") or {}
    category = (status.get("statusCategory") or {}).get("key")
    if not isinstance(category, str) or "updated" not in fields:
        raise UnexpectedAnswerError("Jira answered an issue without status or updated")
    resolution = (fields.get("resolution") or {}).get("name")
    assignee = (fields.get("assignee") or {}).get("accountId")
    duedate = fields.get("duedate")
    return TicketSnapshot(
        ref=ref_from_issue(answer, site_url),
        state=ticket_state(category, resolution, wont_do),
        raw_status=str(status.get("name", "")),
        updated_at=parse_timestamp(fields["updated"]),
        resolution=resolution,
        assignee=assignee,
        due_date=date.fromisoformat(duedate) if duedate else None,
        labels=tuple(fields.get("labels") or ()),
    )


def account_name(myself: Mapping[str, Any]) -> str:
    """Who GET /myself says we are: the Cloud accountId (Data Center has name/key instead)."""
    for key in ("accountId", "name", "key", "displayName"):
        value = myself.get(key)
        if isinstance(value, str) and value:
            return value
    raise UnexpectedAnswerError("Jira's /myself answer names nobody")


# -- refs ------------------------------------------------------------------------------------


def parse_ref(url_or_key: str, site_url: str) -> str:
    """The issue key in "OPS-42", or in a URL on the configured site whose path ends in
    `/browse/OPS-42` (or `/issues/OPS-42`, a board's view), or that selects it with
    `selectedIssue=OPS-42`. A URL on another host is refused: its key would name a different
    issue here. Raises ValueError, saying what is accepted, for anything else."""
    text = url_or_key.strip()
    site = urlsplit(site_url)
    accepted = f"expected a Jira issue key such as OPS-42 or {site_url.rstrip('/')}/browse/OPS-42"
    if _ISSUE_KEY.match(text.upper()):
        return text.upper()
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018  # a port that is not a number raises here
    except ValueError:
        raise ValueError(f"not a Jira issue reference: {accepted}") from None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"not a Jira issue reference: {accepted}")
    if parts.netloc.casefold() != site.netloc.casefold():
        raise ValueError(f"not on this Jira site ({site.netloc}): {accepted}")
    candidates = parse_qs(parts.query).get("selectedIssue", [])
    segments = parts.path.rstrip("/").split("/")
    if len(segments) >= 2 and segments[-2] in ("browse", "issues"):
        candidates.append(segments[-1])
    for candidate in candidates:
        if _ISSUE_KEY.match(candidate.upper()):
            return candidate.upper()
    raise ValueError(f"not a Jira issue reference: {accepted}")


# -- errors ----------------------------------------------------------------------------------


def is_retryable_status(status: int) -> bool:
    """429 and 5xx may pass; 408 is the server's own timeout. Other 4xx will not change."""
    return status in (408, 429) or status >= 500


def retry_after_seconds(headers: Mapping[str, str], now: datetime) -> float | None:
    """Seconds Jira asks us to wait: `Retry-After` (seconds or an HTTP date), else
    `X-RateLimit-Reset` (ISO 8601, e.g. `2026-03-01T10:15Z`)."""
    lowered = {k.lower(): v for k, v in headers.items()}
    value = lowered.get("retry-after", "").strip()
    if value:
        try:
            return max(float(value), 0.0)
        except ValueError:
            pass
        try:
            return max((parsedate_to_datetime(value) - now).total_seconds(), 0.0)
        except (TypeError, ValueError):
            pass
    reset = lowered.get("x-ratelimit-reset", "").strip()
    if reset:
        try:
            moment = datetime.fromisoformat(reset.replace("Z", "+00:00"))
        except ValueError:
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return max((moment - now).total_seconds(), 0.0)
    return None
