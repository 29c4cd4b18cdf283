"""The team boundary, route by route: a token of another team (and an org-wide token facing a
restricted postmortem) gets 404 for every record outside its reach and finds none of it in any
list. The routes come from the app's own OpenAPI document, so a new route is covered, or the
test says what it needs, the day it is added."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from uuid import uuid4

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.enums import Scope
from tests.factories import action_item_body, make_person, make_postmortem, make_team

# Routes that take no bearer token: the boundary is about tokens.
UNAUTHENTICATED = {("post", "/v1/webhooks/{integration_id}"): "signed by the tracker, no token"}

# Writes without a guarded path parameter, with a body that names the other team's records.
# Anything else of that kind must be added here before the test passes.
UNGUARDED_WRITES: dict[tuple[str, str], tuple[Callable[[dict[str, Any]], Any], set[int]]] = {
    ("post", "/v1/teams"): (lambda a: {"slug": "again", "name": "Again"}, {403}),
    ("post", "/v1/people"): (
        lambda a: {"handle": "mallory", "display_name": "Mallory", "team": "payments"},
        {422},
    ),
    ("post", "/v1/postmortems"): (
        lambda a: {
            "title": "Another team's incident",
            "incident_ref": "INC-OTHER",
            "severity": "SEV3",
            "started_at": "2026-11-02T09:00:00Z",
            "team": "payments",
        },
        {422},
    ),
}

# Required query parameters of reads, set so the answer would include the other team's records.
QUERIES = {"/v1/reviews/quarterly": "?quarter=2026Q4"}

SECRET_TITLE = "Zanzibar ledger drifted"  # appears only in the payments team's records
GUARDED = re.compile(r"\{(postmortem_id|item_id|team_id|person_id)\}")


@dataclass
class World:
    admin: TestClient
    ids: dict[str, str]  # path parameter -> an id of the record out of reach
    markers: list[str]  # strings that must not appear in any answer the other token gets


def _operations(app: FastAPI) -> Iterator[tuple[str, str]]:
    for path, operations in app.openapi()["paths"].items():
        if not path.startswith("/v1/"):
            continue
        for method in operations:
            yield method, path


def _payments_postmortem(client: TestClient, *, restricted: bool, ref: str) -> dict[str, Any]:
    return make_postmortem(
        client,
        title=f"{SECRET_TITLE} ({ref})",
        incident_ref=ref,
        team="payments",
        restricted=restricted,
        action_items=[action_item_body(title=f"Reconcile the {SECRET_TITLE} nightly ({ref})")],
    )


def _ids_of(client: TestClient, pm: dict[str, Any]) -> dict[str, str]:
    detail = client.get(f"/v1/postmortems/{pm['id']}").json()
    return {
        "postmortem_id": pm["id"],
        "item_id": detail["action_items"][0]["id"],
        "entry_id": client.get(f"/v1/postmortems/{pm['id']}/timeline").json()["items"][0]["id"],
        "point_id": detail["decision_points"][0]["id"],
        "condition_id": detail["conditions"][0]["id"],
        "waiver_id": str(uuid4()),
    }


@pytest.fixture
def world(client: TestClient) -> World:
    payments = make_team(client, "payments")
    make_team(client, "search")
    alice = make_person(client, "alice", team="payments")
    make_person(client, "sam", team="search")
    # The restricted one first: its item is the oldest unclosed one, which the wall shows.
    restricted_pm = _payments_postmortem(client, restricted=True, ref="PAY-2")
    open_pm = _payments_postmortem(client, restricted=False, ref="PAY-1")
    for pm in (restricted_pm, open_pm):
        assert client.post(f"/v1/postmortems/{pm['id']}/publish").status_code == 200
    ids = _ids_of(client, open_pm)
    ids.update(team_id=payments["id"], person_id=alice["id"])
    restricted_ids = _ids_of(client, restricted_pm)
    return World(
        admin=client,
        ids={
            **ids,
            "restricted": restricted_pm["id"],
            **{f"r.{k}": v for k, v in restricted_ids.items()},
        },
        markers=[SECRET_TITLE, "PAY-1", "PAY-2", *ids.values(), *restricted_ids.values()],
    )


def _fill(path: str, ids: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: ids.get(m.group(1), str(uuid4())), path)


def _assert_nothing_leaks(response: Any, markers: list[str], where: str) -> None:
    for marker in markers:
        assert marker not in response.text, f"{where} shows {marker!r}: {response.text[:300]}"


def _token_client(app: FastAPI, plain: str) -> TestClient:
    return TestClient(app, headers={"Authorization": f"Bearer {plain}"})


def _sweep(
    app: FastAPI,
    other: TestClient,
    world: World,
    ids: dict[str, str],
    markers: list[str],
    only_postmortem_params: bool,
) -> list[str]:
    """Call every /v1 operation as `other` and return what went wrong, all at once."""
    problems: list[str] = []
    for method, path in _operations(app):
        if (method, path) in UNAUTHENTICATED:
            continue
        guarded = set(GUARDED.findall(path))
        if only_postmortem_params and not (
            guarded & {"postmortem_id", "item_id"} or (not guarded and method == "get")
        ):
            continue
        url = _fill(path, ids)
        where = f"{method.upper()} {path}"
        if guarded:
            response = other.request(method, url, json={})
            if response.status_code != 404:
                problems.append(f"{where}: {response.status_code}, not 404")
            if method == "get":
                control = world.admin.get(url)
                assert control.status_code != 404, f"{where}: the record itself is missing"
        elif method == "get":
            response = other.get(url + QUERIES.get(path, ""))
            if response.status_code not in (200, 403):
                problems.append(f"{where}: {response.status_code}")
        elif (method, path) in UNGUARDED_WRITES:
            body, expected = UNGUARDED_WRITES[(method, path)]
            response = other.request(method, url, json=body(ids))
            if response.status_code not in expected:
                problems.append(f"{where}: {response.status_code}, expected {expected}")
        else:
            response = other.request(method, url, json={})
            if response.status_code != 403:
                problems.append(
                    f"{where}: {response.status_code}; say in UNGUARDED_WRITES what this route "
                    "must refuse to another team's token"
                )
        try:
            # A 404 names the id it was asked for; everything else must stay unseen.
            _assert_nothing_leaks(response, [m for m in markers if m not in url], where)
        except AssertionError as exc:
            problems.append(str(exc))
    return problems


def test_every_route_hides_another_teams_records(
    app: FastAPI, world: World, make_token: Callable[..., str]
) -> None:
    before = world.admin.get(f"/v1/postmortems/{world.ids['postmortem_id']}").json()
    with _token_client(app, make_token(Scope.WRITE, "search-writer", teams=["search"])) as other:
        problems = _sweep(app, other, world, world.ids, world.markers, only_postmortem_params=False)
    assert problems == []
    after = world.admin.get(f"/v1/postmortems/{world.ids['postmortem_id']}").json()
    assert after == before


def test_every_route_hides_a_restricted_postmortem_from_org_wide_tokens(
    app: FastAPI, world: World, make_token: Callable[..., str]
) -> None:
    restricted = {k.removeprefix("r."): v for k, v in world.ids.items() if k.startswith("r.")}
    markers = ["PAY-2", *restricted.values()]
    with _token_client(app, make_token(Scope.WRITE, "org-writer")) as org:
        problems = _sweep(app, org, world, restricted, markers, only_postmortem_params=True)
        assert problems == []
        # The team's other, unrestricted postmortem stays in view.
        assert org.get(f"/v1/postmortems/{world.ids['postmortem_id']}").status_code == 200


def test_the_teams_own_token_and_admins_see_restricted_postmortems(
    app: FastAPI, world: World, make_token: Callable[..., str]
) -> None:
    with _token_client(app, make_token(Scope.READ, "payments-reader", teams=["payments"])) as own:
        listed = own.get("/v1/postmortems").json()["items"]
        assert {pm["incident_ref"] for pm in listed} == {"PAY-1", "PAY-2"}
        shown = own.get(f"/v1/postmortems/{world.ids['restricted']}")
        assert shown.status_code == 200 and shown.json()["restricted"] is True
        assert [t["slug"] for t in own.get("/v1/teams").json()["items"]] == ["payments"]
        assert [p["handle"] for p in own.get("/v1/people").json()["items"]] == ["alice"]
    listed = world.admin.get("/v1/postmortems").json()["items"]
    assert {pm["incident_ref"] for pm in listed} == {"PAY-1", "PAY-2"}


def test_a_team_token_writes_its_own_records_and_cannot_move_them_out(
    app: FastAPI, world: World, make_token: Callable[..., str]
) -> None:
    with _token_client(app, make_token(Scope.WRITE, "payments-writer", teams=["payments"])) as own:
        pm_url = f"/v1/postmortems/{world.ids['postmortem_id']}"
        assert own.patch(pm_url, json={"summary": "Reconciled by hand."}).status_code == 200
        moved = own.patch(pm_url, json={"team": "search"})
        assert moved.status_code == 422
        assert moved.json()["errors"] == [
            {"path": "body.team", "message": "no team with slug 'search'"}
        ]
        orphaned = own.patch(pm_url, json={"team": None})
        assert orphaned.status_code == 422
        created = own.post(
            "/v1/postmortems",
            json={
                "title": "Payments page slow",
                "incident_ref": "PAY-3",
                "severity": "SEV3",
                "started_at": "2026-11-03T09:00:00Z",
            },
        )
        assert created.status_code == 422
        assert created.json()["errors"][0]["path"] == "body.team"
    assert world.admin.get(pm_url).json()["team"] == "payments"


def test_dashboards_count_only_what_the_caller_may_see(
    app: FastAPI, world: World, make_token: Callable[..., str]
) -> None:
    since = "2026-10-01T00:00:00Z"
    until = "2027-01-01T00:00:00Z"
    query = f"/v1/dashboard/summary?since={since}&until={until}"
    everything = world.admin.get(query).json()
    assert everything["postmortems"] == 2
    with _token_client(app, make_token(Scope.READ, "org-reader")) as org:
        assert org.get(query).json()["postmortems"] == 1
    with _token_client(app, make_token(Scope.READ, "search-reader", teams=["search"])) as other:
        figures = other.get(query).json()
        assert figures["postmortems"] == 0 and figures["action_items"]["committed"] == 0
        assert other.get(f"{query}&team=payments").json()["postmortems"] == 0


def test_the_wall_shows_a_team_token_its_own_teams_only(
    app: FastAPI, world: World, make_token: Callable[..., str]
) -> None:
    for name, teams, sees_restricted, sees_payments in (
        ("search-wall", ["search"], False, False),
        ("org-wall", None, False, True),
        ("payments-wall", ["payments"], True, True),
    ):
        with TestClient(app) as screen:
            signed_in = screen.post(
                "/dashboard/sign-in",
                data={"token": make_token(Scope.READ, name, teams=teams)},
                follow_redirects=False,
            )
            assert signed_in.status_code == 303
            page = screen.get("/dashboard")
            assert page.status_code == 200 and "Sign in" not in page.text
            assert ("PAY-2" in page.text) is sees_restricted, name
            one_team = screen.get("/dashboard?team=payments")
            assert one_team.status_code == (200 if sees_payments else 404), name
