"""The practice's further review questions, who led the review, and search by chain level."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from app.db import session_scope
from app.postmortems.models import Postmortem
from tests.factories import INCIDENT_START, make_postmortem, postmortem_body
from tests.problems import error_paths

NEW_ANSWERS = {
    "knowledge_gaps": "Only the on-call for search knew the pool library was shared",
    "knew_enough_to_resolve": "At 09:20 the diff was on screen; the rollback waited for approval",
    "for_category_not_to_happen": "Config pushes would go through the same canary as code",
    "led_by": {"incident_commander": "Dana Lead", "scribe": "Sam Notes"},
}


def markdown(client: TestClient, pm_id: str) -> str:
    response = client.get(f"/v1/postmortems/{pm_id}/markdown")
    assert response.status_code == 200, response.text
    return response.text


def test_the_new_review_answers_round_trip_on_create_read_and_patch(client: TestClient) -> None:
    created = make_postmortem(
        client, action_items=[], review={"surprises": "The pool had no floor", **NEW_ANSWERS}
    )
    assert {k: created["review"][k] for k in NEW_ANSWERS} == NEW_ANSWERS
    assert created["review"]["surprises"] == "The pool had no floor"
    read = client.get(f"/v1/postmortems/{created['id']}").json()
    assert read["review"] == created["review"]

    changed = {**NEW_ANSWERS, "led_by": {"incident_commander": "Kim Next"}}
    patched = client.patch(f"/v1/postmortems/{created['id']}", json={"review": changed})
    assert patched.status_code == 200, patched.text
    assert patched.json()["review"]["led_by"] == {"incident_commander": "Kim Next", "scribe": ""}
    assert patched.json()["review"]["knowledge_gaps"] == NEW_ANSWERS["knowledge_gaps"]
    listed = client.get("/v1/postmortems").json()["items"][0]
    assert listed["review"]["led_by"]["incident_commander"] == "Kim Next"


def test_the_new_review_answers_are_optional(client: TestClient) -> None:
    review = make_postmortem(client, action_items=[])["review"]
    assert (
        review["knowledge_gaps"],
        review["knew_enough_to_resolve"],
        review["for_category_not_to_happen"],
        review["led_by"],
    ) == ("", "", "", {"incident_commander": "", "scribe": ""})


def test_markdown_gives_the_new_answers_and_who_led_the_review(client: TestClient) -> None:
    answered = make_postmortem(client, action_items=[], review=NEW_ANSWERS)
    lines = markdown(client, answered["id"]).splitlines()
    for line in [
        "**Who knew things that others didn't:** Only the on-call for search knew the pool "
        "library was shared",
        "**When we knew enough to resolve it, and what happened between then and resolution:** "
        "At 09:20 the diff was on screen; the rollback waited for approval",
        "**What would need to be true for this category not to happen:** Config pushes would go "
        "through the same canary as code",
        "**Review led by:** incident commander Dana Lead · scribe Sam Notes",
    ]:
        assert line in lines, line
    blank = markdown(client, make_postmortem(client, action_items=[])["id"]).splitlines()
    assert "**Who knew things that others didn't:** _(not answered)_" in blank
    assert (
        "**Review led by:** incident commander _(not recorded)_ · scribe _(not recorded)_" in blank
    )


@pytest.mark.parametrize(
    ("review", "path"),
    [
        ({"knowledge_gaps": 12}, "body.review.knowledge_gaps"),
        ({"knew_enough_to_resolve": "x" * 20_001}, "body.review.knew_enough_to_resolve"),
        ({"for_category_not_to_happen": ["a"]}, "body.review.for_category_not_to_happen"),
        ({"led_by": "Dana"}, "body.review.led_by"),
        ({"led_by": {"scribe": "x" * 201}}, "body.review.led_by.scribe"),
        ({"led_by": {"facilitator": "Dana"}}, "body.review.led_by.facilitator"),
    ],
)
def test_bad_review_answers_are_a_422_naming_the_field(
    client: TestClient, review: dict[str, Any], path: str
) -> None:
    created = client.post("/v1/postmortems", json=postmortem_body(action_items=[], review=review))
    assert path in error_paths(created)
    pm = make_postmortem(client, action_items=[])
    patched = client.patch(f"/v1/postmortems/{pm['id']}", json={"review": review})
    assert path in error_paths(patched)


def _walk(**levels: str) -> dict[str, Any]:
    return {level: {"contributed": answer} for level, answer in levels.items()}


@pytest.fixture
def walked(client: TestClient, engine: Engine) -> dict[str, str]:
    """Three postmortems with different walks, and one stored before walks were filled in."""
    a = make_postmortem(client, action_items=[], chain_walk=_walk(L3="yes", L5="yes"))
    b = make_postmortem(
        client, action_items=[], severity="SEV1", chain_walk=_walk(L3="no", L4="yes")
    )
    c = make_postmortem(client, action_items=[], chain_walk=_walk(L3="unknown"))
    with session_scope(engine) as s:
        old = Postmortem(
            title="Stored before",
            incident_ref="INC-OLD",
            severity="SEV3",
            started_at=INCIDENT_START,
            chain_walk={},
            review={"surprises": "an old answer"},
        )
        s.add(old)
        s.flush()
        old_id = str(old.id)
    return {"a": a["id"], "b": b["id"], "c": c["id"], "old": old_id}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"chain_level": "L3"}, ["a"]),
        ({"chain_level": "L5"}, ["a"]),
        ({"chain_level": "L4"}, ["b"]),
        ({"chain_level": "L1"}, []),
        ({"chain_level": "L4", "severity": "SEV2"}, []),
        ({"chain_level": "L4", "severity": "SEV1"}, ["b"]),
    ],
)
def test_postmortems_can_be_searched_by_the_chain_level_that_contributed(
    client: TestClient, walked: dict[str, str], params: dict[str, str], expected: list[str]
) -> None:
    response = client.get("/v1/postmortems", params=params)
    assert response.status_code == 200, response.text
    assert [p["id"] for p in response.json()["items"]] == [walked[name] for name in expected]


def test_a_chain_level_search_follows_an_edited_walk(
    client: TestClient, walked: dict[str, str]
) -> None:
    client.patch(f"/v1/postmortems/{walked['c']}", json={"chain_walk": _walk(L1="yes")})
    found = client.get("/v1/postmortems", params={"chain_level": "L1"}).json()["items"]
    assert [p["id"] for p in found] == [walked["c"]]


@pytest.mark.parametrize("value", ["L6", "l3", "3", ""])
def test_an_unknown_chain_level_is_a_422_naming_it(client: TestClient, value: str) -> None:
    response = client.get("/v1/postmortems", params={"chain_level": value})
    assert error_paths(response) == ["query.chain_level"]


def test_a_postmortem_stored_before_the_new_fields_still_reads_edits_and_exports(
    client: TestClient, walked: dict[str, str]
) -> None:
    pm_id = walked["old"]
    read = client.get(f"/v1/postmortems/{pm_id}")
    assert read.status_code == 200, read.text
    body = read.json()
    assert body["review"]["surprises"] == "an old answer"
    assert body["review"]["led_by"] == {"incident_commander": "", "scribe": ""}
    assert (body["reads"], body["read_outside_team"], body["outcome"]) == (0, [], [])
    assert "**Who knew things that others didn't:** _(not answered)_" in markdown(client, pm_id)
    patched = client.patch(f"/v1/postmortems/{pm_id}", json={"title": "Stored before, renamed"})
    assert patched.status_code == 200, patched.text
    assert patched.json()["review"]["surprises"] == "an old answer"
