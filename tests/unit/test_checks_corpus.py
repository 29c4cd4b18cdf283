"""The labelled corpus of postmortem fragments: every case reads as labelled, and the checks
keep their precision and recall over the whole corpus (see `python -m bench.checks`)."""

from __future__ import annotations

import pytest

from bench.checks import Case, evaluate, load, score

CASES = load()


def test_the_corpus_is_large_enough_and_has_good_and_bad_cases() -> None:
    assert len(CASES) >= 200
    assert sum(c.good for c in CASES) >= 60
    assert sum(not c.good for c in CASES) >= 100
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", [c for c in CASES if not c.known_miss], ids=lambda c: c.id)
def test_case_reads_as_labelled(case: Case) -> None:
    outcome = evaluate(case)
    assert outcome.missed == [], f"{case.note}: missed {[str(e) for e in outcome.missed]}"
    assert outcome.unexpected == [], f"{case.note}: unexpected " + "; ".join(
        f"{f.rule}@{f.path}: {f.message}" for f in outcome.unexpected
    )


def test_no_good_case_gets_an_error() -> None:
    for case in CASES:
        if case.good:
            errors = [f for f in evaluate(case).findings if f.severity == "error"]
            assert errors == [], case.id


def test_overall_precision_and_recall_meet_the_target() -> None:
    _, total = score([evaluate(c) for c in CASES])
    assert total.precision >= 0.95
    assert total.recall >= 0.90


@pytest.mark.parametrize("case", [c for c in CASES if c.known_miss], ids=lambda c: c.id)
def test_known_misses_are_still_misses(case: Case) -> None:
    # A known miss that starts reading as labelled should lose its marker.
    assert not evaluate(case).passed, f"{case.id} now passes: remove known_miss"
