"""A bounded timeline: a cap on entries per postmortem (adding, creating and importing past it is
refused), the timeline read a page at a time, and a postmortem read that embeds only the first
entries while the checks and the Markdown export still see all of them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.settings import Settings
from tests.factories import INCIDENT_START, iso, make_postmortem, postmortem_body
from tests.problems import error_paths, problem

SETTING = "FOLLOWTHROUGH_MAX_TIMELINE_ENTRIES"


def entry(minutes: float, text: str | None = None) -> dict[str, Any]:
    return {
        "at": iso(INCIDENT_START + timedelta(minutes=minutes)),
        "author": "Bob",
        "kind": "observation",
        "text": text or f"note at minute {minutes}",
    }


def bare_postmortem(client: TestClient, **overrides: Any) -> dict[str, Any]:
    return make_postmortem(
        client, **{"action_items": [], "timeline": [], "decision_points": [], **overrides}
    )


def add(client: TestClient, pm_id: str, body: dict[str, Any]) -> Any:
    return client.post(f"/v1/postmortems/{pm_id}/timeline", json=body)


def pages(client: TestClient, pm_id: str, limit: int) -> list[list[str]]:
    """Every page of the timeline, following next_cursor."""
    result, cursor = [], None
    while True:
        params: dict[str, Any] = {"limit": limit}
        if cursor:
            params["cursor"] = cursor
        response = client.get(f"/v1/postmortems/{pm_id}/timeline", params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        result.append([e["text"] for e in body["items"]])
        cursor = body["next_cursor"]
        if cursor is None:
            return result


@pytest.fixture
def cap(app: FastAPI, settings: Settings) -> Iterator[Callable[[int], None]]:
    """Set the deployment's cap for this test."""

    def set_cap(entries: int) -> None:
        app.state.settings = settings.model_copy(update={"max_timeline_entries": entries})

    try:
        yield set_cap
    finally:
        app.state.settings = settings


# --- the cap ----------------------------------------------------------------------------------


def test_the_cap_is_2000_entries_unless_set() -> None:
    assert Settings.model_fields["max_timeline_entries"].default == 2000


def test_adding_past_the_cap_is_refused_naming_the_cap_and_the_setting(
    client: TestClient, cap: Callable[[int], None]
) -> None:
    cap(3)
    pm = bare_postmortem(client)
    for minute in range(3):
        assert add(client, pm["id"], entry(minute)).status_code == 201

    body = problem(add(client, pm["id"], entry(3)), 409)

    assert "at most 3 entries" in body["detail"] and SETTING in body["detail"]
    assert (body["max_timeline_entries"], body["entries"], body["adding"]) == (3, 3, 1)
    assert body["setting"] == SETTING
    assert pages(client, pm["id"], 50) == [[f"note at minute {m}" for m in range(3)]]
    # Editing an entry adds nothing, so it still works at the cap.
    first = client.get(f"/v1/postmortems/{pm['id']}/timeline").json()["items"][0]
    edited = client.patch(
        f"/v1/postmortems/{pm['id']}/timeline/{first['id']}", json={"text": "5xx rising"}
    )
    assert edited.status_code == 200, edited.text
    cap(4)
    assert add(client, pm["id"], entry(3)).status_code == 201


def test_a_postmortem_created_with_more_entries_than_the_cap_is_refused_whole(
    client: TestClient, cap: Callable[[int], None]
) -> None:
    cap(3)
    response = client.post(
        "/v1/postmortems",
        json=postmortem_body(timeline=[entry(m) for m in range(4)], action_items=[]),
    )
    body = problem(response, 409)
    assert (body["max_timeline_entries"], body["adding"]) == (3, 4)
    assert client.get("/v1/postmortems").json()["items"] == []


def test_an_import_past_the_cap_is_refused_whole_and_duplicates_take_no_room(
    client: TestClient, cap: Callable[[int], None]
) -> None:
    cap(5)
    pm = bare_postmortem(client)
    url = f"/v1/postmortems/{pm['id']}/timeline/import"
    headers = {"Content-Type": "text/plain; charset=utf-8"}
    add(client, pm["id"], entry(0, "paged"))
    add(client, pm["id"], entry(1, "looking"))
    four = "09:05 Bob: a\n09:06 Bob: b\n09:07 Bob: c\n09:08 Bob: d\n"

    refused = client.post(url, params={"format": "lines"}, content=four, headers=headers)

    body = problem(refused, 409)
    assert (body["entries"], body["adding"], body["max_timeline_entries"]) == (2, 4, 5)
    assert "room for 3" in body["detail"]
    assert pages(client, pm["id"], 50) == [["paged", "looking"]]

    three = "09:05 Bob: a\n09:06 Bob: b\n09:07 Bob: c\n"
    taken = client.post(url, params={"format": "lines"}, content=three, headers=headers)
    assert taken.status_code == 200, taken.text
    assert taken.json()["imported"] == 3
    # At the cap, importing the same lines again adds nothing and is not refused.
    again = client.post(url, params={"format": "lines"}, content=three, headers=headers)
    assert again.status_code == 200, again.text
    assert (again.json()["imported"], again.json()["duplicates"]) == (0, 3)


# --- paging -----------------------------------------------------------------------------------


def test_the_timeline_reads_a_page_at_a_time_in_incident_order(client: TestClient) -> None:
    pm = bare_postmortem(client, timeline=[entry(m) for m in (9, 1, 5, 3, 7)])
    # Two notes for the same minute keep the order they arrived in.
    add(client, pm["id"], entry(4, "first at minute 4"))
    add(client, pm["id"], entry(4, "second at minute 4"))
    expected = [
        "note at minute 1",
        "note at minute 3",
        "first at minute 4",
        "second at minute 4",
        "note at minute 5",
        "note at minute 7",
        "note at minute 9",
    ]

    assert pages(client, pm["id"], 3) == [expected[0:3], expected[3:6], expected[6:]]
    assert pages(client, pm["id"], 2) == [expected[i : i + 2] for i in range(0, 7, 2)]
    assert pages(client, pm["id"], 7) == [expected]
    whole = client.get(f"/v1/postmortems/{pm['id']}/timeline").json()
    assert ([e["text"] for e in whole["items"]], whole["next_cursor"]) == (expected, None)


@pytest.mark.parametrize(
    ("params", "path"),
    [
        ({"limit": 0}, "query.limit"),
        ({"limit": 201}, "query.limit"),
        ({"cursor": "not-a-cursor"}, "query.cursor"),
        ({"cursor": "WyIyMDI2LTExLTAyVDA5OjAwOjAwIiwgIngiLCAieSJd"}, "query.cursor"),
    ],
    ids=["limit-0", "limit-201", "garbage-cursor", "naive-cursor"],
)
def test_bad_paging_parameters_are_refused_naming_them(
    client: TestClient, params: dict[str, Any], path: str
) -> None:
    pm = bare_postmortem(client, timeline=[entry(1)])
    response = client.get(f"/v1/postmortems/{pm['id']}/timeline", params=params)
    assert error_paths(response) == [path]


# --- the postmortem read ----------------------------------------------------------------------


def test_the_postmortem_read_embeds_the_first_50_entries_and_counts_them_all(
    client: TestClient,
) -> None:
    pm = bare_postmortem(client, timeline=[entry(m) for m in range(60)])
    assert (len(pm["timeline"]), pm["timeline_total"]) == (50, 60)

    read = client.get(f"/v1/postmortems/{pm['id']}").json()

    assert [e["text"] for e in read["timeline"]] == [f"note at minute {m}" for m in range(50)]
    assert read["timeline_total"] == 60
    rest = client.get(
        f"/v1/postmortems/{pm['id']}/timeline", params={"cursor": read["timeline_next_cursor"]}
    ).json()
    assert [e["text"] for e in rest["items"]] == [f"note at minute {m}" for m in range(50, 60)]
    assert rest["next_cursor"] is None


def test_a_short_timeline_is_embedded_whole(client: TestClient) -> None:
    pm = bare_postmortem(client, timeline=[entry(m) for m in range(50)])
    read = client.get(f"/v1/postmortems/{pm['id']}").json()
    assert (len(read["timeline"]), read["timeline_total"]) == (50, 50)
    assert read["timeline_next_cursor"] is None


def test_the_checks_and_the_markdown_see_the_whole_timeline(client: TestClient) -> None:
    # Entries typed in now, long after the incident was resolved: the checks count all 60 as
    # reconstructed, not the 50 the read embeds.
    pm = bare_postmortem(
        client, timeline=[entry(m) for m in range(59)] + [entry(59, "Zebulon rolled back")]
    )
    findings = client.get(f"/v1/postmortems/{pm['id']}/checks").json()["findings"]
    [reconstructed] = [f for f in findings if f["rule"] == "timeline-reconstructed"]
    assert reconstructed["message"].startswith("60 of 60 timeline entries")

    markdown = client.get(f"/v1/postmortems/{pm['id']}/markdown").text
    assert "Zebulon rolled back" in markdown
    assert sum(1 for m in range(59) if f"| note at minute {m} | after |" in markdown) == 59
