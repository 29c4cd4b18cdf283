"""HTTP as clients expect it: a body that is not JSON is a 400, a 401 for a missing or bad
token carries the Bearer challenge (RFC 6750), HEAD works wherever GET does, and a 405 names
every method the path takes."""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient


def test_a_body_that_is_not_json_is_a_400_that_says_so(client: TestClient) -> None:
    answer = client.post(
        "/v1/teams", content=b'{"slug": "payments",', headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 400, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    body = answer.json()
    assert body["title"] == "Malformed body"
    assert "not valid JSON" in body["detail"]
    assert body["errors"][0]["path"].startswith("body")
    # Valid JSON of the wrong shape stays a 422.
    assert client.post("/v1/teams", json={"slug": 3}).status_code == 422
    assert client.get("/v1/teams").json()["items"] == []


def test_a_missing_or_bad_token_gets_the_bearer_challenge(anon_client: TestClient) -> None:
    missing = anon_client.get("/v1/teams")
    assert missing.status_code == 401
    assert missing.headers["WWW-Authenticate"] == 'Bearer realm="followthrough"'
    wrong_scheme = anon_client.get("/v1/teams", headers={"Authorization": "Basic eDp5"})
    assert wrong_scheme.headers["WWW-Authenticate"] == 'Bearer realm="followthrough"'
    unknown = anon_client.get("/v1/teams", headers={"Authorization": "Bearer ft_nope"})
    assert unknown.status_code == 401
    assert unknown.headers["WWW-Authenticate"] == (
        'Bearer realm="followthrough", error="invalid_token"'
    )
    metrics = anon_client.get("/metrics")
    assert metrics.status_code == 401
    assert metrics.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_webhook_refused_for_its_signature_asks_for_no_token(
    client: TestClient, anon_client: TestClient
) -> None:
    integration = client.post(
        "/v1/integrations",
        json={
            "kind": "github",
            "name": f"gh-{uuid.uuid4().hex[:6]}",
            "credentials": {"token": "x"},
            "default_project": "acme/api",
            "webhook_secret": "s3cret",
        },
    )
    assert integration.status_code == 201, integration.text
    answer = anon_client.post(
        f"/v1/webhooks/{integration.json()['id']}",
        content=b"{}",
        headers={
            "X-GitHub-Event": "issues",
            "X-GitHub-Delivery": str(uuid.uuid4()),
            "X-Hub-Signature-256": "sha256=" + "0" * 64,
            "Content-Type": "application/json",
        },
    )
    assert answer.status_code == 401
    assert "WWW-Authenticate" not in answer.headers


def test_head_is_answered_wherever_get_is(client: TestClient) -> None:
    client.post("/v1/teams", json={"slug": "payments", "name": "Payments"})
    got = client.get("/v1/teams")
    head = client.head("/v1/teams")
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-type"] == got.headers["content-type"]
    assert head.headers["content-length"] == got.headers["content-length"]
    assert client.head("/healthz").status_code == 200
    # HEAD is not a side door into what only takes POST.
    assert client.head(f"/v1/postmortems/{uuid.uuid4()}/publish").status_code == 405


def test_405_names_every_method_the_path_takes(client: TestClient) -> None:
    answer = client.delete("/v1/teams")
    assert answer.status_code == 405
    assert answer.headers["Allow"] == "GET, HEAD, POST"
    assert "use GET, HEAD, POST" in answer.json()["detail"]
    only_post = client.get(f"/v1/postmortems/{uuid.uuid4()}/publish")
    assert only_post.status_code == 405
    assert only_post.headers["Allow"] == "POST"
