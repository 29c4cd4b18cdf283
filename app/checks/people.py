"""Who counts as a person in a postmortem, and which words are only roles or tools.

A person is anyone registered, any timeline author or responder who is not a tool, and any
capitalised name the postmortem's own text uses the way people are named ("paged Dana",
"Dana said", "@dana"). Role nouns ("the on-call", "the senior dev") are seats, not people.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from app.checks.language import compact

# Words around a capitalised name in free text that say it names a person.
_BEFORE = (
    r"paged|pinged|asked|told|called|messaged|escalated to|handed (?:it )?(?:over )?to|cc|"
    r"thanks|thanked|approved by|reviewed by|merged by|pushed by|written by"
)
_AFTER = (
    r"said|says|asked|wrote|noted|notes|thought|thinks|suggested|acked|acknowledged|joined|"
    r"replied|answered|confirmed|agreed|paged|was paged|got paged|took over|was on[- ]call|"
    r"\((?:on[- ]?call|ic|primary|secondary|sre|dev)\)"
)
_NAME = r"([A-Z][a-z][\w'-]*)"
_CUED = [
    re.compile(rf"\b(?:{_BEFORE})\s+{_NAME}\b"),
    re.compile(rf"\b{_NAME}\s+(?:{_AFTER})"),
    re.compile(r"(?<![\w.])@([A-Za-z][\w.-]*\w)"),
]
_PRONOUNS = frozenset({"he", "she", "him", "her"})


def _is_role(name: str, roles: Iterable[str]) -> bool:
    plain = re.sub(r"^(?:the|our|an?|that|this)\s+", "", name.strip().lower())
    return compact(plain) in {compact(r) for r in roles}


def name_tokens(names: Iterable[str], roles: Iterable[str]) -> frozenset[str]:
    """Whole names and their parts of three letters or more, lower-cased, roles left out."""
    role_set = {compact(r) for r in roles}
    out: set[str] = set()
    for name in names:
        name = name.strip()
        if not name or _is_role(name, roles):
            continue
        out.add(name.lower())
        for part in re.split(r"[^\w'-]+", name.lower()):
            if len(part) >= 3 and compact(part) not in role_set and part not in ("the", "and"):
                out.add(part)
    return frozenset(out)


def is_tool(author: str, tool_words: Iterable[str]) -> bool:
    """Alertmanager, deploy-bot, "ci": authors that are tools, not people."""
    lowered = author.lower()
    words = set(re.split(r"[^a-z0-9]+", lowered))
    return any(w in words or lowered.endswith(w) for w in tool_words if len(w) >= 3) or any(
        w in words for w in tool_words
    )


def cued_names(texts: Iterable[str], roles: Iterable[str]) -> set[str]:
    """Capitalised names the text uses as people's names."""
    found: set[str] = set()
    for text in texts:
        for pattern in _CUED:
            for m in pattern.finditer(text):
                name = m.group(1)
                if not _is_role(name, roles) and name.lower() not in ("the", "we", "it"):
                    found.add(name)
    return found


def is_placeholder_person(values: Iterable[str | None], placeholders: Iterable[str]) -> bool:
    words = {compact(p) for p in placeholders if compact(p)}
    present = [v for v in values if v and v.strip()]
    return bool(present) and any(compact(v) in words for v in present)


def is_pronoun_person(word: str) -> bool:
    return word.lower() in _PRONOUNS
