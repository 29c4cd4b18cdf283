"""Contributing conditions: many per postmortem, each categorised and tagged with failure modes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.factories import make_postmortem
from tests.problems import MISSING, error_paths, problem

CATEGORIES = ["technical", "process", "knowledge", "timing", "other"]


def condition(**overrides: Any) -> dict[str, Any]:
    return {
        "category": "technical",
        "description": "The connection pool had no lower bound",
        "failure_modes": ["config-push"],
        **overrides,
    }


def bare_postmortem(client: TestClient) -> dict[str, Any]:
    return make_postmortem(client, action_items=[], conditions=[])


def conditions_url(pm: dict[str, Any]) -> str:
    return f"/v1/postmortems/{pm['id']}/conditions"


def add(client: TestClient, pm: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    response = client.post(conditions_url(pm), json=condition(**overrides))
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def listed(client: TestClient, pm: dict[str, Any]) -> list[dict[str, Any]]:
    response = client.get(conditions_url(pm))
    assert response.status_code == 200, response.text
    return response.json()["items"]  # type: ignore[no-any-return]


# --- authentication -------------------------------------------------------------------------


def test_condition_endpoints_refuse_a_missing_token(
    client: TestClient, anon_client: TestClient
) -> None:
    pm = bare_postmortem(client)
    existing = add(client, pm)
    url = conditions_url(pm)
    for method, path, body in [
        ("GET", url, None),
        ("POST", url, condition()),
        ("PATCH", f"{url}/{existing['id']}", {"category": "process"}),
        ("DELETE", f"{url}/{existing['id']}", None),
    ]:
        problem(anon_client.request(method, path, json=body), 401)
    assert listed(client, pm) == [existing]


def test_a_read_token_lists_conditions_but_cannot_change_them(
    client: TestClient, app: FastAPI, make_token: Callable[..., str]
) -> None:
    pm = bare_postmortem(client)
    existing = add(client, pm)
    url = conditions_url(pm)
    with TestClient(app, headers={"Authorization": f"Bearer {make_token('read')}"}) as reader:
        assert reader.get(url).json()["items"] == [existing]
        problem(reader.post(url, json=condition()), 403)
        problem(reader.patch(f"{url}/{existing['id']}", json={"category": "process"}), 403)
        problem(reader.delete(f"{url}/{existing['id']}"), 403)
    assert listed(client, pm) == [existing]


# --- create and list ------------------------------------------------------------------------


def test_a_condition_is_stored_with_its_category_level_and_tags(client: TestClient) -> None:
    pm = bare_postmortem(client)
    created = add(
        client,
        pm,
        category="knowledge",
        description="Nobody knew the pool had a floor",
        failure_modes=["pools"],
        chain_level="L3",
    )
    assert created["postmortem_id"] == pm["id"]
    assert (created["category"], created["description"], created["chain_level"]) == (
        "knowledge",
        "Nobody knew the pool had a floor",
        "L3",
    )
    assert created["failure_modes"] == ["pools"]
    assert listed(client, pm) == [created]
    detail = client.get(f"/v1/postmortems/{pm['id']}").json()
    assert detail["conditions"] == [created]


def test_failure_modes_are_lower_cased_and_de_duplicated_in_first_seen_order(
    client: TestClient,
) -> None:
    pm = bare_postmortem(client)
    created = add(
        client,
        pm,
        failure_modes=["Retry-Library", "DNS", "retry-library", " dns ", "Pools", "RETRY-LIBRARY"],
    )
    assert created["failure_modes"] == ["retry-library", "dns", "pools"]
    assert listed(client, pm)[0]["failure_modes"] == ["retry-library", "dns", "pools"]


def test_conditions_sent_with_the_postmortem_are_normalised_too(client: TestClient) -> None:
    pm = make_postmortem(
        client,
        action_items=[],
        conditions=[condition(failure_modes=["Config-Push", "CONFIG-PUSH", "Canary"])],
    )
    assert pm["conditions"][0]["failure_modes"] == ["config-push", "canary"]
    assert listed(client, pm)[0]["failure_modes"] == ["config-push", "canary"]


def test_a_condition_needs_no_tags_or_level(client: TestClient) -> None:
    pm = bare_postmortem(client)
    response = client.post(
        conditions_url(pm), json={"category": "timing", "description": "Two deploys collided"}
    )
    assert response.status_code == 201, response.text
    assert (response.json()["failure_modes"], response.json()["chain_level"]) == ([], None)


def test_a_postmortem_holds_many_conditions_in_the_order_written(client: TestClient) -> None:
    pm = bare_postmortem(client)
    made = [add(client, pm, category=c, description=f"{c} condition") for c in CATEGORIES]
    assert [c["id"] for c in listed(client, pm)] == [c["id"] for c in made]
    assert [c["category"] for c in listed(client, pm)] == CATEGORIES


@pytest.mark.parametrize("category", CATEGORIES)
def test_every_category_of_the_vocabulary_is_accepted(client: TestClient, category: str) -> None:
    pm = bare_postmortem(client)
    assert add(client, pm, category=category)["category"] == category


@pytest.mark.parametrize(
    ("body", "path"),
    [
        (condition(category="root_cause"), "body.category"),
        (condition(category="Technical"), "body.category"),
        (condition(category=""), "body.category"),
        (condition(category=3), "body.category"),
        ({"description": "no category"}, "body.category"),
        (condition(description="   "), "body.description"),
        ({"category": "process"}, "body.description"),
        (condition(failure_modes="dns"), "body.failure_modes"),
        (condition(failure_modes=["has space"]), "body.failure_modes[0]"),
        (condition(failure_modes=["dns", "a,b"]), "body.failure_modes[1]"),
        (condition(failure_modes=[""]), "body.failure_modes[0]"),
        (condition(failure_modes=["x" * 65]), "body.failure_modes[0]"),
        (condition(failure_modes=[f"mode-{n}" for n in range(51)]), "body.failure_modes"),
        (condition(chain_level="L6"), "body.chain_level"),
        (condition(root_cause=True), "body.root_cause"),
    ],
)
def test_an_invalid_condition_is_refused_naming_the_field(
    client: TestClient, body: dict[str, Any], path: str
) -> None:
    pm = bare_postmortem(client)
    assert error_paths(client.post(conditions_url(pm), json=body)) == [path]
    assert listed(client, pm) == []


def test_conditions_of_an_unknown_postmortem_are_not_found(client: TestClient) -> None:
    bare_postmortem(client)
    url = f"/v1/postmortems/{MISSING}/conditions"
    problem(client.get(url), 404)
    problem(client.post(url, json=condition()), 404)


# --- edit and delete ------------------------------------------------------------------------


def test_an_edit_changes_only_the_fields_sent(client: TestClient) -> None:
    pm = bare_postmortem(client)
    created = add(client, pm, chain_level="L4")
    url = f"{conditions_url(pm)}/{created['id']}"
    response = client.patch(
        url, json={"category": "process", "failure_modes": ["Canary", "CANARY"]}
    )
    assert response.status_code == 200, response.text
    edited = response.json()
    assert (edited["category"], edited["failure_modes"]) == ("process", ["canary"])
    assert (edited["description"], edited["chain_level"]) == (created["description"], "L4")
    assert listed(client, pm) == [edited]


def test_an_edit_can_clear_the_chain_level_and_the_tags(client: TestClient) -> None:
    pm = bare_postmortem(client)
    created = add(client, pm, chain_level="L2", failure_modes=["dns"])
    url = f"{conditions_url(pm)}/{created['id']}"
    edited = client.patch(url, json={"chain_level": None, "failure_modes": []}).json()
    assert (edited["chain_level"], edited["failure_modes"]) == (None, [])
    assert client.patch(url, json={"chain_level": "L5"}).json()["chain_level"] == "L5"


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"category": "blame"}, "body.category"),
        ({"description": ""}, "body.description"),
        ({"failure_modes": ["two words"]}, "body.failure_modes[0]"),
        ({"chain_level": "L0"}, "body.chain_level"),
        ({"postmortem_id": MISSING}, "body.postmortem_id"),
    ],
)
def test_an_invalid_edit_changes_nothing(
    client: TestClient, change: dict[str, Any], path: str
) -> None:
    pm = bare_postmortem(client)
    created = add(client, pm)
    url = f"{conditions_url(pm)}/{created['id']}"
    assert error_paths(client.patch(url, json=change)) == [path]
    assert listed(client, pm) == [created]


def test_a_condition_of_another_postmortem_is_not_found(client: TestClient) -> None:
    owner = bare_postmortem(client)
    other = bare_postmortem(client)
    created = add(client, owner)
    wrong = f"{conditions_url(other)}/{created['id']}"
    problem(client.patch(wrong, json={"category": "process"}), 404)
    problem(client.delete(wrong), 404)
    assert listed(client, owner) == [created]
    assert listed(client, other) == []


def test_deleting_a_condition_removes_it_and_a_second_delete_is_not_found(
    client: TestClient,
) -> None:
    pm = bare_postmortem(client)
    keep = add(client, pm, description="stays")
    drop = add(client, pm, description="goes")
    url = f"{conditions_url(pm)}/{drop['id']}"
    response = client.delete(url)
    assert response.status_code == 204
    assert response.content == b""
    assert listed(client, pm) == [keep]
    assert client.get(f"/v1/postmortems/{pm['id']}").json()["conditions"] == [keep]
    problem(client.delete(url), 404)
    problem(client.patch(url, json={"category": "process"}), 404)


def test_unknown_condition_ids_are_404_and_malformed_ones_422(client: TestClient) -> None:
    pm = bare_postmortem(client)
    problem(client.patch(f"{conditions_url(pm)}/{MISSING}", json={"category": "process"}), 404)
    problem(client.delete(f"{conditions_url(pm)}/{MISSING}"), 404)
    assert error_paths(client.delete(f"{conditions_url(pm)}/c-1")) == ["path.condition_id"]
