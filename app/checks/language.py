"""Reading the words of a postmortem: tokens, word forms, quoted spans, names, measurable details.

The checks match on word forms, not on raw substrings, so that "improving", "improved" and
"improvements" are read as "improve", "re-work" as "rework", and a quoted runbook line or a
product called "Better Uptime" is never read as the item's own wording.
"""

# Typographic quotes, dashes and the multiplication sign are read on purpose: teams paste them.
# ruff: noqa: RUF001

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import simplemma

# Quoted text and code spans are somebody else's words: never matched, but they name a concrete
# thing. A single-quoted span needs a non-word on both sides, so apostrophes stay words.
_QUOTED = r'`[^`]+`|"[^"\n]+"|“[^”\n]+”|‘[^’\n]+’|(?<!\w)\'[^\'\n]+\'(?!\w)'
_URL = r"https?://\S+"
_TOKEN = re.compile(rf"(?P<quote>{_QUOTED})|(?P<url>{_URL})|(?P<word>[^\s]+)")
_EDGE = "\"'“”‘’.,;:!?()[]{}*_…"
_CLAUSE_END = (".", "!", "?", ";", ":", "—", "–")


def words(text: str) -> frozenset[str]:
    """A word list written as one string, lower-cased."""
    return frozenset(text.lower().split())


_NUMBER_WORDS = words(
    "zero one two three four five six seven eight nine ten eleven twelve fifteen twenty "
    "thirty forty fifty sixty hundred thousand million twice"
)


@dataclass(frozen=True)
class Token:
    text: str  # as written, without surrounding punctuation
    lower: str
    kind: str  # "word" | "number" | "ident" | "quote" | "url" | "punct"
    clause_start: bool  # first token of the text or of a clause (after . ; : etc.)
    ends_clause: bool  # followed by punctuation that ends a clause
    comma_after: bool
    name: bool = False  # part of a capitalised multi-word name, or a mid-sentence Name

    @property
    def capitalised(self) -> bool:
        return self.kind == "word" and self.text[:1].isupper()


# Severity, priority and level labels (SEV3s, P1, L4) name a category, not a measure.
_LABEL = re.compile(r"(?:sev|p|l)\d+s?", re.IGNORECASE)


def _kind(core: str) -> str:
    if _LABEL.fullmatch(core):
        return "word"
    if any(ch.isdigit() for ch in core) or core in ("<", ">", "≤", "≥", "×"):
        return "number"
    if not any(ch.isalpha() for ch in core):
        return "punct"
    if (
        "_" in core
        or "/" in core
        or "::" in core
        or "(" in core
        or "=" in core
        or re.search(r"[a-z]\.[a-z]", core)
        or re.fullmatch(r"[a-z]+[A-Z]\w*", core)  # camelCase identifiers
        or core.startswith(("#", "@", "$"))
    ):
        return "ident"
    if core.lower() in _NUMBER_WORDS:
        return "number"
    return "word"


def tokens(text: str) -> list[Token]:
    """Tokens with clause boundaries; quoted spans and URLs are single tokens."""
    out: list[Token] = []
    start = True
    for m in _TOKEN.finditer(text):
        raw = m.group(0)
        if m.group("quote") or m.group("url"):
            kind = "quote" if m.group("quote") else "url"
            trailing = raw[-1] if m.group("url") else ""
            out.append(Token(raw, raw.lower(), kind, start, trailing in _CLAUSE_END, False))
            start = False
            continue
        core = raw.strip(_EDGE)
        if not core or _kind(core) == "punct":
            if raw in ("-", "—", "–") or any(raw.endswith(c) for c in _CLAUSE_END):
                start = True
            continue
        ends = any(raw.endswith(c) for c in _CLAUSE_END) and not raw.endswith("...")
        comma = raw.endswith(",")
        out.append(Token(core, core.lower(), _kind(core), start, ends, comma))
        start = ends
    return _mark_names(out)


def _title_case(toks: list[Token]) -> bool:
    words = [t for t in toks[1:] if t.kind == "word" and len(t.text) >= 4]
    if len(words) < 1:
        return len(toks) > 0 and all(t.capitalised for t in toks if t.kind == "word")
    return sum(t.capitalised for t in words) / len(words) >= 0.75


def _mark_names(toks: list[Token]) -> list[Token]:
    """Capitalised multi-word runs ("Azure Resource Explorer", "Better Uptime") and capitalised
    words inside a sentence are names, not adjectives or verbs. A Title Case text tells nothing."""
    if _title_case(toks):
        return toks
    marked = list(toks)
    i = 0
    while i < len(toks):
        j = i
        while (
            j < len(toks)
            and toks[j].capitalised
            and not toks[j].text.isupper()
            and (j == i or not toks[j].clause_start)
        ):
            j += 1
            if toks[j - 1].ends_clause or toks[j - 1].comma_after:
                break
        run = j - i
        if run >= 2 or (run == 1 and not toks[i].clause_start):
            for k in range(i, j):
                marked[k] = _with_name(toks[k])
        i = max(j, i + 1)
    return marked


def _with_name(t: Token) -> Token:
    return Token(t.text, t.lower, t.kind, t.clause_start, t.ends_clause, t.comma_after, True)


def name_runs(toks: list[Token]) -> list[str]:
    """The multi-word names in a text ("Better Uptime"), as written."""
    runs: list[str] = []
    current: list[str] = []
    for t in toks:
        if t.name and not (current and t.clause_start):
            current.append(t.text)
        else:
            if len(current) >= 2:
                runs.append(" ".join(current))
            current = [t.text] if t.name else []
    if len(current) >= 2:
        runs.append(" ".join(current))
    return runs


def measurable(toks: list[Token]) -> bool:
    """A number, threshold, identifier, code span or quoted artefact, URL, or a multi-word name."""
    if any(t.kind in ("number", "ident", "quote", "url") for t in toks):
        return True
    return bool(name_runs(toks))


def _stems(word: str) -> set[str]:
    forms = {word}
    if word.endswith("'s") or word.endswith("’s"):
        word = word[:-2]
        forms.add(word)
    n = len(word)
    if n > 4 and word.endswith("ies"):
        forms.add(word[:-3] + "y")
    if n > 4 and word.endswith("ied"):
        forms.add(word[:-3] + "y")
    if n > 4 and word.endswith("ing"):
        base = word[:-3]
        forms.update({base, base + "e"})
        if len(base) > 2 and base[-1] == base[-2]:
            forms.add(base[:-1])
    if n > 3 and word.endswith("ed"):
        base = word[:-2]
        forms.update({base, word[:-1]})
        if len(base) > 2 and base[-1] == base[-2]:
            forms.add(base[:-1])
    if n > 3 and word.endswith("es"):
        forms.add(word[:-2])
    if n > 3 and word.endswith("s") and not word.endswith("ss"):
        forms.add(word[:-1])
    for suffix in ("nesses", "ness", "ments", "ment"):
        if n > len(suffix) + 3 and word.endswith(suffix):
            forms.add(word[: -len(suffix)])
    for suffix in ("ations", "ation", "ions", "ion"):
        if n > len(suffix) + 3 and word.endswith(suffix):
            base = word[: -len(suffix)]
            forms.update({base, base + "e"})
    return forms


@lru_cache(maxsize=8192)
def forms(word: str) -> frozenset[str]:
    """The word as written, its dictionary lemma and its regular base forms, lower-cased."""
    word = word.lower().replace("’", "'")
    out = _stems(word)
    for w in list(out):
        out.add(simplemma.lemmatize(w, lang="en"))
    return frozenset(out)


@dataclass(frozen=True)
class Unit:
    """One matchable piece of a word: hyphenated words are split ("re-work" -> re, work)."""

    token: int
    forms: frozenset[str]


def units(toks: list[Token], *, skip_names: bool = True) -> list[Unit | None]:
    """Matchable units; None marks a barrier (quote, number, identifier, name) no phrase spans."""
    out: list[Unit | None] = []
    for i, t in enumerate(toks):
        if t.kind != "word" or (skip_names and t.name):
            out.append(None)
            continue
        parts = [p for p in re.split(r"[-‐]", t.lower) if p]
        for part in parts:
            out.append(Unit(i, forms(part)))
    return out


def compact(phrase: str) -> str:
    return re.sub(r"[^a-z']", "", phrase.lower())


def _match_from(us: list[Unit | None], pos: int, rest: str, used: int) -> int | None:
    if not rest:
        return used
    if pos >= len(us) or used >= 6:
        return None
    unit = us[pos]
    if unit is None:
        return None
    for form in sorted(unit.forms, key=len, reverse=True):
        if form and rest.startswith(form):
            found = _match_from(us, pos + 1, rest[len(form) :], used + 1)
            if found is not None:
                return found
    return None


@dataclass(frozen=True)
class PhraseMatch:
    phrase: str
    first: int  # token indexes, inclusive
    last: int


def find_phrases(toks: list[Token], phrases: list[str], **kw: bool) -> list[PhraseMatch]:
    """Every place a phrase occurs, in any word form, outside quotes, code and names."""
    us = units(toks, **kw)
    targets = sorted({(compact(p), p) for p in phrases if compact(p)}, key=lambda x: -len(x[0]))
    matches: list[PhraseMatch] = []
    taken: set[int] = set()
    for start in range(len(us)):
        if us[start] is None or start in taken:
            continue
        # A phrase starts at the first unit of a word, never inside "pre-improve".
        unit = us[start]
        assert unit is not None
        if start > 0 and us[start - 1] is not None and us[start - 1].token == unit.token:  # type: ignore[union-attr]
            continue
        for target, phrase in targets:
            used = _match_from(us, start, target, 0)
            if used is None:
                continue
            end_unit = us[start + used - 1]
            assert end_unit is not None
            # The phrase must end at the end of a word.
            if (
                start + used < len(us)
                and us[start + used] is not None
                and us[start + used].token == end_unit.token  # type: ignore[union-attr]
            ):
                continue
            matches.append(PhraseMatch(phrase, unit.token, end_unit.token))
            taken.update(range(start, start + used))
            break
    return matches


def span(toks: list[Token], first: int, last: int) -> str:
    return " ".join(t.text for t in toks[first : last + 1])


def clause_starts(toks: list[Token], connectors: frozenset[str]) -> list[int]:
    """Token indexes where a clause begins: text start, after . ; : , or a connector word."""
    starts = []
    for i, t in enumerate(toks):
        if (
            t.clause_start
            or (i > 0 and toks[i - 1].lower in connectors)
            or (i > 0 and toks[i - 1].comma_after)
        ):
            starts.append(i)
    return starts


def is_placeholder(text: str, placeholders: list[str]) -> bool:
    """True for text that only holds placeholders and punctuation: "TBD", "n/a", "TODO: later"."""
    words = {compact(p) for p in placeholders if compact(p)}
    symbols = {p.strip() for p in placeholders if p.strip() and not compact(p)}
    stripped = text.strip()
    if not stripped:
        return False
    if stripped in symbols or all(ch in "?-—–.…_ " for ch in stripped):
        return True
    pieces = [p for p in re.split(r"[\s,;:!.()\[\]]+", stripped) if p]
    if not pieces:
        return True
    return all(compact(p) in words or p in symbols or not compact(p) for p in pieces)
