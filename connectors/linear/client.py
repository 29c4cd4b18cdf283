"""A thin GraphQL client for Linear over httpx: one POST /graphql per call, no retries.

Linear reports failures inside the answer as well as with HTTP codes: any non-empty `errors[]` is
a failure, even on HTTP 200. Rate limiting comes as HTTP 429 or as an error whose
`extensions.code` is RATELIMITED (`extensions.type` "ratelimited", which is what Linear's own SDK
reads: linear/linear `packages/sdk/src/error.ts`). Everything raised here is one of the two
connector errors.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from connectors.base import (
    ConnectorError,
    PermanentConnectorError,
    RetryableConnectorError,
    answered,
    refused_by_egress,
)
from connectors.egress.httpx_transport import EgressTransport
from connectors.egress.policy import EgressError, EgressPolicy

DEFAULT_BASE_URL = "https://api.linear.app"
RATE_LIMITED = "RATELIMITED"
# Failures on Linear's side rather than in what we sent, as `extensions.code` (Apollo style) and
# as the SDK's `extensions.type` names.
_TRANSIENT_CODES = {
    "INTERNAL_SERVER_ERROR",
    "INTERNAL_ERROR",
    "SERVICE_UNAVAILABLE",
    "LOCK_TIMEOUT",
}


class NotFound(PermanentConnectorError):
    """The entity asked for does not exist (or these credentials cannot see it)."""


def auth_header(credentials: Mapping[str, str]) -> str:
    """Personal API keys go bare; OAuth access tokens as Bearer (Linear refuses
    "Bearer <api key>"). Surrounding whitespace, as pasted, is dropped."""
    api_key = (credentials.get("api_key") or "").strip()
    token = (credentials.get("oauth_token") or "").strip()
    if api_key:
        value = api_key
    elif token:
        value = f"Bearer {token}"
    else:
        raise PermanentConnectorError("Linear credentials need 'api_key' or 'oauth_token'")
    if not value.isascii() or not value.isprintable():
        raise PermanentConnectorError("Linear credentials hold characters no HTTP header carries")
    return value


def _seconds_until(value: str, now: float) -> float | None:
    try:
        return max(float(value) / 1000.0 - now, 0.0)  # epoch milliseconds
    except ValueError:
        return None


def retry_after_seconds(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """`Retry-After` (seconds, or an HTTP date); else when the exhausted budget refills:
    `X-RateLimit-{Requests,Complexity}-Reset` (epoch milliseconds) of the budget whose
    `-Remaining` is 0, or the later of the two when neither says so."""
    moment = time.time() if now is None else now
    value = headers.get("retry-after")
    if value is not None:
        try:
            return max(float(value), 0.0)
        except ValueError:
            pass
        try:
            return max(parsedate_to_datetime(value).timestamp() - moment, 0.0)
        except (TypeError, ValueError, IndexError):
            pass
    waits: dict[str, float] = {}
    exhausted: list[str] = []
    for budget in ("requests", "complexity"):
        reset = headers.get(f"x-ratelimit-{budget}-reset")
        wait = _seconds_until(reset, moment) if reset is not None else None
        if wait is not None:
            waits[budget] = wait
            if (headers.get(f"x-ratelimit-{budget}-remaining") or "").strip() == "0":
                exhausted.append(budget)
    chosen = [waits[b] for b in exhausted] or list(waits.values())
    return max(chosen) if chosen else None


def _extensions(error: Any) -> Mapping[str, Any]:
    extensions = error.get("extensions") if isinstance(error, Mapping) else None
    return extensions if isinstance(extensions, Mapping) else {}


def _rate_limited(error: Any) -> bool:
    extensions = _extensions(error)
    return (
        str(extensions.get("code") or "").upper() == RATE_LIMITED
        or str(extensions.get("type") or "").lower() == "ratelimited"
    )


# Linear's error codes we name, with what they mean in our words. Any other code, and every
# message Linear (or whatever answered instead) wrote, stays out of our messages.
_CODE_MEANINGS = {
    "AUTHENTICATION_ERROR": "the credentials were not accepted",
    "FORBIDDEN": "the credentials lack permission for this",
    "INVALID_INPUT": "what was sent was refused as invalid",
    "GRAPHQL_VALIDATION_FAILED": "the query was refused (it does not fit Linear's schema)",
    "BAD_USER_INPUT": "what was sent was refused as invalid",
    "ENTITY_NOT_FOUND": "not found, or these credentials cannot see it",
    "NOT_FOUND": "not found, or these credentials cannot see it",
    RATE_LIMITED: "rate limited",
    "INTERNAL_SERVER_ERROR": "a failure on Linear's side",
    "INTERNAL_ERROR": "a failure on Linear's side",
    "SERVICE_UNAVAILABLE": "a failure on Linear's side",
    "LOCK_TIMEOUT": "a failure on Linear's side",
}
_TYPE_CODES = {
    "authentication error": "AUTHENTICATION_ERROR",
    "forbidden": "FORBIDDEN",
    "invalid input": "INVALID_INPUT",
    "graphql error": "GRAPHQL_VALIDATION_FAILED",
    "ratelimited": RATE_LIMITED,
    "internal error": "INTERNAL_ERROR",
    "network error": "SERVICE_UNAVAILABLE",
    "lock timeout": "LOCK_TIMEOUT",
}


def _code(error: Any) -> str | None:
    """The error's code when it is one we know (`extensions.code`, else the SDK's `type`)."""
    extensions = _extensions(error)
    code = str(extensions.get("code") or "").upper()
    if code in _CODE_MEANINGS:
        return code
    return _TYPE_CODES.get(str(extensions.get("type") or "").lower())


def error_for(errors: list[Any], status: int, headers: Mapping[str, str]) -> ConnectorError:
    """The connector error for a non-empty GraphQL `errors` list: the HTTP status and a known
    error code with its meaning, never the error's message."""
    first = errors[0]
    text = str((first.get("message") if isinstance(first, Mapping) else first) or "")
    # Linear says "Entity not found: Issue" under INVALID_INPUT too; that is a not-found.
    code = "ENTITY_NOT_FOUND" if text.lower().startswith("entity not found") else _code(first)
    meaning = _CODE_MEANINGS[code] if code else "refused"
    message = f"Linear answered HTTP {status} with an error: {code or 'an error'} ({meaning})"
    if status == 429 or any(_rate_limited(error) for error in errors):
        return RetryableConnectorError(
            message, status=429, retry_after=retry_after_seconds(headers)
        )
    if status >= 500 or status == 408 or (code is not None and code in _TRANSIENT_CODES):
        return RetryableConnectorError(message, status=status)
    if code in ("ENTITY_NOT_FOUND", "NOT_FOUND"):
        return NotFound(message, status=404)
    # AUTHENTICATION_ERROR, FORBIDDEN, INVALID_INPUT, GRAPHQL_VALIDATION_FAILED, ...
    return PermanentConnectorError(message, status=status)


class LinearClient:
    def __init__(
        self,
        base_url: str | None,
        credentials: Mapping[str, str],
        timeout: float,
        egress: EgressPolicy,
    ) -> None:
        url = (base_url or DEFAULT_BASE_URL).rstrip("/")
        try:
            egress.check_url(url)
        except EgressError as exc:
            raise refused_by_egress("Linear", "connect", exc) from exc
        try:
            self._http = httpx.Client(
                base_url=url,
                timeout=timeout,
                headers={"Authorization": auth_header(credentials)},
                # Each request checked by the egress policy, redirect answers refused there.
                transport=EgressTransport(egress),
                follow_redirects=False,
            )
        except (httpx.InvalidURL, ValueError, TypeError) as exc:
            raise PermanentConnectorError(
                f"Linear base URL cannot be used ({type(exc).__name__})"
            ) from exc

    def close(self) -> None:
        self._http.close()

    def call(self, query: str, variables: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Send one document once; the `data` object, or one of the two connector errors."""
        try:
            response = self._http.post(
                "/graphql", json={"query": query, "variables": dict(variables or {})}
            )
        except EgressError as exc:
            raise refused_by_egress("Linear", "call", exc) from exc
        except httpx.TimeoutException as exc:
            raise RetryableConnectorError(
                f"Linear did not answer in time ({type(exc).__name__})"
            ) from exc
        except (httpx.UnsupportedProtocol, httpx.LocalProtocolError, httpx.InvalidURL) as exc:
            # The base URL or the request itself is wrong: sending it again changes nothing.
            raise PermanentConnectorError(
                f"Linear: the request could not be sent ({type(exc).__name__})"
            ) from exc
        except httpx.HTTPError as exc:
            # Connection refused or reset, the answer lost after the request went out, ...
            raise RetryableConnectorError(
                f"Linear could not be reached ({type(exc).__name__})"
            ) from exc
        return self._data(response)

    @staticmethod
    def _data(response: httpx.Response) -> dict[str, Any]:
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
            message = (
                error_for(errors, status, headers).message
                if errors
                else answered("Linear", "call", status)
            )
            raise RetryableConnectorError(
                message, status=status, retry_after=retry_after_seconds(headers)
            )
        if errors:
            raise error_for(errors, status, headers)
        if status >= 300:
            # 3xx: the base URL points somewhere that is not Linear's API; 4xx: refused.
            raise PermanentConnectorError(answered("Linear", "call", status), status=status)
        if not isinstance(payload, dict) or not isinstance(payload.get("data"), dict):
            # A 2xx that is not a GraphQL answer: a proxy or maintenance page.
            raise RetryableConnectorError(
                f"Linear answered HTTP {status} without GraphQL data", status=status
            )
        data: dict[str, Any] = payload["data"]
        return data
