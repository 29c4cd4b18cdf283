"""The postmortem check rules as pure functions: a snapshot and a policy in, findings out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app.checks.rules import (
    RULES,
    ConditionSnapshot,
    Finding,
    ItemSnapshot,
    PostmortemSnapshot,
    run_rules,
)
from app.settings import DEFAULT_VAGUE_PHRASES, DEFAULT_VAGUE_VERBS, CheckPolicy, Settings

RESOLVED = datetime(2026, 11, 2, 9, 40, tzinfo=UTC)
REVIEW = RESOLVED + timedelta(hours=24)
NOW = RESOLVED + timedelta(days=5)
DEFAULT = CheckPolicy()


def item(index: int = 0, **overrides: Any) -> ItemSnapshot:
    """A committed action item that passes every rule."""
    values: dict[str, Any] = {
        "index": index,
        "title": "Gate deploys on the canary's 5xx rate",
        "description": "",
        "definition_of_done": ["Deploys halt when canary 5xx rate exceeds 1% for 5 minutes"],
        "verification": "Game day: push a failing build to staging and watch the gate stop it",
        "owner_kind": "person",
        "owner": "alice",
        "due_date": REVIEW.date() + timedelta(days=7),
        "chain_level": "L4",
        "committed": True,
    }
    values.update(overrides)
    return ItemSnapshot(**values)


def conditions(*descriptions: str) -> list[ConditionSnapshot]:
    return [ConditionSnapshot(index=i, description=d) for i, d in enumerate(descriptions)]


def snapshot(**overrides: Any) -> PostmortemSnapshot:
    """A SEV2 postmortem reviewed a day after resolution that passes every rule."""
    values: dict[str, Any] = {
        "severity": "SEV2",
        "resolved_at": RESOLVED,
        "review_held_at": REVIEW,
        "chain_walk": {},
        "items": [item()],
        "conditions": conditions(
            "Pool size had no lower bound", "Config pushes skip the canary stage"
        ),
        "timeline_recorded_at": [RESOLVED - timedelta(minutes=30), RESOLVED],
        "decision_point_count": 1,
        "person_names": frozenset({"alice", "alice example", "example", "bob"}),
        "now": NOW,
    }
    values.update(overrides)
    return PostmortemSnapshot(**values)


def found(snap: PostmortemSnapshot, rule_id: str, policy: CheckPolicy = DEFAULT) -> list[Finding]:
    return [f for f in run_rules(snap, policy) if f.rule == rule_id]


def severities_at(snap: PostmortemSnapshot, rule_id: str) -> list[tuple[str, str]]:
    return [(f.severity, f.path) for f in found(snap, rule_id)]


def test_a_sound_postmortem_has_no_findings() -> None:
    assert run_rules(snapshot(), DEFAULT) == []


# owner-is-person


def test_item_without_owner_is_an_error_on_its_owner() -> None:
    snap = snapshot(items=[item(0), item(1, owner_kind=None, owner=None)])
    assert severities_at(snap, "owner-is-person") == [("error", "action_items[1].owner")]


def test_item_owned_by_a_team_is_an_error_naming_the_team() -> None:
    snap = snapshot(items=[item(0, owner_kind="team", owner="payments")])
    [finding] = found(snap, "owner-is-person")
    assert (finding.severity, finding.path) == ("error", "action_items[0].owner")
    assert "payments" in finding.message
    assert "person" in finding.message


def test_things_to_remain_aware_of_need_no_owner() -> None:
    snap = snapshot(items=[item(0), item(1, owner_kind=None, owner=None, committed=False)])
    assert found(snap, "owner-is-person") == []


# due-date-present and due-date-window


def test_item_without_due_date_is_an_error() -> None:
    snap = snapshot(items=[item(0, due_date=None)])
    assert severities_at(snap, "due-date-present") == [("error", "action_items[0].due_date")]
    assert found(snap, "due-date-window") == []


def test_due_date_exactly_at_the_window_after_the_review_is_fine() -> None:
    snap = snapshot(items=[item(0, due_date=REVIEW.date() + timedelta(days=14))])
    assert found(snap, "due-date-window") == []


def test_due_date_one_day_past_the_window_after_the_review_is_a_warning() -> None:
    snap = snapshot(items=[item(0, due_date=REVIEW.date() + timedelta(days=15))])
    [finding] = found(snap, "due-date-window")
    assert (finding.severity, finding.path) == ("warning", "action_items[0].due_date")
    assert "15 days after the review" in finding.message


def test_due_window_counts_from_now_when_no_review_is_recorded() -> None:
    # Far after the review date but within 14 days of `now`: the basis must be `now`.
    at_limit = NOW.date() + timedelta(days=14)
    snap = snapshot(review_held_at=None, items=[item(0, due_date=at_limit)])
    assert found(snap, "due-date-window") == []
    late = snapshot(review_held_at=None, items=[item(0, due_date=at_limit + timedelta(days=1))])
    [finding] = found(late, "due-date-window")
    assert finding.severity == "warning"
    assert "no review recorded" in finding.message


def test_due_window_follows_the_policy() -> None:
    snap = snapshot(items=[item(0, due_date=REVIEW.date() + timedelta(days=10))])
    assert found(snap, "due-date-window") == []
    assert len(found(snap, "due-date-window", CheckPolicy(due_window_days=9))) == 1
    longer = snapshot(items=[item(0, due_date=REVIEW.date() + timedelta(days=30))])
    assert found(longer, "due-date-window", CheckPolicy(due_window_days=30)) == []


# definition-of-done-present and verification-present


@pytest.mark.parametrize("criteria", [[], ["", "   "]], ids=["empty", "blank"])
def test_missing_definition_of_done_is_an_error(criteria: list[str]) -> None:
    snap = snapshot(items=[item(0, definition_of_done=criteria)])
    assert severities_at(snap, "definition-of-done-present") == [
        ("error", "action_items[0].definition_of_done")
    ]


@pytest.mark.parametrize("verification", ["", "  \n "], ids=["empty", "blank"])
def test_missing_verification_is_an_error(verification: str) -> None:
    snap = snapshot(items=[item(0, verification=verification)])
    assert severities_at(snap, "verification-present") == [
        ("error", "action_items[0].verification")
    ]


# vague-wording


@pytest.mark.parametrize(
    "title",
    [
        "Investigate the pool size drop",
        "Investigating the pool size drop",
        "Consider a lower bound for the pool",
        "Explore canary options",
        "Exploring canary options",
        "Look into the config push",
        "Looking into the config push",
        "Improve monitoring",
        "Improving alerts on the pool",
        "Add more monitoring",
        "Everyone should be more careful with pushes",
        "Better alerting for checkout",
        "Revisit the pool defaults",
        "Tune alerts as needed",
        "Cache tokens where possible",
        "Cache tokens if possible",
        "Try to shorten the deploy",
        "Trying to shorten the deploy",
    ],
)
def test_vague_title_is_a_warning(title: str) -> None:
    # Read from wording, so a warning: only facts block publishing.
    snap = snapshot(items=[item(0, title=title)])
    assert severities_at(snap, "vague-wording") == [("warning", "action_items[0].title")]


def test_every_default_vague_phrase_is_flagged_in_a_title() -> None:
    for phrase in DEFAULT_VAGUE_PHRASES:
        snap = snapshot(items=[item(0, title=f"{phrase.capitalize()} the checkout pool")])
        assert severities_at(snap, "vague-wording") == [("warning", "action_items[0].title")], (
            phrase
        )


def test_every_default_vague_verb_leading_a_title_is_flagged() -> None:
    for verb in DEFAULT_VAGUE_VERBS:
        snap = snapshot(items=[item(0, title=f"{verb.capitalize()} the checkout pool")])
        assert severities_at(snap, "vague-wording") == [("warning", "action_items[0].title")], verb


def test_vague_finding_names_the_phrase() -> None:
    [finding] = found(snapshot(items=[item(0, title="Investigate the pool")]), "vague-wording")
    assert "'Investigate'" in finding.message


def test_vague_definition_of_done_criterion_is_a_warning_on_that_criterion() -> None:
    criteria = ["Pool size has a lower bound of 20", "Improve the dashboard"]
    snap = snapshot(items=[item(0, definition_of_done=criteria)])
    assert severities_at(snap, "vague-wording") == [
        ("warning", "action_items[0].definition_of_done[1]")
    ]


@pytest.mark.parametrize(
    "title",
    [
        "Gate deploys on the canary's 5xx rate",
        "Set a lower bound of 20 on the checkout pool size",
        "Page the on-call when checkout 5xx exceeds 2% for 3 minutes",
    ],
)
def test_concrete_title_passes(title: str) -> None:
    assert found(snapshot(items=[item(0, title=title)]), "vague-wording") == []


def test_vague_things_to_remain_aware_of_are_not_flagged() -> None:
    snap = snapshot(items=[item(0), item(1, title="Improve monitoring", committed=False)])
    assert found(snap, "vague-wording") == []


def test_custom_vague_phrases_replace_the_defaults() -> None:
    policy = CheckPolicy(vague_verbs=["untersuchen"], vague_phrases=["tbd", "somehow"])
    flagged = snapshot(items=[item(0, title="Make the pool resilient somehow")])
    assert [f.path for f in found(flagged, "vague-wording", policy)] == ["action_items[0].title"]
    default_phrase = snapshot(items=[item(0, title="Investigate the pool")])
    assert found(default_phrase, "vague-wording", policy) == []
    custom_verb = snapshot(items=[item(0, title="Untersuchen the pool")])
    assert [f.path for f in found(custom_verb, "vague-wording", policy)] == [
        "action_items[0].title"
    ]


# max-committed-items


def test_three_committed_items_are_allowed() -> None:
    snap = snapshot(items=[item(i) for i in range(3)])
    assert found(snap, "max-committed-items") == []


def test_four_committed_items_are_an_error() -> None:
    snap = snapshot(items=[item(i) for i in range(4)])
    [finding] = found(snap, "max-committed-items")
    assert (finding.severity, finding.path) == ("error", "action_items")
    assert "4 committed" in finding.message


def test_things_to_remain_aware_of_do_not_count_towards_the_maximum() -> None:
    items = [item(i) for i in range(3)] + [item(i, committed=False) for i in range(3, 6)]
    assert found(snapshot(items=items), "max-committed-items") == []


def test_maximum_follows_the_policy() -> None:
    two = snapshot(items=[item(0), item(1)])
    assert len(found(two, "max-committed-items", CheckPolicy(max_committed_items=1))) == 1
    five = snapshot(items=[item(i) for i in range(5)])
    assert found(five, "max-committed-items", CheckPolicy(max_committed_items=5)) == []


# l5-only-fix


def walk(**answers: str) -> dict[str, dict[str, str]]:
    return {level: {"contributed": value, "note": ""} for level, value in answers.items()}


def test_only_l5_fixes_when_the_walk_names_a_higher_level_is_a_warning() -> None:
    snap = snapshot(
        chain_walk=walk(L2="yes", L5="yes"),
        items=[item(0, chain_level="L5"), item(1, chain_level="L5")],
    )
    [finding] = found(snap, "l5-only-fix")
    assert (finding.severity, finding.path) == ("warning", "action_items")
    assert "L2" in finding.message


def test_one_fix_above_l5_clears_the_l5_only_warning() -> None:
    snap = snapshot(
        chain_walk=walk(L2="yes", L5="yes"),
        items=[item(0, chain_level="L5"), item(1, chain_level="L3")],
    )
    assert found(snap, "l5-only-fix") == []


def test_l5_fixes_are_fine_when_the_walk_names_only_l5() -> None:
    snap = snapshot(
        chain_walk=walk(L1="no", L2="unknown", L5="yes"),
        items=[item(0, chain_level="L5")],
    )
    assert found(snap, "l5-only-fix") == []


def test_uncommitted_higher_level_items_do_not_clear_the_l5_only_warning() -> None:
    snap = snapshot(
        chain_walk=walk(L3="yes"),
        items=[item(0, chain_level="L5"), item(1, chain_level="L3", committed=False)],
    )
    assert len(found(snap, "l5-only-fix")) == 1


# blame-wording


@pytest.mark.parametrize(
    "text",
    [
        "Human error during the config push",
        "Operator error in the runbook step",
        "The on-call should be more careful",
        "Nobody paid attention: we must pay more attention to pushes",
        "The engineer forgot to run the canary",
    ],
)
def test_generic_blame_phrases_in_a_condition_are_warnings(text: str) -> None:
    snap = snapshot(conditions=conditions("Pool size had no lower bound", text))
    assert severities_at(snap, "blame-wording") == [("warning", "conditions[1].description")]


@pytest.mark.parametrize(
    "text",
    [
        "Alice forgot the canary step",
        "alice should have checked the diff",
        "During the freeze Alice forgot the canary step",
        "The push went out because Bob did not wait for the canary",
    ],
)
def test_known_person_followed_by_a_blame_verb_is_a_warning(text: str) -> None:
    snap = snapshot(conditions=conditions(text, "Config pushes skip the canary stage"))
    [finding] = found(snap, "blame-wording")
    assert (finding.severity, finding.path) == ("warning", "conditions[0].description")


@pytest.mark.parametrize(
    "text",
    [
        "The runbook Alice followed had no rollback step",
        "The deploy tool let Alice push without a second approval",
        "Alice's laptop had a stale kubeconfig pointing at production",
    ],
)
def test_known_person_who_is_not_the_subject_is_not_blame(text: str) -> None:
    snap = snapshot(conditions=conditions(text, "Config pushes skip the canary stage"))
    assert found(snap, "blame-wording") == []


def test_known_person_as_the_subject_of_a_condition_is_blame() -> None:
    # What a person did belongs in the timeline; a condition says what made it possible.
    snap = snapshot(
        conditions=conditions(
            "Alice rolled back the config push after eleven minutes",
            "Config pushes skip the canary stage",
        )
    )
    assert severities_at(snap, "blame-wording") == [("warning", "conditions[0].description")]


def test_unknown_names_in_a_neutral_sentence_are_not_flagged_as_blame() -> None:
    snap = snapshot(
        conditions=conditions("Mallory rebased the branch", "Config pushes skip the canary")
    )
    assert found(snap, "blame-wording") == []


def test_forgetting_is_blame_whoever_forgot() -> None:
    # Only people forget; an unregistered name does not make "forgot" blameless.
    snap = snapshot(
        conditions=conditions("Mallory forgot the canary step", "Config pushes skip the canary")
    )
    assert severities_at(snap, "blame-wording") == [("warning", "conditions[0].description")]


def test_blame_in_an_action_item_is_a_warning_on_that_field() -> None:
    snap = snapshot(
        items=[
            item(0),
            item(1, description="Alice will be more vigilant during config pushes"),
        ]
    )
    assert severities_at(snap, "blame-wording") == [("warning", "action_items[1].description")]


# review-lag


def test_review_within_the_window_has_no_lag_finding() -> None:
    snap = snapshot(review_held_at=RESOLVED + timedelta(hours=72))
    assert found(snap, "review-lag") == []


def test_review_held_73_hours_after_resolution_is_a_warning() -> None:
    snap = snapshot(review_held_at=RESOLVED + timedelta(hours=73))
    [finding] = found(snap, "review-lag")
    assert (finding.severity, finding.path) == ("warning", "review_held_at")
    assert "73 h" in finding.message


def test_no_review_long_after_resolution_is_a_warning() -> None:
    waiting = snapshot(review_held_at=None, now=RESOLVED + timedelta(hours=80))
    assert severities_at(waiting, "review-lag") == [("warning", "review_held_at")]
    recent = snapshot(review_held_at=None, now=RESOLVED + timedelta(hours=10))
    assert found(recent, "review-lag") == []


def test_lag_cannot_be_measured_without_a_resolution_time() -> None:
    snap = snapshot(resolved_at=None, review_held_at=None)
    assert severities_at(snap, "review-lag") == [("info", "resolved_at")]


def test_review_window_follows_the_policy() -> None:
    snap = snapshot(review_held_at=RESOLVED + timedelta(hours=30))
    assert found(snap, "review-lag") == []
    assert len(found(snap, "review-lag", CheckPolicy(review_window_hours=24))) == 1
    late = snapshot(review_held_at=RESOLVED + timedelta(hours=100))
    assert found(late, "review-lag", CheckPolicy(review_window_hours=120)) == []


# timeline-reconstructed


def test_empty_timeline_is_a_warning() -> None:
    snap = snapshot(timeline_recorded_at=[])
    assert severities_at(snap, "timeline-reconstructed") == [("warning", "timeline")]


def test_timeline_mostly_written_after_resolution_is_reconstructed() -> None:
    after = RESOLVED + timedelta(days=2)
    snap = snapshot(timeline_recorded_at=[RESOLVED - timedelta(minutes=20), after, after])
    [finding] = found(snap, "timeline-reconstructed")
    assert finding.severity == "warning"
    assert "2 of 3" in finding.message


def test_timeline_written_during_the_incident_is_not_reconstructed() -> None:
    during = [RESOLVED - timedelta(minutes=m) for m in (35, 20, 5)]
    assert found(snapshot(timeline_recorded_at=during), "timeline-reconstructed") == []


def test_entries_within_the_grace_period_count_as_written_during() -> None:
    grace_edge = RESOLVED + timedelta(minutes=60)
    snap = snapshot(timeline_recorded_at=[grace_edge, grace_edge])
    assert found(snap, "timeline-reconstructed") == []
    just_after = snapshot(timeline_recorded_at=[grace_edge + timedelta(minutes=1)] * 2)
    assert len(found(just_after, "timeline-reconstructed")) == 1


def test_a_few_late_entries_do_not_make_a_timeline_reconstructed() -> None:
    late = RESOLVED + timedelta(days=1)
    entries = [RESOLVED - timedelta(minutes=m) for m in (30, 20, 10)] + [late]
    assert found(snapshot(timeline_recorded_at=entries), "timeline-reconstructed") == []


# single-condition


@pytest.mark.parametrize("count", [0, 1])
def test_fewer_than_two_conditions_is_a_warning(count: int) -> None:
    snap = snapshot(conditions=conditions(*["Pool size had no lower bound"][:count]))
    assert severities_at(snap, "single-condition") == [("warning", "conditions")]


def test_two_conditions_are_fine() -> None:
    assert found(snapshot(), "single-condition") == []


# responder-timeline


@pytest.mark.parametrize("severity", ["SEV1", "SEV2"])
def test_high_severity_without_decision_points_needs_a_responder_timeline(severity: str) -> None:
    snap = snapshot(severity=severity, decision_point_count=0)
    [finding] = found(snap, "responder-timeline")
    assert (finding.severity, finding.path) == ("warning", "decision_points")
    assert severity in finding.message


def test_sev3_without_decision_points_needs_no_responder_timeline() -> None:
    assert found(snapshot(severity="SEV3", decision_point_count=0), "responder-timeline") == []


def test_responder_timeline_severities_follow_the_policy() -> None:
    snap = snapshot(severity="SEV3", decision_point_count=0)
    policy = CheckPolicy(responder_timeline_severities=["SEV1", "SEV2", "SEV3"])
    assert len(found(snap, "responder-timeline", policy)) == 1


# chain-level-missing


def test_item_without_chain_level_is_info() -> None:
    snap = snapshot(items=[item(0), item(1, chain_level=None)])
    assert severities_at(snap, "chain-level-missing") == [("info", "action_items[1].chain_level")]


def test_item_without_chain_level_is_a_warning_when_the_walk_names_a_level() -> None:
    snap = snapshot(
        chain_walk=walk(L3="yes"), items=[item(0, chain_level="L3"), item(1, chain_level=None)]
    )
    assert severities_at(snap, "chain-level-missing") == [
        ("warning", "action_items[1].chain_level")
    ]


# chain-level-below


def test_fix_below_every_level_the_walk_names_is_a_warning() -> None:
    snap = snapshot(chain_walk=walk(L3="yes", L1="no"), items=[item(0, chain_level="L4")])
    [finding] = found(snap, "chain-level-below")
    assert (finding.severity, finding.path) == ("warning", "action_items[0].chain_level")
    assert "L4" in finding.message and "L3" in finding.message


def test_fix_at_or_above_a_named_level_is_fine() -> None:
    for level in ("L2", "L3"):
        snap = snapshot(chain_walk=walk(L3="yes"), items=[item(0, chain_level=level)])
        assert found(snap, "chain-level-below") == [], level


def test_only_l5_fixes_with_no_walk_is_a_warning() -> None:
    snap = snapshot(chain_walk={}, items=[item(0, chain_level="L5")])
    assert severities_at(snap, "l5-only-fix") == [("warning", "action_items")]


# policy: disabled rules, severity overrides, ordering


def test_disabled_rule_is_not_run() -> None:
    snap = snapshot(items=[item(0, due_date=None)], conditions=[])
    policy = CheckPolicy(disabled_rules=["due-date-present"])
    rules = {f.rule for f in run_rules(snap, policy)}
    assert "due-date-present" not in rules
    assert "single-condition" in rules


def test_severity_override_changes_only_that_rule() -> None:
    snap = snapshot(items=[item(0, due_date=None, chain_level=None)])
    policy = CheckPolicy(
        severity_overrides={"due-date-present": "warning", "chain-level-missing": "error"}
    )
    by_rule = {f.rule: f.severity for f in run_rules(snap, policy)}
    assert by_rule == {"due-date-present": "warning", "chain-level-missing": "error"}


def test_findings_are_sorted_errors_then_warnings_then_info() -> None:
    snap = snapshot(
        resolved_at=None,
        review_held_at=None,
        conditions=[],
        items=[item(0, chain_level=None), item(1, owner_kind=None, owner=None)],
    )
    severities = [f.severity for f in run_rules(snap, DEFAULT)]
    assert set(severities) == {"error", "warning", "info"}
    assert severities == sorted(severities, key=["error", "warning", "info"].index)


def test_owner_without_an_account_on_the_items_tracker_is_warned() -> None:
    missing = snapshot(items=[item(tracker="jira", owner_has_tracker_account=False)])
    assert severities_at(missing, "owner-tracker-account") == [("warning", "action_items[0].owner")]
    assert "no jira account" in found(missing, "owner-tracker-account")[0].message


def test_owner_account_is_not_checked_without_a_tracker_or_with_an_account() -> None:
    assert (
        found(
            snapshot(items=[item(tracker=None, owner_has_tracker_account=None)]),
            "owner-tracker-account",
        )
        == []
    )
    assert (
        found(
            snapshot(items=[item(tracker="github", owner_has_tracker_account=True)]),
            "owner-tracker-account",
        )
        == []
    )
    team_owned = item(owner_kind="team", tracker="github", owner_has_tracker_account=False)
    assert found(snapshot(items=[team_owned]), "owner-tracker-account") == []


def test_every_registered_rule_is_covered_by_these_tests() -> None:
    assert set(RULES) == {
        "owner-is-person",
        "due-date-present",
        "due-date-window",
        "definition-of-done-present",
        "verification-present",
        "vague-wording",
        "max-committed-items",
        "l5-only-fix",
        "blame-wording",
        "review-lag",
        "timeline-reconstructed",
        "single-condition",
        "responder-timeline",
        "chain-level-missing",
        "owner-tracker-account",
        "due-date-past",
        "committed-item-present",
        "chain-level-below",
        "decision-point-answers",
        "runbook-link",
        "condition-agentless",
        "definition-of-done-checkbox",
    }


# settings


def test_settings_read_nested_check_policy_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FOLLOWTHROUGH_CHECKS__MAX_COMMITTED_ITEMS", "5")
    monkeypatch.setenv("FOLLOWTHROUGH_CHECKS__DISABLED_RULES", '["review-lag"]')
    monkeypatch.setenv("FOLLOWTHROUGH_CHECKS__SEVERITY_OVERRIDES", '{"l5-only-fix": "error"}')
    checks = Settings().checks
    assert checks.max_committed_items == 5
    assert checks.disabled_rules == ["review-lag"]
    assert checks.severity_overrides == {"l5-only-fix": "error"}
    assert checks.due_window_days == CheckPolicy().due_window_days


def test_settings_without_environment_use_the_default_policy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("MAX_COMMITTED_ITEMS", "DISABLED_RULES", "SEVERITY_OVERRIDES"):
        monkeypatch.delenv(f"FOLLOWTHROUGH_CHECKS__{name}", raising=False)
    assert Settings().checks == CheckPolicy()


def test_policy_from_the_environment_changes_the_findings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FOLLOWTHROUGH_CHECKS__MAX_COMMITTED_ITEMS", "5")
    monkeypatch.setenv("FOLLOWTHROUGH_CHECKS__DISABLED_RULES", '["review-lag"]')
    snap = snapshot(items=[item(i) for i in range(5)], review_held_at=RESOLVED + timedelta(days=10))
    assert {f.rule for f in run_rules(snap, DEFAULT)} == {"max-committed-items", "review-lag"}
    assert run_rules(snap, Settings().checks) == []
