"""The checks that read wording: vague items, blame, agentless conditions, checkbox criteria.

Everything here is read from words, so every finding is a warning unless the deployment raises
it (CheckPolicy.severity_overrides), and every message names the words and says how to fix them.
"""

# ruff: noqa: RUF001 (typographic apostrophes are read on purpose)

from __future__ import annotations

from collections.abc import Iterator

import simplemma

from app.checks import language as lang
from app.checks.language import Token, words
from app.checks.model import (
    Finding,
    ItemSnapshot,
    PostmortemSnapshot,
    committed,
    item_path,
    rule,
)
from app.checks.people import cued_names, is_pronoun_person, is_tool, name_tokens
from app.settings import CheckPolicy

# Words that may stand before an item's real head: "We should investigate", "To do: improve".
_LEAD_FILLERS = words(
    "we i you they team should will must need needs to let's lets let us please also then "
    "so and or maybe perhaps probably might could would can action item follow-up followup "
    "todo next step steps the a an"
)
_CONNECTORS = words(
    "and or then but because since so when after while as until before once although though "
    "whereas which who that"
)
_MODALS = words(
    "will would should shall must can could may might needs need has have had to is was "
    "were are did does do didn't doesn't don't wasn't weren't isn't won't can't cannot "
    "couldn't shouldn't wouldn't"
)
_IRREGULAR_PAST = words(
    "ran forgot sent made took put set went wrote broke saw knew thought gave got left kept "
    "told began brought bought built caught chose came did drew drove fell felt found flew "
    "hid held hit let lost meant met paid read rode rang rose said sold shut sang sat slept "
    "spent stood stole struck swore swept swung tore threw understood woke wore won "
    "withdrew"
)


def _verbish(t: Token) -> bool:
    w = t.lower
    if t.kind != "word" or w.endswith(("'s", "’s")):
        return False
    return (
        w in _MODALS
        or w in _IRREGULAR_PAST
        or (len(w) > 3 and w.endswith("ed"))
        or (len(w) > 3 and w.endswith("s") and not w.endswith("ss"))
    )


# vague-wording


def _head_index(toks: list[Token], start: int) -> int:
    i = start
    while i < len(toks) and toks[i].kind == "word" and toks[i].lower in _LEAD_FILLERS:
        i += 1
    return i


def _vague_match(text: str, p: CheckPolicy) -> str | None:
    """The vague words of a text, when nothing measurable makes it concrete."""
    toks = lang.tokens(text)
    if not toks or lang.measurable(toks):
        return None
    heads = {_head_index(toks, i) for i in lang.clause_starts(toks, frozenset({"and", "then"}))}
    for m in lang.find_phrases(toks, p.vague_verbs):
        if m.first in heads and not _comparison(toks, m.last):
            return lang.span(toks, m.first, m.last)
    for m in lang.find_phrases(toks, p.vague_phrases):
        if not _comparison(toks, m.last):
            return lang.span(toks, m.first, m.last)
    return _wished_quality(toks, heads, p)


def _wished_quality(toks: list[Token], heads: set[int], p: CheckPolicy) -> str | None:
    """ "Make deploys safer", "Make alerts more useful": a quality wished for, not a change."""
    verbs = {f for v in p.quality_verbs for f in lang.forms(v.lower())}
    for head in sorted(heads):
        if head >= len(toks) or toks[head].lower not in verbs:
            continue
        for j in range(head + 1, min(head + 6, len(toks))):
            if toks[j].kind == "word" and _comparative(toks[j].lower):
                return lang.span(toks, head, j)
    return None


def _comparative(word: str) -> bool:
    if word in ("more", "less", "better", "worse"):
        return True
    # safer, faster, easier, clearer: a comparative whose base form is another word; nouns
    # ending in -er (server, owner, cluster) are their own lemma.
    if not word.endswith("er") or len(word) < 5:
        return False
    base = simplemma.lemmatize(word, lang="en")
    return base != word and word.startswith(base[:-1] if base.endswith("y") else base[:3])


def _comparison(toks: list[Token], last: int) -> bool:
    # "more than one responder", "better than before" compare; they are not vague heads.
    return last + 1 < len(toks) and toks[last + 1].lower == "than"


@rule("vague-wording")
def vague_wording(s: PostmortemSnapshot, p: CheckPolicy) -> Iterator[Finding]:
    for item in committed(s):
        found = _vague_match(item.title, p)
        if found:
            yield Finding(
                "vague-wording",
                "warning",
                item_path(item, "title"),
                f"'{item.title}' is vague ('{found}' with nothing measurable): say what will exist "
                "or be true when it is done: a number with its unit, a threshold, or the named "
                "thing that changes",
            )
        for n, criterion in enumerate(item.definition_of_done):
            found = _vague_match(criterion, p)
            if found:
                yield Finding(
                    "vague-wording",
                    "warning",
                    item_path(item, f"definition_of_done[{n}]"),
                    f"Criterion '{criterion}' is vague ('{found}'): make it checkable, with a "
                    "number, a threshold or the named thing that shows it is met",
                )


# definition-of-done-checkbox

_EXISTENCE = [
    "exist",
    "exists",
    "existed",
    "present",
    "available",
    "created",
    "added",
    "set",
    "up",
    "setup",
    "in",
    "place",
    "written",
    "documented",
    "merged",
    "done",
    "complete",
    "completed",
    "finished",
    "shipped",
    "built",
    "configured",
    "updated",
    "live",
    "published",
    "filed",
    "opened",
    "raised",
]
_CONDITIONAL = words(
    "when whenever if unless within under over above below after before until while once "
    "fires pages blocks halts stops fails alerts rejects catches shows returns detects "
    "triggers prevents refuses rolls"
)


def _existence_only(criterion: str) -> bool:
    toks = lang.tokens(criterion)
    words = [t for t in toks if t.kind == "word"]
    if not words or any(t.kind in ("number", "ident") for t in toks):
        return False
    if any(w.lower in _CONDITIONAL for w in words):
        return False
    lowered = " ".join(w.lower for w in words)
    if lowered.startswith(("there is ", "there are ", "we have ")):
        return True
    tail = lowered.split()
    for phrase in _EXISTENCE:
        parts = phrase.split()
        if tail[-len(parts) :] == parts:
            return True
    return False


@rule("definition-of-done-checkbox")
def definition_of_done_checkbox(s: PostmortemSnapshot, p: CheckPolicy) -> Iterator[Finding]:
    for item in committed(s):
        criteria = [c for c in item.definition_of_done if c.strip()]
        if criteria and all(_existence_only(c) for c in criteria):
            yield Finding(
                "definition-of-done-checkbox",
                "warning",
                item_path(item, "definition_of_done"),
                f"Every criterion of '{item.title}' only says a thing exists "
                f"('{criteria[0]}'): that is checkbox completion. Say what it does when the "
                "failure comes back (it pages, blocks or halts, within what threshold)",
            )


# blame-wording


def persons(s: PostmortemSnapshot, p: CheckPolicy) -> frozenset[str]:
    """Registered people, people in the timelines, and names the text uses as people."""
    names: set[str] = set()
    names.update(n.author for n in s.timeline if not is_tool(n.author, p.tool_author_words))
    names.update(d.responder for d in s.decision_points)
    texts = [n.text for n in s.timeline] + list(s.texts)
    texts += [c.description for c in s.conditions]
    texts += [
        f"{d.decision} {d.knew} {d.unsure_of} {d.would_have_helped}" for d in s.decision_points
    ]
    names.update(cued_names(texts, p.role_nouns))
    placeholders = {lang.compact(x) for x in p.placeholder_people}
    every = s.person_names | name_tokens(names, p.role_nouns)
    return frozenset(n for n in every if lang.compact(n) not in placeholders)


def _negated(toks: list[Token], first: int, cues: list[str]) -> bool:
    """A negation cue earlier in the same clause: "not human error", "rather than human error"."""
    start = first
    while start > 0 and not toks[start].clause_start and not toks[start - 1].comma_after:
        start -= 1
    before = toks[start:first]
    if not before:
        return False
    return bool(lang.find_phrases(before, cues, skip_names=False))


def _person_at(toks: list[Token], i: int, people: frozenset[str]) -> int:
    """How many tokens from i spell a person's name (0 when none)."""
    for size in (3, 2, 1):
        if i + size <= len(toks):
            words = toks[i : i + size]
            if all(t.kind == "word" for t in words):
                name = " ".join(t.lower.removesuffix("'s") for t in words)
                if name in people and not words[-1].lower.endswith(("'s", "’s")):
                    return size
    if i < len(toks) and is_pronoun_person(toks[i].lower) and toks[i].lower in ("he", "she"):
        return 1
    return 0


_GOVERNORS = words(
    "let lets allowed allow allows made make makes for to with by asked told helped forced "
    "enabled required paged pinged gave left"
)
_FAILURE_VERBS = [
    "didn't",
    "did not",
    "should have",
    "shouldn't have",
    "should not have",
    "failed to",
    "forgot",
    "neglected",
    "missed",
    "mistakenly",
    "carelessly",
    "ignored",
    "skipped",
    "will be more",
    "must be more",
    "needs to be more",
    "has to be more",
    "without",
]


def _blame_in(text: str, people: frozenset[str], p: CheckPolicy, *, item: bool) -> str | None:
    toks = lang.tokens(text)
    if not toks:
        return None
    starts = set(lang.clause_starts(toks, _CONNECTORS))
    for i in range(len(toks)):
        size = _person_at(toks, i, people)
        if not size or _negated(toks, i, p.negation_cues):
            continue
        after = toks[i + size :]
        # A person as the subject of the sentence: "Dana pushed the change ...".
        if i in starts and after and _verbish(after[0]):
            return f"{lang.span(toks, i, i + size - 1)} {after[0].text}"
        # A person a few words before a failure verb: "During the freeze Alice forgot ...",
        # unless the sentence is about what let them: "the tool let Alice push without review".
        if i > 0 and toks[i - 1].lower in _GOVERNORS:
            continue
        window = after[:4]
        for m in lang.find_phrases(window, _FAILURE_VERBS, skip_names=False):
            if m.first <= 2:
                return (
                    f"{lang.span(toks, i, i + size - 1)} ... {lang.span(window, m.first, m.last)}"
                )
    for m in lang.find_phrases(toks, p.blame_phrases):
        if not _negated(toks, m.first, p.negation_cues):
            return lang.span(toks, m.first, m.last)
    if item:
        for m in lang.find_phrases(toks, p.behaviour_phrases, skip_names=False):
            if not _negated(toks, m.first, p.negation_cues):
                return lang.span(toks, m.first, m.last)
    return None


@rule("blame-wording")
def blame_wording(s: PostmortemSnapshot, p: CheckPolicy) -> Iterator[Finding]:
    people = persons(s, p)
    for condition in s.conditions:
        found = _blame_in(condition.description, people, p, item=False)
        if found:
            yield Finding(
                "blame-wording",
                "warning",
                f"conditions[{condition.index}].description",
                f"This condition blames a person ('{found}'): people's names and actions belong "
                "in the timeline; describe what made the mistake possible, not who made it",
            )
    for item in s.items:
        for name in ("title", "description"):
            found = _blame_in(getattr(item, name), people, p, item=True)
            if found:
                yield Finding(
                    "blame-wording",
                    "warning",
                    item_path(item, name),
                    f"'{item.title}' relies on or blames a person ('{found}'): change the system "
                    "so the mistake cannot happen or is caught, not the person",
                )


# condition-agentless

_CAUSES = words(
    "because since so due allowed allow allows allowing let lets letting without no nothing "
    "lacked lacks lacking missing only when whenever while until unless which that meant "
    "means caused causing cause after before as if once though although but instead rather "
    "than leaving left made making enabled enables permitted permits by through despite "
    "hence thus therefore nobody none never"
) - {"never"}
_AUX_PAST = frozenset(["was", "were", "got", "had", "been"])
_NEG_PAST = ["didn't", "did not", "never", "failed to", "wasn't", "weren't", "was not", "were not"]
_PARTICIPLES = words(
    "sent made done run set put lost left forgotten overlooked broken taken given shown "
    "written known seen built shipped missed skipped applied pushed deployed dropped "
    "ignored"
)


def _participle(t: Token) -> bool:
    return t.kind == "word" and (t.lower in _PARTICIPLES or t.lower.endswith(("ed", "en")))


def _agentless(text: str) -> str | None:
    toks = lang.tokens(text)
    # A participle right after "was"/"got" ("a mistake was made") is the event, not a cause.
    after_aux = {i + 1 for i, t in enumerate(toks) if t.lower in _AUX_PAST}
    words = [t for i, t in enumerate(toks) if t.kind == "word" and i not in after_aux]
    if not words or any(t.lower in _CAUSES for t in words):
        return None
    for i, t in enumerate(toks):
        if t.lower in _AUX_PAST:
            j = i + 1
            if j < len(toks) and toks[j].lower.endswith("ly"):
                j += 1
            if j < len(toks) and _participle(toks[j]) and len(toks) - j - 1 <= 3:
                return lang.span(toks, i, j)
    for m in lang.find_phrases(toks, _NEG_PAST, skip_names=False):
        rest = toks[m.last + 1 :]
        if rest and len(rest) <= 4:
            if m.phrase in ("wasn't", "weren't", "was not", "were not") and not _participle(
                rest[0]
            ):
                continue
            return lang.span(toks, m.first, m.last + 1)
    return None


def _placeholder_condition(text: str, p: CheckPolicy) -> bool:
    toks = lang.tokens(text)
    words = {w.lower() for w in p.placeholder_condition_words}
    content = [t for t in toks if t.kind in ("word", "ident")]
    if not content or any(t.kind in ("number", "quote", "url") for t in toks):
        return False
    return all(t.lower in words or (lang.forms(t.lower) & words) for t in content)


@rule("condition-agentless")
def condition_agentless(s: PostmortemSnapshot, p: CheckPolicy) -> Iterator[Finding]:
    people = persons(s, p)
    for condition in s.conditions:
        text = condition.description
        toks = lang.tokens(text)
        if any(_person_at(toks, i, people) for i in range(len(toks))):
            continue  # it names who acted: the blame check speaks to that
        path = f"conditions[{condition.index}].description"
        if lang.is_placeholder(text, p.placeholders) or _placeholder_condition(text, p):
            yield Finding(
                "condition-agentless",
                "warning",
                path,
                f"'{text}' is a placeholder, not a condition: what let it happen? Name the "
                "missing check, the default, the signal nobody had, or the pressure that made "
                "it possible",
            )
            continue
        found = _agentless(text)
        if found:
            yield Finding(
                "condition-agentless",
                "warning",
                path,
                f"'{text}' says what happened ('{found}') but not what let it happen: name the "
                "tool, default, missing guard or signal that allowed it",
            )


def owner_is_placeholder(item: ItemSnapshot, p: CheckPolicy) -> bool:
    from app.checks.people import is_placeholder_person

    return is_placeholder_person((item.owner, item.owner_name), p.placeholder_people)
