"""The Markdown export reads as a whole story for someone who was not there."""

from fastapi.testclient import TestClient

from tests.factories import action_item_body, make_person, make_postmortem


def test_markdown_tells_the_whole_postmortem(client: TestClient) -> None:
    make_person(client, "alice")
    pm = make_postmortem(
        client,
        title="Checkout returned 502s",
        timeline=[
            {
                "at": "2026-11-02T09:04:00Z",
                "author": "alertmanager",
                "kind": "alert",
                "text": "5xx | rising",
            }
        ],
        chain_walk={"L4": {"contributed": "yes", "note": "config reviewed without canary"}},
        review={"surprises": "The pool had no floor", "caught_earlier": {"detect": "a canary"}},
        links=[
            {
                "kind": "runbook",
                "url": "https://wiki.example.com/rb/checkout",
                "title": "Checkout runbook",
            }
        ],
        action_items=[
            action_item_body(),
            action_item_body(
                title="Old clients still retry aggressively", committed=False, owner=None
            ),
        ],
    )
    response = client.get(f"/v1/postmortems/{pm['id']}/markdown")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/markdown")
    text = response.text
    assert text.startswith("# Checkout returned 502s\n")
    assert "**Severity:** SEV2" in text
    assert "| 2026-11-02 09:04 UTC | alertmanager | alert | 5xx \\| rising |" in text
    assert (
        "## Responder timeline" in text
        and "rollback by Bob Oncall (11 min after the first alert)" in text
    )
    assert "- **technical:** Pool size had no lower bound — tags: config-push" in text
    assert "| L4 execution | yes | config reviewed without canary |" in text
    assert "The pool had no floor" in text and "- Detect: a canary" in text
    assert "- [ ] Deploys halt when canary 5xx rate exceeds 1% for 5 minutes" in text
    assert "## Things to remain aware of\n\n- Old clients still retry aggressively" in text
    assert "[Checkout runbook](https://wiki.example.com/rb/checkout)" in text
    assert "## Open findings from the checks" in text


def test_markdown_marks_done_criteria_and_verification(client: TestClient) -> None:
    make_person(client, "alice")
    pm = make_postmortem(client)
    client.post(f"/v1/postmortems/{pm['id']}/publish")
    item_id = pm["action_items"][0]["id"]
    client.post(f"/v1/action-items/{item_id}/close", json={"resolution": "done"})
    client.post(
        f"/v1/action-items/{item_id}/verify", json={"evidence": "game day 12 Nov: gate held"}
    )
    text = client.get(f"/v1/postmortems/{pm['id']}/markdown").text
    assert "**Status:** complete" in text
    assert "- [x] Deploys halt" in text
    assert "Verified by admin-tests on" in text and "game day 12 Nov: gate held" in text


def test_line_breaks_of_any_kind_stay_inside_their_table_cell(client: TestClient) -> None:
    pm = make_postmortem(
        client,
        action_items=[],
        timeline=[
            {
                "at": "2026-11-02T09:04:00Z",
                "author": "ops",
                "kind": "observation",
                "text": "one\r\ntwo\rthree",
            }
        ],
    )
    text = client.get(f"/v1/postmortems/{pm['id']}/markdown").text
    assert "| one two three |" in text
