"""What the fake Jira checks beyond the OpenAPI subset: Atlassian Document Format bodies, the
field values Jira refuses, and the small part of JQL it understands.

The published v3 description types `description` and a comment `body` loosely (a plain string
passes), but Jira Cloud v3 refuses anything that is not an ADF document. The structure rules
below follow the ADF JSON schema (https://developer.atlassian.com/cloud/jira/platform/apis/document/structure/)
for the nodes the connector uses; a node type the fake does not model is reported as such, so
it is never silently accepted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

_INLINE = frozenset({"text", "hardBreak", "mention", "emoji", "inlineCard", "date", "status"})
_LIST_ITEM_CHILDREN = frozenset({"paragraph", "bulletList", "orderedList", "codeBlock"})
_CHILDREN: dict[str, frozenset[str]] = {
    "doc": frozenset(
        {
            "paragraph",
            "heading",
            "bulletList",
            "orderedList",
            "taskList",
            "blockquote",
            "codeBlock",
            "panel",
            "rule",
        }
    ),
    "paragraph": _INLINE,
    "heading": _INLINE,
    "bulletList": frozenset({"listItem"}),
    "orderedList": frozenset({"listItem"}),
    "listItem": _LIST_ITEM_CHILDREN,
    "taskList": frozenset({"taskItem", "taskList"}),
    "taskItem": _INLINE,
    "blockquote": frozenset({"paragraph", "bulletList", "orderedList", "codeBlock"}),
    "panel": frozenset({"paragraph", "heading", "bulletList", "orderedList"}),
    "codeBlock": frozenset({"text"}),
    "rule": frozenset(),
    "text": frozenset(),
    "hardBreak": frozenset(),
    "mention": frozenset(),
    "emoji": frozenset(),
    "inlineCard": frozenset(),
    "date": frozenset(),
    "status": frozenset(),
}
_NEEDS_CONTENT = frozenset(
    {"bulletList", "orderedList", "taskList", "listItem", "blockquote", "panel"}
)
_MARKS = frozenset({"strong", "em", "code", "strike", "underline", "link", "subsup", "textColor"})


def adf_problems(value: Any, where: str) -> list[str]:
    """Why `value` is not a valid ADF document ([] when it is)."""
    if (
        not isinstance(value, dict)
        or value.get("type") != "doc"
        or value.get("version") != 1
        or not isinstance(value.get("content"), list)
    ):
        return [
            f"{where}: Operation value must be an Atlassian Document (see the Atlassian "
            f'Document Format): need {{"type": "doc", "version": 1, "content": [...]}}, '
            f"got {value!r:.80}"
        ]
    problems: list[str] = []
    _check_node(value, where, problems)
    return problems


def _check_node(node: Any, path: str, problems: list[str]) -> None:
    if not isinstance(node, dict) or not isinstance(node.get("type"), str):
        problems.append(f"{path}: ADF node without a type: {node!r:.80}")
        return
    kind = node["type"]
    if kind not in _CHILDREN:
        problems.append(f"{path}: ADF node type {kind!r} is unknown to the fake")
        return
    content = node.get("content")
    if content is not None and not isinstance(content, list):
        problems.append(f"{path}.content: must be an array")
        return
    if kind in _NEEDS_CONTENT and not content:
        problems.append(f"{path}: ADF {kind} needs at least one child")
    if kind == "text":
        _check_text(node, path, problems)
    elif kind == "heading":
        level = (node.get("attrs") or {}).get("level")
        if not isinstance(level, int) or not 1 <= level <= 6:
            problems.append(f"{path}: heading needs attrs.level 1-6")
    elif kind == "taskItem":
        attrs = node.get("attrs") or {}
        if not isinstance(attrs.get("localId"), str) or attrs.get("state") not in ("TODO", "DONE"):
            problems.append(f"{path}: taskItem needs attrs.localId and attrs.state TODO|DONE")
    for index, child in enumerate(content or []):
        child_path = f"{path}.content[{index}]"
        child_kind = child.get("type") if isinstance(child, dict) else None
        if child_kind is not None and child_kind not in _CHILDREN[kind]:
            problems.append(f"{child_path}: {child_kind!r} is not allowed inside {kind!r}")
            continue
        _check_node(child, child_path, problems)


def _check_text(node: dict[str, Any], path: str, problems: list[str]) -> None:
    if not isinstance(node.get("text"), str) or not node["text"]:
        problems.append(f"{path}: text node needs a non-empty 'text'")
    for mark in node.get("marks") or []:
        mark_type = mark.get("type") if isinstance(mark, dict) else None
        if mark_type not in _MARKS:
            problems.append(f"{path}: unknown mark {mark!r:.60}")
        elif mark_type == "link" and not isinstance((mark.get("attrs") or {}).get("href"), str):
            problems.append(f"{path}: link mark needs attrs.href")


def adf_text(document: Any) -> str:
    """All text in a document, paragraphs and list items on their own lines (for asserts)."""
    lines: list[str] = []

    def walk(node: Any, line: list[str]) -> None:
        if not isinstance(node, dict):
            return
        if node.get("type") == "text":
            line.append(node.get("text", ""))
        elif node.get("type") == "hardBreak":
            line.append("\n")
        for child in node.get("content") or []:
            if isinstance(child, dict) and child.get("type") in ("paragraph", "heading"):
                inner: list[str] = []
                walk(child, inner)
                lines.append("".join(inner))
            else:
                walk(child, line)

    walk(document, [])
    return "\n".join(lines)


# -- JQL -------------------------------------------------------------------------------------


class JqlError(ValueError):
    """Syntax the fake cannot read, or a clause it does not implement."""


@dataclass
class Clause:
    field: str
    values: list[str]
    negated: bool = False


@dataclass
class Query:
    clauses: list[Clause] = field(default_factory=list)
    order: list[tuple[str, bool]] = field(default_factory=list)  # (field, descending)


SEARCHABLE = frozenset({"labels", "key", "issuekey", "project", "status", "statuscategory"})
ORDERABLE = frozenset({"created", "updated", "key", "id"})
_TOKEN = re.compile(r'\s*(?:"((?:[^"\\]|\\.)*)"|(!=|[(),=])|([^\s(),="!]+))')


def _tokens(jql: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    position = 0
    jql = jql.rstrip()
    while position < len(jql):
        match = _TOKEN.match(jql, position)
        if match is None or match.end() == position:
            raise JqlError(f"cannot read JQL at {jql[position:]!r}")
        quoted, symbol, word = match.groups()
        if quoted is not None:
            tokens.append(("value", re.sub(r"\\(.)", r"\1", quoted)))
        elif symbol is not None:
            tokens.append(("symbol", symbol))
        else:
            tokens.append(("word", word))
        position = match.end()
    return tokens


def parse_jql(jql: str) -> Query:
    """`field = value`, `field != value`, `field in (a, b)`, `field not in (...)` joined by
    AND, then an optional `ORDER BY field [ASC|DESC], ...`."""
    tokens = _tokens(jql)
    query = Query()
    i = 0

    def word(at: int) -> str:
        return tokens[at][1].lower() if at < len(tokens) and tokens[at][0] == "word" else ""

    def value(at: int) -> str:
        if at >= len(tokens) or tokens[at][0] == "symbol":
            raise JqlError(f"expected a value in {jql!r}")
        return tokens[at][1]

    while i < len(tokens) and word(i) != "order":
        if query.clauses:
            if word(i) != "and":
                raise JqlError(f"the fake only joins clauses with AND: {jql!r}")
            i += 1
        name = word(i)
        if name not in SEARCHABLE:
            raise JqlError(f"the fake cannot search on {tokens[i][1] if i < len(tokens) else ''!r}")
        i += 1
        operator = tokens[i][1].lower() if i < len(tokens) else ""
        if operator == "not" and word(i + 1) == "in":
            operator, i = "not in", i + 1
        i += 1
        if operator in ("=", "!="):
            query.clauses.append(Clause(name, [value(i)], negated=operator == "!="))
            i += 1
        elif operator in ("in", "not in"):
            if i >= len(tokens) or tokens[i] != ("symbol", "("):
                raise JqlError(f"expected ( after IN in {jql!r}")
            values: list[str] = []
            i += 1
            while i < len(tokens) and tokens[i] != ("symbol", ")"):
                values.append(value(i))
                i += 1
                if i < len(tokens) and tokens[i] == ("symbol", ","):
                    i += 1
            if i >= len(tokens) or not values:
                raise JqlError(f"unclosed or empty list in {jql!r}")
            i += 1
            query.clauses.append(Clause(name, values, negated=operator == "not in"))
        else:
            raise JqlError(f"the fake does not implement operator {operator!r}")
    if i < len(tokens):
        if word(i + 1) != "by":
            raise JqlError(f"expected ORDER BY in {jql!r}")
        i += 2
        while i < len(tokens):
            name = word(i)
            if name not in ORDERABLE:
                raise JqlError(f"the fake cannot order by {tokens[i][1]!r}")
            i += 1
            descending = False
            if word(i) in ("asc", "desc"):
                descending = word(i) == "desc"
                i += 1
            query.order.append((name, descending))
            if i < len(tokens) and tokens[i] == ("symbol", ","):
                i += 1
    return query


def matches(issue: dict[str, Any], clause: Clause) -> bool:
    """Whether a stored issue satisfies one parsed clause."""
    fields = issue["fields"]
    values = [v.casefold() for v in clause.values]
    if clause.field == "labels":
        hit = any(label.casefold() in values for label in fields["labels"])
    elif clause.field in ("key", "issuekey"):
        hit = issue["key"].casefold() in values or issue["id"] in values
    elif clause.field == "project":
        hit = fields["project"]["key"].casefold() in values or fields["project"]["id"] in values
    elif clause.field == "status":
        hit = fields["status"]["name"].casefold() in values
    else:  # statuscategory
        category = fields["status"]["statusCategory"]
        hit = category["key"].casefold() in values or category["name"].casefold() in values
    return hit != clause.negated


# -- fields ----------------------------------------------------------------------------------


def field_errors(
    fields: dict[str, Any],
    allowed: frozenset[str],
    users: dict[str, str],
    priorities: dict[str, str],
) -> dict[str, str]:
    """Jira's per-field 400 messages for values it refuses."""
    errors: dict[str, str] = {}
    for name, value in fields.items():
        if name not in allowed:
            errors[name] = (
                f"Field '{name}' cannot be set. It is not on the appropriate screen, or unknown."
            )
        elif name == "summary" and isinstance(value, str) and re.search(r"[\r\n]", value):
            errors[name] = "The summary is invalid because it contains newline characters."
        elif name == "summary" and (not isinstance(value, str) or len(value) > 255):
            errors[name] = "Summary must be less than 255 characters."
        elif name == "assignee" and value is not None:
            if not isinstance(value, dict) or "accountId" not in value:
                errors[name] = "Jira Cloud identifies users by accountId; name and key are gone."
            elif value["accountId"] not in users:
                errors[name] = f"User '{value['accountId']}' does not exist."
        elif name == "duedate" and value is not None:
            try:
                date.fromisoformat(value)
            except (TypeError, ValueError):
                errors[name] = f"Error parsing date string: {value}"
        elif name == "labels":
            for label in value if isinstance(value, list) else [value]:
                if not isinstance(label, str) or re.search(r"\s", label) or len(label) > 255:
                    errors[name] = f"The label '{label}' contains spaces which is invalid."
        elif name == "priority" and lookup(priorities, value) is None:
            errors[name] = "Specify a valid priority"
    return errors


def lookup(table: dict[str, str], reference: Any) -> str | None:
    """The name in `table` (name -> id) that `{"name": ...}` or `{"id": ...}` refers to."""
    if not isinstance(reference, dict):
        return None
    for name, item_id in table.items():
        if reference.get("name") == name or reference.get("id") == item_id:
            return name
    return None
