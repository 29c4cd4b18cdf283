"""Assertions on the service's RFC 9457 problem+json error answers."""

from __future__ import annotations

from typing import Any

import httpx

PROBLEM = "application/problem+json"
# A well-formed id that no row has.
MISSING = "00000000-0000-4000-8000-000000000000"


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    """The problem+json body of an error response, after checking its status and media type."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM), response.headers
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["title"] and body["detail"]
    return body


def error_paths(response: httpx.Response, status: int = 422) -> list[str]:
    """Where the error answer says the input is wrong."""
    return [e["path"] for e in problem(response, status).get("errors", [])]
