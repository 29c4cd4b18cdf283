"""Pure Jira mapping: markers, ADF documents, states, refs, Retry-After. No network."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors.base import TicketChanges, TicketSpec, TicketState
from connectors.jira import mapping
from tests.fake_trackers.jira_rules import adf_problems, adf_text

NOW = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
SITE = "https://acme.atlassian.net"


def spec(**overrides: object) -> TicketSpec:
    values: dict[str, object] = {
        "title": "Add a replica lag alert",
        "description": "Lag hit 40 minutes.",
        "definition_of_done": ["Alert fires"],
        "verification": "Pause replication in staging.",
        "postmortem_url": "https://followthrough.example.com/postmortems/42",
        "marker": "5f0c3c1e-8f0b-4d7e-9a51-3f0d2b1c9e77",
    }
    values.update(overrides)
    return TicketSpec(**values)  # type: ignore[arg-type]


# -- marker --------------------------------------------------------------------------------------


def test_marker_label_of_a_uuid_is_its_hex() -> None:
    marker = "5f0c3c1e-8f0b-4d7e-9a51-3f0d2b1c9e77"
    assert mapping.marker_label(marker) == "followthrough-5f0c3c1e8f0b4d7e9a513f0d2b1c9e77"
    assert mapping.is_marker_label(mapping.marker_label(marker))


def test_marker_label_of_any_other_marker_is_a_stable_hash_without_spaces() -> None:
    label = mapping.marker_label("action item 7 / attempt 2")
    assert label == mapping.marker_label("action item 7 / attempt 2")
    assert label != mapping.marker_label("action item 7 / attempt 3")
    assert mapping.is_marker_label(label) and " " not in label


def test_create_body_carries_marker_label_and_property() -> None:
    body = mapping.create_body("OPS", None, spec(labels=["sev 2"]))
    assert body["fields"]["labels"] == ["sev-2", mapping.marker_label(spec().marker)]
    assert body["fields"]["project"] == {"key": "OPS"}
    assert body["fields"]["issuetype"] == {"name": "Task"}
    assert body["properties"] == [{"key": "followthrough", "value": {"marker": spec().marker}}]
    assert "assignee" not in body["fields"] and "duedate" not in body["fields"]


def test_create_body_takes_numeric_project_and_issue_type_as_ids() -> None:
    fields = mapping.create_body("10000", "10002", spec())["fields"]
    assert fields["project"] == {"id": "10000"}
    assert fields["issuetype"] == {"id": "10002"}


def test_create_body_sends_priority_only_when_mapped() -> None:
    assert "priority" not in mapping.create_body("OPS", None, spec(priority="p1"))["fields"]
    fields = mapping.create_body("OPS", None, spec(priority="p1"), {"p1": "Highest"})["fields"]
    assert fields["priority"] == {"name": "Highest"}


# -- ADF -----------------------------------------------------------------------------------------


def test_description_skips_empty_sections() -> None:
    document = mapping.description_document(
        spec(description="", definition_of_done=[" "], verification="")
    )
    assert [node["type"] for node in document["content"]] == ["paragraph"]
    assert adf_problems(document, "description") == []


def test_urls_become_links_without_trailing_punctuation() -> None:
    document = mapping.text_document("See https://example.com/a?b=1, then (https://example.com/c).")
    nodes = document["content"][0]["content"]
    links = [n["marks"][0]["attrs"]["href"] for n in nodes if n.get("marks")]
    assert links == ["https://example.com/a?b=1", "https://example.com/c"]
    assert adf_text(document) == "See https://example.com/a?b=1, then (https://example.com/c)."


@given(
    text=st.text(),
    items=st.lists(st.text(), max_size=4),
    verification=st.text(max_size=50),
)
def test_generated_documents_are_always_valid_adf(
    text: str, items: list[str], verification: str
) -> None:
    document = mapping.description_document(
        spec(description=text, definition_of_done=items, verification=verification)
    )
    assert adf_problems(document, "description") == []
    assert adf_problems(mapping.text_document(text), "comment") == []


def test_summary_is_one_line_of_at_most_255_characters() -> None:
    assert mapping.summary("a\nb\t c") == "a b c"
    long = mapping.summary("x" * 300)
    assert len(long) == 255 and long.endswith("…")


# -- edits ---------------------------------------------------------------------------------------


def test_edit_fields_keep_marker_labels_already_on_the_issue() -> None:
    marker = mapping.marker_label("m")
    fields = mapping.edit_fields(TicketChanges(labels=["a"]), ["old", marker])
    assert fields == {"labels": ["a", marker]}


def test_edit_fields_clear_assignee_wins_over_assignee() -> None:
    fields = mapping.edit_fields(TicketChanges(assignee="x", clear_assignee=True), [])
    assert fields == {"assignee": None}


def test_edit_fields_title_overrides_the_spec_title() -> None:
    fields = mapping.edit_fields(
        TicketChanges(title="New", spec=spec(), due_date=date(2026, 1, 2)), []
    )
    assert fields["summary"] == "New"
    assert fields["duedate"] == "2026-01-02"
    assert fields["description"]["type"] == "doc"


def test_has_changes() -> None:
    assert not mapping.has_changes(TicketChanges())
    assert mapping.has_changes(TicketChanges(labels=[]))
    assert mapping.has_changes(TicketChanges(clear_assignee=True))


# -- state ---------------------------------------------------------------------------------------

WONT_DO = mapping.normalised_names(mapping.DEFAULT_WONT_DO_RESOLUTIONS)


@pytest.mark.parametrize(
    ("category", "resolution", "state"),
    [
        ("new", None, TicketState.OPEN),
        ("undefined", None, TicketState.OPEN),
        ("indeterminate", None, TicketState.IN_PROGRESS),
        ("indeterminate", "Won't Do", TicketState.IN_PROGRESS),
        ("done", None, TicketState.DONE),
        ("done", "Done", TicketState.DONE),
        ("done", "won't fix", TicketState.WONT_DO),
        ("done", "Won\u2019t  Do", TicketState.WONT_DO),
        ("done", "Declined", TicketState.WONT_DO),
    ],
)
def test_ticket_state(category: str, resolution: str | None, state: TicketState) -> None:
    assert mapping.ticket_state(category, resolution, WONT_DO) is state


def test_parse_timestamp_reads_jira_and_iso_formats() -> None:
    expected = datetime(2026, 3, 1, 10, 15, 30, 123000, tzinfo=UTC)
    assert mapping.parse_timestamp("2026-03-01T10:15:30.123+0000") == expected
    assert mapping.parse_timestamp("2026-03-01T11:15:30.123+0100") == expected
    assert mapping.parse_timestamp("2026-03-01T10:15:30.123Z") == expected


def test_snapshot_of_an_answer_without_status_is_unexpected() -> None:
    with pytest.raises(mapping.UnexpectedAnswerError):
        mapping.snapshot({"id": "1", "key": "OPS-1", "fields": {"updated": "x"}}, SITE, WONT_DO)


# -- refs ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "given_ref",
    [
        "OPS-42",
        " ops-42 ",
        f"{SITE}/browse/OPS-42",
        f"{SITE}/browse/OPS-42/",
        f"{SITE.upper()}/browse/OPS-42#comment",
        f"{SITE}/jira/software/c/projects/OPS/issues/OPS-42",
        f"{SITE}/jira/software/projects/OPS/boards/3?selectedIssue=OPS-42",
    ],
)
def test_parse_ref_finds_the_key(given_ref: str) -> None:
    assert mapping.parse_ref(given_ref, SITE) == "OPS-42"


@pytest.mark.parametrize(
    "given_ref",
    [
        "OPS",
        "OPS-0",
        "42",
        "https://evil.example.com/browse/OPS-42",
        f"{SITE}/browse/",
        "ftp://x/OPS-1",
    ],
)
def test_parse_ref_refuses_what_is_not_an_issue_on_this_site(given_ref: str) -> None:
    with pytest.raises(ValueError):
        mapping.parse_ref(given_ref, SITE)


# -- errors --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "retryable"),
    [
        (400, False),
        (401, False),
        (403, False),
        (404, False),
        (408, True),
        (429, True),
        (500, True),
        (503, True),
    ],
)
def test_is_retryable_status(status: int, retryable: bool) -> None:
    assert mapping.is_retryable_status(status) is retryable


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"Retry-After": "7"}, 7.0),
        ({"retry-after": "0"}, 0.0),
        ({"Retry-After": "Sun, 01 Mar 2026 10:00:30 GMT"}, 30.0),
        ({"Retry-After": "Sun, 01 Mar 2026 09:00:00 GMT"}, 0.0),
        ({"X-RateLimit-Reset": "2026-03-01T10:02Z"}, 120.0),
        ({"Retry-After": "soon"}, None),
        ({}, None),
    ],
)
def test_retry_after_seconds(headers: dict[str, str], seconds: float | None) -> None:
    assert mapping.retry_after_seconds(headers, NOW) == seconds


def test_retry_after_prefers_retry_after_over_reset() -> None:
    headers = {"Retry-After": "5", "X-RateLimit-Reset": (NOW + timedelta(hours=1)).isoformat()}
    assert mapping.retry_after_seconds(headers, NOW) == 5.0
