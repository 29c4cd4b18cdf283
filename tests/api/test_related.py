"""A new postmortem starts from the back catalogue: earlier ones sharing services, tags or words."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient

from tests.factories import INCIDENT_START, iso, make_postmortem


def earlier(days: int) -> dict[str, str | None]:
    return {
        "started_at": iso(INCIDENT_START - timedelta(days=days)),
        "detected_at": None,
        "mitigated_at": None,
        "resolved_at": None,
    }


def test_related_ranks_shared_services_tags_and_words(client: TestClient) -> None:
    same_service = make_postmortem(
        client,
        action_items=[],
        services=["checkout"],
        tags=["other"],
        title="Checkout latency spike",
        summary="Slow card processor.",
        **earlier(30),
    )
    same_words = make_postmortem(
        client,
        action_items=[],
        services=["search"],
        tags=["other"],
        title="Search nodes ran out of connections",
        summary="The connection pool was exhausted under load.",
        **earlier(20),
    )
    unrelated = make_postmortem(
        client,
        action_items=[],
        services=["email"],
        tags=["smtp"],
        title="Mail delayed",
        summary="Queue backlog.",
        user_impact="Receipts arrived late.",
        **earlier(10),
    )
    current = make_postmortem(
        client,
        action_items=[],
        services=["checkout"],
        tags=["pool"],
        title="Checkout failed: connection pool exhausted",
        summary="Pool exhausted after a config push.",
    )
    later = make_postmortem(
        client,
        action_items=[],
        services=["checkout"],
        title="Later checkout outage",
        started_at=iso(INCIDENT_START + timedelta(days=5)),
        detected_at=None,
        mitigated_at=None,
        resolved_at=None,
    )

    response = client.get(f"/v1/postmortems/{current['id']}/related")
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert [i["id"] for i in items] == [same_service["id"], same_words["id"]]
    assert items[0]["shared_services"] == ["checkout"] and items[0]["score"] >= 3
    assert items[1]["text_match"] is True and items[1]["shared_services"] == []
    returned = {i["id"] for i in items}
    assert (
        unrelated["id"] not in returned
        and later["id"] not in returned
        and current["id"] not in returned
    )


def test_edits_reach_the_text_index(client: TestClient) -> None:
    old = make_postmortem(
        client, action_items=[], services=["a"], title="Nothing alike", summary="x", **earlier(3)
    )
    current = make_postmortem(
        client,
        action_items=[],
        services=["b"],
        tags=[],
        title="Resolver timeouts everywhere",
        summary="",
    )
    assert client.get(f"/v1/postmortems/{current['id']}/related").json()["items"] == []
    client.patch(f"/v1/postmortems/{old['id']}", json={"summary": "Resolver timeouts in one zone"})
    assert [
        i["id"] for i in client.get(f"/v1/postmortems/{current['id']}/related").json()["items"]
    ] == [old["id"]]
    assert (
        client.get("/v1/postmortems/00000000-0000-4000-8000-000000000000/related").status_code
        == 404
    )
