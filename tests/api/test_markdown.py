"""The Markdown export tells the whole postmortem to someone who was not there."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.factories import INCIDENT_START, action_item_body, iso, make_person, make_postmortem
from tests.problems import MISSING, PROBLEM

# A pipe that ends or separates cells: one not escaped with a backslash.
CELL_PIPE = re.compile(r"(?<!\\)\|")


def markdown(client: TestClient, pm: dict[str, Any]) -> str:
    response = client.get(f"/v1/postmortems/{pm['id']}/markdown")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/markdown")
    return response.text


def section(text: str, heading: str) -> str:
    """The body of one `## heading` section, up to the next second-level heading."""
    lines = text.splitlines()
    start = lines.index(f"## {heading}") + 1
    end = next((i for i in range(start, len(lines)) if lines[i].startswith("## ")), len(lines))
    return "\n".join(lines[start:end])


def table_rows(body: str) -> list[list[str]]:
    """The cells of each data row of the first table in `body` (header and rule skipped).

    Lines are split the way Markdown splits them: CR, LF and CRLF all end a line."""
    rows = [line for line in body.splitlines() if line.startswith("|")]
    return [[cell.strip() for cell in CELL_PIPE.split(line)[1:-1]] for line in rows[2:]]


def entry(
    minutes: int, text: str, kind: str = "observation", author: str = "Bob"
) -> dict[str, Any]:
    return {
        "at": iso(INCIDENT_START + timedelta(minutes=minutes)),
        "author": author,
        "kind": kind,
        "text": text,
    }


@pytest.fixture
def full_postmortem(client: TestClient) -> dict[str, Any]:
    make_person(client, "alice")
    client.post("/v1/teams", json={"slug": "payments", "name": "Payments"})
    return make_postmortem(
        client,
        title="Checkout returned 502s",
        incident_ref="INC-4242",
        incident_url="https://incidents.example.com/INC-4242",
        team="payments",
        services=["checkout", "api"],
        tags=["config-push", "pools"],
        summary="A config push shortened the upstream pool.",
        user_impact="12% of checkouts failed for 40 minutes.",
        review_held_at=iso(INCIDENT_START + timedelta(days=2, minutes=40)),
        timeline=[
            entry(30, "rolled back the config", "action", "Carol"),
            entry(4, "5xx > 5%", "alert", "alertmanager"),
            entry(12, "maybe the DB | or the pool?", "hypothesis", "Bob | on-call"),
        ],
        decision_points=[
            {
                "at": iso(INCIDENT_START + timedelta(minutes=15)),
                "responder": "Bob Oncall",
                "decision_kind": "rollback",
                "decision": "Roll back the 09:00 config push",
                "knew": "A config push had gone out",
                "unsure_of": "Whether it was the cause",
                "would_have_helped": "A diff of the pushed config",
            },
            {
                "at": iso(INCIDENT_START + timedelta(minutes=20)),
                "responder": "Dana",
                "decision_kind": "customer_communication",
            },
        ],
        conditions=[
            {
                "category": "technical",
                "description": "Pool size had no lower bound",
                "failure_modes": ["Config-Push", "pools"],
                "chain_level": "L4",
            },
            {"category": "process", "description": "Config pushes skip the canary stage"},
        ],
        chain_walk={
            "L3": {"contributed": "no", "note": "scope was right"},
            "L4": {"contributed": "yes", "note": "reviewed | without a canary"},
        },
        review={
            "surprises": "The pool had no floor",
            "conditions": "Config and code ship by different paths",
            "slowed_detection": "The alert waited 4 minutes",
            "slowed_diagnosis": "Two dashboards disagreed",
            "slowed_resolution": "The rollback needed a second approver",
            "possible_elsewhere": "yes",
            "elsewhere_note": "search uses the same pool library",
            "caught_earlier": {"detect": "a canary", "contain": "a pool floor", "resolve": ""},
        },
        links=[
            {
                "kind": "runbook",
                "url": "https://wiki.example.com/rb/checkout",
                "title": "Checkout runbook",
            }
        ],
        action_items=[
            action_item_body(
                definition_of_done=[
                    "Deploys halt when canary 5xx rate exceeds 1% for 5 minutes",
                    "The gate is on for config pushes too",
                ],
            ),
            action_item_body(
                title="Old clients still retry aggressively",
                description="They will age out by spring.",
                committed=False,
                owner=None,
            ),
        ],
    )


# --- access ---------------------------------------------------------------------------------


def test_markdown_needs_a_token_and_a_read_token_is_enough(
    client: TestClient,
    anon_client: TestClient,
    app: FastAPI,
    make_token: Callable[..., str],
) -> None:
    pm = make_postmortem(client, action_items=[], title="Readable by readers")
    url = f"/v1/postmortems/{pm['id']}/markdown"
    response = anon_client.get(url)
    assert response.status_code == 401
    assert response.headers["content-type"].startswith(PROBLEM)
    with TestClient(app, headers={"Authorization": f"Bearer {make_token('read')}"}) as reader:
        read = reader.get(url)
    assert read.status_code == 200
    assert read.text.startswith("# Readable by readers\n")


def test_markdown_of_an_unknown_postmortem_is_a_404_problem(client: TestClient) -> None:
    response = client.get(f"/v1/postmortems/{MISSING}/markdown")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith(PROBLEM)


# --- content --------------------------------------------------------------------------------


def test_markdown_opens_with_the_title_and_the_incident_facts(
    client: TestClient, full_postmortem: dict[str, Any]
) -> None:
    text = markdown(client, full_postmortem)
    assert text.startswith("# Checkout returned 502s\n")
    assert text.endswith("\n") and not text.endswith("\n\n")
    assert "**Incident:** INC-4242 (https://incidents.example.com/INC-4242)" in text
    assert "**Severity:** SEV2 · **Status:** draft · **Team:** payments" in text
    assert "**Services:** api, checkout" in text
    assert "**Tags:** config-push, pools" in text
    assert section(text, "Summary").strip() == "A config push shortened the upstream pool."
    assert section(text, "User impact").strip() == "12% of checkouts failed for 40 minutes."


def test_markdown_lists_the_key_times_and_the_review_lag(
    client: TestClient, full_postmortem: dict[str, Any]
) -> None:
    times = section(markdown(client, full_postmortem), "Key times")
    assert table_rows(times) == [
        ["Started", "2026-11-02 09:00 UTC"],
        ["Detected", "2026-11-02 09:04 UTC"],
        ["Mitigated", "2026-11-02 09:30 UTC"],
        ["Resolved", "2026-11-02 09:40 UTC"],
        ["Review held", "2026-11-04 09:40 UTC"],
    ]
    assert "The review was held 48 hours after resolution." in times


def test_markdown_timeline_has_a_row_per_entry_in_incident_order(
    client: TestClient, full_postmortem: dict[str, Any]
) -> None:
    timeline = section(markdown(client, full_postmortem), "Timeline")
    assert table_rows(timeline) == [
        ["2026-11-02 09:04 UTC", "alertmanager", "alert", "5xx > 5%", "after"],
        [
            "2026-11-02 09:12 UTC",
            "Bob \\| on-call",
            "hypothesis",
            "maybe the DB \\| or the pool?",
            "after",
        ],
        ["2026-11-02 09:30 UTC", "Carol", "action", "rolled back the config", "after"],
    ]


def test_markdown_marks_edited_entries_with_their_version(
    client: TestClient, full_postmortem: dict[str, Any]
) -> None:
    pm_id = full_postmortem["id"]
    first = client.get(f"/v1/postmortems/{pm_id}/timeline").json()["items"][0]
    client.patch(f"/v1/postmortems/{pm_id}/timeline/{first['id']}", json={"text": "5xx > 8%"})
    rows = table_rows(section(markdown(client, full_postmortem), "Timeline"))
    assert rows[0][3] == "5xx > 8% (edited, v2)"
    assert rows[1][3] == "maybe the DB \\| or the pool?"


def test_markdown_says_whether_an_entry_was_written_during_the_incident(
    client: TestClient,
) -> None:
    ongoing = make_postmortem(client, action_items=[], resolved_at=None)
    rows = table_rows(section(markdown(client, ongoing), "Timeline"))
    assert [row[4] for row in rows] == ["-"]


@pytest.mark.parametrize(
    "text",
    [
        "line one\nline two",
        "line one\r\nline two",
        "line one\rline two",
        "one\r\ntwo\rthree\nfour",
        "a | b || c",
        "trailing pipe |",
    ],
)
def test_a_timeline_text_cannot_break_its_table_row(client: TestClient, text: str) -> None:
    pm = make_postmortem(
        client, action_items=[], timeline=[entry(4, text, "observation", "Eve | SRE")]
    )
    rows = table_rows(section(markdown(client, pm), "Timeline"))
    assert len(rows) == 1
    at, author, kind, what, written = rows[0]
    assert (at, author, kind, written) == (
        "2026-11-02 09:04 UTC",
        "Eve \\| SRE",
        "observation",
        "after",
    )
    # The words all survive, in one cell, with pipes escaped; a line break of any kind
    # (CRLF included) becomes one space.
    assert what.replace("\\|", "|").split() == text.split()
    assert "  " not in what


def test_markdown_tells_each_responder_decision_point(
    client: TestClient, full_postmortem: dict[str, Any]
) -> None:
    responders = section(markdown(client, full_postmortem), "Responder timeline")
    assert (
        "### 2026-11-02 09:15 UTC — rollback by Bob Oncall (11 min after the first alert)\n\n"
        "Roll back the 09:00 config push\n\n"
        "- **Knew:** A config push had gone out\n"
        "- **Unsure of:** Whether it was the cause\n"
        "- **Would have helped:** A diff of the pushed config"
    ) in responders
    assert (
        "### 2026-11-02 09:20 UTC — customer communication by Dana (16 min after the first alert)"
    ) in responders
    assert responders.count("- **Knew:** _(not answered)_") == 1
    assert responders.index("Bob Oncall") < responders.index("Dana")


def test_markdown_lists_every_contributing_condition_with_its_tags(
    client: TestClient, full_postmortem: dict[str, Any]
) -> None:
    conditions = section(markdown(client, full_postmortem), "Contributing conditions")
    assert [line for line in conditions.splitlines() if line] == [
        "- **technical, L4:** Pool size had no lower bound — tags: config-push, pools",
        "- **process:** Config pushes skip the canary stage",
    ]


def test_markdown_walks_every_chain_level_in_a_table(
    client: TestClient, full_postmortem: dict[str, Any]
) -> None:
    walk = section(markdown(client, full_postmortem), "Chain-level walk")
    assert table_rows(walk) == [
        ["L1 strategy", "unknown", ""],
        ["L2 discovery", "unknown", ""],
        ["L3 scope", "no", "scope was right"],
        ["L4 execution", "yes", "reviewed \\| without a canary"],
        ["L5 operation", "unknown", ""],
    ]


def test_markdown_gives_the_review_answers(
    client: TestClient, full_postmortem: dict[str, Any]
) -> None:
    review = section(markdown(client, full_postmortem), "Review")
    for line in [
        "**What surprised us / what we believed that was wrong:** The pool had no floor",
        "**What conditions made this possible:** Config and code ship by different paths",
        "**What slowed detection:** The alert waited 4 minutes",
        "**What slowed diagnosis:** Two dashboards disagreed",
        "**What slowed resolution:** The rollback needed a second approver",
        "**Possible elsewhere:** yes — search uses the same pool library",
        "- Detect: a canary",
        "- Contain: a pool floor",
        "- Resolve: _(not answered)_",
    ]:
        assert line in review.splitlines(), line


def test_markdown_shows_committed_items_with_a_definition_of_done_checklist(
    client: TestClient, full_postmortem: dict[str, Any]
) -> None:
    item = full_postmortem["action_items"][0]
    items = section(markdown(client, full_postmortem), "Action items")
    assert f"### {item['title']}" in items
    assert (
        f"_owner: alice · due: {item['due_date']} · status: draft · level: L4 · purpose: prevent_"
    ) in items
    assert (
        "**Definition of done:**\n"
        "- [ ] Deploys halt when canary 5xx rate exceeds 1% for 5 minutes\n"
        "- [ ] The gate is on for config pushes too"
    ) in items
    assert f"**Verification:** {item['verification']}" in items
    assert "Old clients still retry aggressively" not in items


def test_markdown_ticks_the_checklist_once_an_item_is_closed(client: TestClient) -> None:
    make_person(client, "alice")
    pm = make_postmortem(client)
    assert client.post(f"/v1/postmortems/{pm['id']}/publish").status_code == 200
    item_id = pm["action_items"][0]["id"]
    closed = client.post(f"/v1/action-items/{item_id}/close", json={"resolution": "done"})
    assert closed.status_code == 200, closed.text
    items = section(markdown(client, pm), "Action items")
    criterion = pm["action_items"][0]["definition_of_done"][0]
    assert f"- [x] {criterion}" in items
    assert "- [ ]" not in items
    assert "status: closed" in items


def test_markdown_says_who_verified_an_item_with_what_evidence(client: TestClient) -> None:
    make_person(client, "alice")
    pm = make_postmortem(client)
    assert client.post(f"/v1/postmortems/{pm['id']}/publish").status_code == 200
    item_id = pm["action_items"][0]["id"]
    closed = client.post(f"/v1/action-items/{item_id}/close", json={"resolution": "done"})
    assert closed.status_code == 200, closed.text
    verified = client.post(
        f"/v1/action-items/{item_id}/verify", json={"evidence": "game day 12 Nov: gate held"}
    )
    assert verified.status_code == 200, verified.text
    text = markdown(client, pm)
    # The only committed item verified: the postmortem is complete.
    assert "**Status:** complete" in text
    items = section(text, "Action items")
    assert "- [x] Deploys halt" in items and "status: verified" in items
    [line] = [line for line in items.splitlines() if line.startswith("Verified by ")]
    assert line.startswith("Verified by admin-tests on ")
    assert line.endswith(": game day 12 Nov: gate held")


def test_things_to_remain_aware_of_hold_only_the_uncommitted_items(
    client: TestClient, full_postmortem: dict[str, Any]
) -> None:
    aware = section(markdown(client, full_postmortem), "Things to remain aware of")
    assert [line for line in aware.splitlines() if line] == [
        "- Old clients still retry aggressively: They will age out by spring."
    ]


def test_without_uncommitted_items_there_is_no_remain_aware_section(client: TestClient) -> None:
    make_person(client, "alice")
    text = markdown(client, make_postmortem(client))
    assert "## Things to remain aware of" not in text
    assert "## Action items" in text


def test_markdown_lists_the_runbooks_and_decision_records(
    client: TestClient, full_postmortem: dict[str, Any]
) -> None:
    links = section(markdown(client, full_postmortem), "Runbooks and decision records")
    assert "- runbook: [Checkout runbook](https://wiki.example.com/rb/checkout)" in links


def test_markdown_repeats_every_finding_of_the_checks(client: TestClient) -> None:
    pm = make_postmortem(
        client,
        action_items=[action_item_body(owner=None, due_date=None, definition_of_done=[])],
        conditions=[{"category": "technical", "description": "Only one"}],
    )
    report = client.get(f"/v1/postmortems/{pm['id']}/checks").json()
    assert report["findings"], "this postmortem was built to fail checks"
    findings = section(markdown(client, pm), "Open findings from the checks")
    assert [line for line in findings.splitlines() if line] == [
        f"- {f['severity']}: {f['message']} (`{f['path']}`)" for f in report["findings"]
    ]


def test_an_empty_postmortem_says_what_is_missing(client: TestClient) -> None:
    pm = make_postmortem(
        client,
        action_items=[],
        timeline=[],
        decision_points=[],
        conditions=[],
        summary="",
        user_impact="",
        services=[],
        tags=[],
    )
    text = markdown(client, pm)
    assert section(text, "Summary").strip() == "_(not answered)_"
    assert section(text, "Timeline").strip() == "_No timeline recorded._"
    assert section(text, "Responder timeline").strip() == "_No decision points recorded._"
    assert section(text, "Contributing conditions").strip() == (
        "_No contributing conditions recorded._"
    )
    assert section(text, "Action items").strip() == "_No committed action items._"
    assert "**Services:**" not in text and "**Tags:**" not in text
    assert "## Runbooks and decision records" not in text
