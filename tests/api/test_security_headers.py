"""Security headers on API answers: nosniff everywhere, no-store when authenticated, a CSP that
allows nothing and no referrer on JSON; HTML pages keep their own policy."""

from __future__ import annotations

from fastapi.testclient import TestClient

from app.security_headers import JSON_CSP
from tests.factories import postmortem_body


def assert_json_headers(headers: dict[str, str] | object) -> None:
    assert headers["x-content-type-options"] == "nosniff"  # type: ignore[index]
    assert headers["content-security-policy"] == JSON_CSP  # type: ignore[index]
    assert headers["referrer-policy"] == "no-referrer"  # type: ignore[index]


def test_authenticated_json_answers_are_never_stored(client: TestClient) -> None:
    response = client.get("/v1/postmortems")
    assert response.status_code == 200
    assert_json_headers(response.headers)
    assert response.headers["cache-control"] == "no-store"


def test_problem_answers_get_them_too(client: TestClient, anon_client: TestClient) -> None:
    refused = anon_client.get("/v1/postmortems")
    assert refused.status_code == 401
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert_json_headers(refused.headers)
    invalid = client.post("/v1/postmortems", json={"title": 1})
    assert invalid.status_code == 422
    assert_json_headers(invalid.headers)
    assert invalid.headers["cache-control"] == "no-store"


def test_refusals_before_the_app_get_them(client: TestClient) -> None:
    too_big = client.post(
        "/v1/postmortems", content=b"x" * 2_000_000, headers={"content-type": "application/json"}
    )
    assert too_big.status_code == 413
    assert_json_headers(too_big.headers)


def test_a_replayed_answer_gets_them(client: TestClient) -> None:
    body = postmortem_body(action_items=[])
    client.post("/v1/postmortems", json=body, headers={"Idempotency-Key": "h"})
    replay = client.post("/v1/postmortems", json=body, headers={"Idempotency-Key": "h"})
    assert replay.headers["idempotent-replayed"] == "true"
    assert_json_headers(replay.headers)
    assert replay.headers["cache-control"] == "no-store"


def test_anonymous_answers_may_be_cached_but_not_sniffed(anon_client: TestClient) -> None:
    response = anon_client.get("/healthz")
    assert response.status_code == 200
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "cache-control" not in response.headers


def test_the_docs_pages_keep_loading_their_scripts(anon_client: TestClient) -> None:
    for path in ("/docs", "/redoc"):
        page = anon_client.get(path)
        assert page.status_code == 200
        assert page.headers["x-content-type-options"] == "nosniff"
        assert "content-security-policy" not in page.headers
    assert_json_headers(anon_client.get("/openapi.json").headers)


def test_the_wall_keeps_its_own_policy(anon_client: TestClient) -> None:
    page = anon_client.get("/dashboard")
    policy = page.headers["content-security-policy"]
    assert "script-src 'nonce-" in policy
    assert policy != JSON_CSP
    assert page.headers["x-content-type-options"] == "nosniff"
