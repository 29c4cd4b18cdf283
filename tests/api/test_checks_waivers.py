"""Waiving a finding of the checks: publishing, staleness, Markdown, dashboard and the record."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.enums import Scope
from tests.factories import action_item_body, make_person, make_postmortem, make_team
from tests.problems import MISSING, error_paths, problem

RULE = "owner-is-person"
OWNER_PATH = "action_items[0].owner"
Q4 = {"since": "2026-10-01T00:00:00Z", "until": "2027-01-01T00:00:00Z"}


@pytest.fixture
def team_owned(client: TestClient) -> dict[str, Any]:
    """A postmortem whose only error is that its one action item is owned by a team."""
    make_person(client, "alice")
    make_team(client, "payments")
    make_team(client, "search")
    return make_postmortem(client, action_items=[action_item_body(owner="payments")])


def checks(client: TestClient, pm: dict[str, Any]) -> dict[str, Any]:
    response = client.get(f"/v1/postmortems/{pm['id']}/checks")
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def finding(report: dict[str, Any], rule: str, path: str) -> dict[str, Any]:
    [found] = [f for f in report["findings"] if f["rule"] == rule and f["path"] == path]
    return found


def waive(
    client: TestClient,
    pm: dict[str, Any],
    rule: str = RULE,
    path: str = OWNER_PATH,
    reason: str = "The payments on-call rota owns it; the rota lead is named in the criteria",
) -> Any:
    return client.post(
        f"/v1/postmortems/{pm['id']}/checks/waivers",
        json={"rule": rule, "path": path, "reason": reason},
    )


def waivers(client: TestClient, pm: dict[str, Any]) -> list[dict[str, Any]]:
    response = client.get(f"/v1/postmortems/{pm['id']}/checks/waivers")
    assert response.status_code == 200, response.text
    return response.json()["items"]  # type: ignore[no-any-return]


def publish(client: TestClient, pm: dict[str, Any]) -> Any:
    return client.post(f"/v1/postmortems/{pm['id']}/publish")


def item_id(pm: dict[str, Any], index: int = 0) -> str:
    return pm["action_items"][index]["id"]  # type: ignore[no-any-return]


def test_waived_error_no_longer_blocks_publishing(client: TestClient, team_owned: dict) -> None:
    before = checks(client, team_owned)
    assert finding(before, RULE, OWNER_PATH)["severity"] == "error"
    assert not before["publishable"]
    problem(publish(client, team_owned), 409)

    response = waive(client, team_owned)
    assert response.status_code == 201, response.text
    waiver = response.json()
    assert response.headers["Location"].endswith(f"/checks/waivers/{waiver['id']}")
    assert waiver["by"] == "token:admin-tests"
    assert waiver["action_item_id"] == item_id(team_owned)
    assert (waiver["stale"], waiver["applies"], waiver["withdrawn_at"]) == (False, True, None)

    after = checks(client, team_owned)
    waived = finding(after, RULE, OWNER_PATH)
    assert waived["waived"] is True
    assert waived["waiver"] == {
        "id": waiver["id"],
        "reason": "The payments on-call rota owns it; the rota lead is named in the criteria",
        "by": "token:admin-tests",
        "at": waiver["at"],
    }
    assert after["counts"]["error"] == before["counts"]["error"] - 1 == 0
    assert after["publishable"] is True
    assert all(
        f["waived"] is False and f["waiver"] is None for f in after["findings"] if f != waived
    )

    published = publish(client, team_owned)
    assert published.status_code == 200, published.text
    assert published.json()["status"] == "published"
    [listed] = waivers(client, team_owned)
    assert listed["applied_at_publish"] is True


def test_editing_the_waived_text_makes_the_waiver_stale(
    client: TestClient, team_owned: dict
) -> None:
    assert waive(client, team_owned).status_code == 201
    edited = client.patch(f"/v1/action-items/{item_id(team_owned)}", json={"owner": "search"})
    assert edited.status_code == 200, edited.text

    report = checks(client, team_owned)
    again = finding(report, RULE, OWNER_PATH)
    assert (again["waived"], again["waiver"]) == (False, None)
    assert report["publishable"] is False
    [listed] = waivers(client, team_owned)
    assert (listed["stale"], listed["applies"]) == (True, False)
    body = problem(publish(client, team_owned), 409)
    assert [f["rule"] for f in body["findings"]] == [RULE]

    # The finding can be waived again for the new text; the stale waiver is withdrawn.
    renewed = waive(client, team_owned, reason="The search rota owns it now")
    assert renewed.status_code == 201, renewed.text
    old, new = waivers(client, team_owned)
    assert old["withdrawn_by"] == "token:admin-tests" and old["stale"] is False
    assert (new["id"], new["applies"], new["stale"]) == (renewed.json()["id"], True, False)
    assert publish(client, team_owned).status_code == 200


def test_a_waiver_of_unchanged_text_survives_other_edits(
    client: TestClient, team_owned: dict
) -> None:
    assert waive(client, team_owned).status_code == 201
    edited = client.patch(
        f"/v1/action-items/{item_id(team_owned)}", json={"verification": "Run the game day again"}
    )
    assert edited.status_code == 200, edited.text
    assert finding(checks(client, team_owned), RULE, OWNER_PATH)["waived"] is True
    assert waivers(client, team_owned)[0]["stale"] is False


def test_condition_waiver_goes_stale_when_its_description_changes(client: TestClient) -> None:
    make_person(client, "alice")
    pm = make_postmortem(
        client,
        conditions=[
            {"category": "process", "description": "Alice forgot to run the canary"},
            {"category": "technical", "description": "Pool size had no lower bound"},
        ],
    )
    path = "conditions[0].description"
    assert finding(checks(client, pm), "blame-wording", path)["waived"] is False
    response = waive(client, pm, "blame-wording", path, "Alice wrote this herself and asked")
    assert response.status_code == 201, response.text
    assert response.json()["action_item_id"] is None
    assert finding(checks(client, pm), "blame-wording", path)["waived"] is True

    condition_id = pm["conditions"][0]["id"]
    edited = client.patch(
        f"/v1/postmortems/{pm['id']}/conditions/{condition_id}",
        json={"description": "Alice forgot to run the canary again"},
    )
    assert edited.status_code == 200, edited.text
    assert finding(checks(client, pm), "blame-wording", path)["waived"] is False
    assert waivers(client, pm)[0]["stale"] is True


def test_withdrawing_a_waiver_counts_the_finding_again(
    client: TestClient, team_owned: dict
) -> None:
    waiver = waive(client, team_owned).json()
    url = f"/v1/postmortems/{team_owned['id']}/checks/waivers/{waiver['id']}"
    response = client.delete(url)
    assert response.status_code == 200, response.text
    withdrawn = response.json()
    assert withdrawn["withdrawn_by"] == "token:admin-tests"
    assert withdrawn["withdrawn_at"] is not None
    assert finding(checks(client, team_owned), RULE, OWNER_PATH)["waived"] is False
    problem(publish(client, team_owned), 409)
    # The withdrawn waiver stays on the record.
    [listed] = waivers(client, team_owned)
    assert (listed["id"], listed["withdrawn_by"], listed["stale"]) == (
        waiver["id"],
        "token:admin-tests",
        False,
    )

    again = problem(client.delete(url), 409)
    assert waiver["id"] in again["detail"] and "already withdrawn" in again["detail"]
    # Withdrawn, the finding can be waived anew.
    assert waive(client, team_owned).status_code == 201


def test_waiving_and_withdrawing_are_in_the_items_history(
    client: TestClient, team_owned: dict
) -> None:
    waiver = waive(client, team_owned).json()
    client.delete(f"/v1/postmortems/{team_owned['id']}/checks/waivers/{waiver['id']}")
    response = client.get(f"/v1/action-items/{item_id(team_owned)}/history")
    assert response.status_code == 200, response.text
    events = [e for e in response.json()["events"] if e["kind"].startswith("check_waive")]
    assert [(e["kind"], e["actor"], e["source"]) for e in events] == [
        ("check_waived", "token:admin-tests", "api"),
        ("check_waiver_withdrawn", "token:admin-tests", "api"),
    ]
    assert events[0]["note"] == waiver["reason"]
    assert events[0]["changes"] == {
        "rule": RULE,
        "path": OWNER_PATH,
        "waiver_id": waiver["id"],
    }


def test_markdown_lists_waived_findings_apart_from_open_ones(
    client: TestClient, team_owned: dict
) -> None:
    waiver = waive(client, team_owned, reason="Pool | named; see the criteria").json()
    response = client.get(f"/v1/postmortems/{team_owned['id']}/markdown")
    assert response.status_code == 200, response.text
    text = response.text
    assert "## Waived findings" in text
    waived = text.split("## Waived findings", 1)[1]
    row = next(line for line in waived.splitlines() if line.startswith(f"| {RULE}"))
    assert f"`{OWNER_PATH}`" in row
    assert "Pool \\| named; see the criteria" in row
    assert "token:admin-tests" in row
    assert waiver["at"][:10] in row
    open_findings = text.split("## Open findings from the checks", 1)[-1].split("##", 1)[0]
    assert "owned by team" not in open_findings


def test_dashboard_counts_postmortems_published_with_waivers(
    client: TestClient, team_owned: dict
) -> None:
    def counted() -> dict[str, int]:
        response = client.get("/v1/dashboard/summary", params=Q4)
        assert response.status_code == 200, response.text
        return response.json()["published_with_waivers"]  # type: ignore[no-any-return]

    assert counted() == {"postmortems": 0, "waivers": 0}
    for rule, path in [
        (RULE, OWNER_PATH),
        ("review-lag", "review_held_at"),
        ("timeline-reconstructed", "timeline"),
    ]:
        assert waive(client, team_owned, rule, path, "Accepted in the review").status_code == 201
    assert counted() == {"postmortems": 0, "waivers": 0}, "not published yet"
    # A waiver gone stale before publishing did not apply, so it does not count.
    entry = {"at": "2026-11-02T09:10:00Z", "author": "Bob", "kind": "observation", "text": "Pool"}
    added = client.post(f"/v1/postmortems/{team_owned['id']}/timeline", json=entry)
    assert added.status_code == 201, added.text
    assert publish(client, team_owned).status_code == 200
    assert [w["applied_at_publish"] for w in waivers(client, team_owned)] == [True, True, False]

    plain = make_postmortem(client)
    assert publish(client, plain).status_code == 200
    other = make_postmortem(client, action_items=[action_item_body(owner="search")])
    waive(client, other)
    assert publish(client, other).status_code == 200
    # Withdrawn after publishing: it still applied when the postmortem was published.
    first = waivers(client, team_owned)[0]
    client.delete(f"/v1/postmortems/{team_owned['id']}/checks/waivers/{first['id']}")
    assert counted() == {"postmortems": 2, "waivers": 3}
    empty = client.get(
        "/v1/dashboard/summary",
        params={"since": "2025-01-01T00:00:00Z", "until": "2025-04-01T00:00:00Z"},
    ).json()
    assert empty["published_with_waivers"] == {"postmortems": 0, "waivers": 0}


def test_waiving_a_finding_the_checks_do_not_report_is_422(
    client: TestClient, team_owned: dict
) -> None:
    response = waive(client, team_owned, path="action_items[3].owner")
    assert error_paths(response) == ["rule", "path"]
    body = response.json()
    assert f"'{RULE}'" in body["detail"] and "'action_items[3].owner'" in body["detail"]
    response = waive(client, team_owned, rule="no-such-rule")
    assert "'no-such-rule'" in problem(response, 422)["detail"]
    assert waivers(client, team_owned) == []


@pytest.mark.parametrize("reason", ["", "   "])
def test_a_waiver_needs_a_reason(client: TestClient, team_owned: dict, reason: str) -> None:
    response = waive(client, team_owned, reason=reason)
    assert error_paths(response) == ["body.reason"]
    assert "blank" in response.json()["errors"][0]["message"]


def test_a_second_waiver_of_one_finding_is_409(client: TestClient, team_owned: dict) -> None:
    first = waive(client, team_owned).json()
    body = problem(waive(client, team_owned, reason="Again"), 409)
    assert f"'{RULE}'" in body["detail"] and f"'{OWNER_PATH}'" in body["detail"]
    assert first["id"] in body["detail"]
    assert len(waivers(client, team_owned)) == 1


def test_unknown_postmortem_or_waiver_is_404(client: TestClient, team_owned: dict) -> None:
    body = {"rule": RULE, "path": OWNER_PATH, "reason": "x"}
    assert (
        MISSING
        in problem(client.post(f"/v1/postmortems/{MISSING}/checks/waivers", json=body), 404)[
            "detail"
        ]
    )
    problem(client.get(f"/v1/postmortems/{MISSING}/checks/waivers"), 404)
    missing = problem(
        client.delete(f"/v1/postmortems/{team_owned['id']}/checks/waivers/{MISSING}"), 404
    )
    assert MISSING in missing["detail"]
    # A waiver is found only under its own postmortem.
    waiver = waive(client, team_owned).json()
    other = make_postmortem(client)
    problem(client.delete(f"/v1/postmortems/{other['id']}/checks/waivers/{waiver['id']}"), 404)


def test_a_read_token_can_list_but_not_waive_or_withdraw(
    app: FastAPI, client: TestClient, make_token: Callable[..., str], team_owned: dict
) -> None:
    waiver = waive(client, team_owned).json()
    with TestClient(
        app, headers={"Authorization": f"Bearer {make_token(Scope.READ, 'reader')}"}
    ) as reader:
        problem(waive(reader, team_owned, reason="Mine"), 403)
        problem(
            reader.delete(f"/v1/postmortems/{team_owned['id']}/checks/waivers/{waiver['id']}"), 403
        )
        assert [w["id"] for w in waivers(reader, team_owned)] == [waiver["id"]]
    assert waivers(client, team_owned)[0]["withdrawn_at"] is None
