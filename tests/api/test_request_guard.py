"""Requests the database could not store are refused up front, with nothing written."""

from fastapi.testclient import TestClient

from tests.factories import postmortem_body


def test_nul_in_a_query_is_refused(client: TestClient) -> None:
    response = client.get("/v1/postmortems", params={"q": "dns\x00"})
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["errors"] == [
        {"path": "query", "message": "NUL characters are not accepted"}
    ]


def test_nul_in_a_json_body_is_refused_and_nothing_is_written(client: TestClient) -> None:
    response = client.post(
        "/v1/postmortems", json=postmortem_body(title="bad\x00title", action_items=[])
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["path"] == "body"
    assert client.get("/v1/postmortems").json()["items"] == []


def test_an_escaped_backslash_u_is_ordinary_text(client: TestClient) -> None:
    body = postmortem_body(summary="the regex \\u0000 matched nothing", action_items=[])
    response = client.post("/v1/postmortems", json=body)
    assert response.status_code == 201, response.text
    assert response.json()["summary"] == "the regex \\u0000 matched nothing"
