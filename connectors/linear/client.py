"""A thin GraphQL client for Linear over httpx: one POST /graphql per call, no retries.

Linear reports failures inside the answer as well as with HTTP codes: any non-empty `errors[]` is
a failure, even on HTTP 200. Rate limiting comes as HTTP 429 or as an error whose
`extensions.code` is RATELIMITED. Everything raised here is one of the two connector errors.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import httpx

from connectors.base import ConnectorError, PermanentConnectorError, RetryableConnectorError

DEFAULT_BASE_URL = "https://api.linear.app"
RATE_LIMITED = "RATELIMITED"
# Codes Linear (Apollo) uses for a failure on its side rather than in what we sent.
_SERVER_CODES = {"INTERNAL_SERVER_ERROR", "INTERNAL_ERROR", "SERVICE_UNAVAILABLE"}


class NotFound(PermanentConnectorError):
    """The entity asked for does not exist (or these credentials cannot see it)."""


def auth_header(credentials: Mapping[str, str]) -> str:
    """Personal API keys go bare; OAuth access tokens as Bearer (Linear refuses
    "Bearer <api key>")."""
    if credentials.get("api_key"):
        return credentials["api_key"]
    if credentials.get("oauth_token"):
        return f"Bearer {credentials['oauth_token']}"
    raise PermanentConnectorError("Linear credentials need 'api_key' or 'oauth_token'")


def retry_after_seconds(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """`Retry-After` in seconds; else the request budget's reset time,
    `X-RateLimit-Requests-Reset` (epoch milliseconds)."""
    value = headers.get("retry-after")
    if value is not None:
        try:
            return max(float(value), 0.0)
        except ValueError:
            pass
    reset = headers.get("x-ratelimit-requests-reset")
    if reset is not None:
        try:
            moment = float(reset) / 1000.0
        except ValueError:
            return None
        return max(moment - (time.time() if now is None else now), 0.0)
    return None


def error_for(errors: list[Any], status: int, headers: Mapping[str, str]) -> ConnectorError:
    """The connector error for a non-empty GraphQL `errors` list."""
    first: Mapping[str, Any] = (
        errors[0] if isinstance(errors[0], Mapping) else {"message": str(errors[0])}
    )
    extensions = first.get("extensions") or {}
    code = str(extensions.get("code") or "").upper()
    text = str(first.get("message") or "error")
    detail = extensions.get("userPresentableMessage")
    message = f"Linear: {text}" + (f" ({code})" if code else "")
    if detail and detail != text:
        message += f": {detail}"
    if code == RATE_LIMITED or status == 429:
        return RetryableConnectorError(
            message, status=429, retry_after=retry_after_seconds(headers)
        )
    if status >= 500 or code in _SERVER_CODES:
        return RetryableConnectorError(message, status=status)
    if code in ("ENTITY_NOT_FOUND", "NOT_FOUND") or text.lower().startswith("entity not found"):
        return NotFound(message, status=404)
    # AUTHENTICATION_ERROR, FORBIDDEN, INVALID_INPUT, GRAPHQL_VALIDATION_FAILED, ...
    return PermanentConnectorError(message, status=status)


class LinearClient:
    def __init__(
        self, base_url: str | None, credentials: Mapping[str, str], timeout: float
    ) -> None:
        self._http = httpx.Client(
            base_url=(base_url or DEFAULT_BASE_URL).rstrip("/"),
            timeout=timeout,
            headers={"Authorization": auth_header(credentials)},
        )

    def close(self) -> None:
        self._http.close()

    def call(self, query: str, variables: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Send one document once; the `data` object, or one of the two connector errors."""
        try:
            response = self._http.post(
                "/graphql", json={"query": query, "variables": dict(variables or {})}
            )
        except httpx.TimeoutException as exc:
            raise RetryableConnectorError(
                f"Linear did not answer in time ({type(exc).__name__})"
            ) from exc
        except httpx.TransportError as exc:
            # Connection refused or reset, the answer lost after the request went out, ...
            raise RetryableConnectorError(
                f"Linear could not be reached ({type(exc).__name__}: {exc})"
            ) from exc
        except httpx.HTTPError as exc:  # invalid URL and the like: configuration
            raise PermanentConnectorError(f"Linear: {type(exc).__name__}: {exc}") from exc
        status = response.status_code
        headers = response.headers
        try:
            payload = response.json()
        except ValueError:
            payload = None
        errors = payload.get("errors") if isinstance(payload, dict) else None
        if errors and not isinstance(errors, list):
            errors = [errors]
        if status == 429 or status >= 500 or status == 408:
            if errors:
                error = error_for(errors, status, headers)
                message = error.message
            else:
                message = f"Linear answered HTTP {status}"
            raise RetryableConnectorError(
                message, status=status, retry_after=retry_after_seconds(headers)
            )
        if errors:
            raise error_for(errors, status, headers)
        if status >= 400:
            raise PermanentConnectorError(
                f"Linear answered HTTP {status}: {response.text[:200]}", status=status
            )
        if not isinstance(payload, dict) or not isinstance(payload.get("data"), dict):
            # A 2xx that is not a GraphQL answer: a proxy or maintenance page.
            raise RetryableConnectorError(
                f"Linear answered HTTP {status} without data: {response.text[:200]}",
                status=status,
            )
        data: dict[str, Any] = payload["data"]
        return data
