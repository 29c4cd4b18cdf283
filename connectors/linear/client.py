"""A thin GraphQL client for Linear over httpx: one POST per call, no retries, clear errors.

Linear answers errors inside a 200 as well as with HTTP codes: any non-empty `errors` is a
failure. Rate limiting comes as HTTP 429 or as an error with code RATELIMITED.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from connectors.base import PermanentConnectorError, RetryableConnectorError

NOT_FOUND_CODES = {"ENTITY_NOT_FOUND", "NOT_FOUND"}


class NotFound(PermanentConnectorError):
    """The entity asked for does not exist (or is not visible to these credentials)."""


def _auth_header(credentials: Mapping[str, str]) -> str:
    # Personal API keys go bare; OAuth tokens as Bearer (Linear refuses "Bearer <api key>").
    if credentials.get("api_key"):
        return credentials["api_key"]
    if credentials.get("oauth_token"):
        return f"Bearer {credentials['oauth_token']}"
    raise PermanentConnectorError("Linear credentials need 'api_key' or 'oauth_token'")


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    try:
        return max(float(value), 0.0) if value is not None else None
    except ValueError:
        return None


class LinearClient:
    def __init__(self, base_url: str, credentials: Mapping[str, str], timeout: float) -> None:
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            timeout=timeout,
            headers={
                "Authorization": _auth_header(credentials),
                "Content-Type": "application/json",
            },
        )

    def call(self, query: str, variables: Mapping[str, Any] | None = None) -> dict[str, Any]:
        try:
            response = self._http.post(
                "/graphql", json={"query": query, "variables": dict(variables or {})}
            )
        except httpx.TimeoutException as exc:
            raise RetryableConnectorError(
                f"Linear did not answer in time ({type(exc).__name__})"
            ) from exc
        except httpx.TransportError as exc:
            raise RetryableConnectorError(
                f"Linear could not be reached ({type(exc).__name__})"
            ) from exc
        if response.status_code == 429:
            raise RetryableConnectorError(
                "Linear rate limit", status=429, retry_after=_retry_after(response)
            )
        if response.status_code >= 500:
            raise RetryableConnectorError(
                f"Linear answered {response.status_code}", status=response.status_code
            )
        try:
            payload = response.json()
        except ValueError as exc:
            raise RetryableConnectorError(
                f"Linear answered {response.status_code} without JSON"
            ) from exc
        errors = payload.get("errors") or []
        if errors:
            self._raise(errors, response)
        if response.status_code >= 400:
            raise PermanentConnectorError(
                f"Linear answered {response.status_code}", status=response.status_code
            )
        data = payload.get("data")
        if not isinstance(data, dict):
            raise RetryableConnectorError("Linear answered without data")
        return data

    @staticmethod
    def _raise(errors: list[dict[str, Any]], response: httpx.Response) -> None:
        first = errors[0]
        code = str((first.get("extensions") or {}).get("code") or "").upper()
        message = f"Linear: {first.get('message', 'error')}" + (f" ({code})" if code else "")
        if code == "RATELIMITED":
            raise RetryableConnectorError(message, status=429, retry_after=_retry_after(response))
        if code in NOT_FOUND_CODES or "not found" in str(first.get("message", "")).lower():
            raise NotFound(message, status=404)
        if code in ("INTERNAL_SERVER_ERROR",) and response.status_code >= 500:
            raise RetryableConnectorError(message, status=response.status_code)
        raise PermanentConnectorError(message, status=response.status_code)
