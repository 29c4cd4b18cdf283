"""The AppError family and the handlers that render every error as RFC 9457 problem+json."""

from __future__ import annotations

import logging
import re
import sqlite3
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_JSON = "application/problem+json"
logger = logging.getLogger("followthrough.errors")
DATABASE_RETRY_AFTER_SECONDS = 2


class AppError(Exception):
    """A domain error that knows its HTTP status; raised by services, rendered here."""

    status_code = 400
    title = "Bad request"

    def __init__(
        self,
        detail: str,
        *,
        errors: list[dict[str, Any]] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or []
        self.extra = extra or {}
        # Response headers the error carries (a 401's challenge, say).
        self.headers: dict[str, str] | None = None


class NotFound(AppError):
    status_code = 404
    title = "Not found"


class Unauthorized(AppError):
    status_code = 401
    title = "Unauthorized"


class TokenRequired(Unauthorized):
    """401 for a missing or bad bearer token, with the challenge RFC 6750 asks for."""

    def __init__(self, detail: str, *, invalid: bool = False) -> None:
        super().__init__(detail)
        challenge = 'Bearer realm="followthrough"'
        if invalid:
            challenge += ', error="invalid_token"'
        self.headers = {"WWW-Authenticate": challenge}


class Forbidden(AppError):
    status_code = 403
    title = "Forbidden"


class Conflict(AppError):
    status_code = 409
    title = "Conflict"


class PreconditionFailed(AppError):
    status_code = 412
    title = "Precondition failed"


class PayloadTooLarge(AppError):
    status_code = 413
    title = "Payload too large"


class InvalidInput(AppError):
    """Input that is well-formed JSON but breaks a domain rule (e.g. an unknown owner)."""

    status_code = 422
    title = "Invalid input"


def field_error(path: str, message: str) -> dict[str, str]:
    return {"path": path, "message": message}


def problem(
    status: int,
    title: str,
    detail: str,
    *,
    instance: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    if errors:
        body["errors"] = errors
    if extra:
        body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _location(loc: tuple[Any, ...] | list[Any]) -> str:
    """('body', 'action_items', 0, 'owner') -> 'body.action_items[0].owner'."""
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        else:
            parts.append(("." if parts else "") + str(item))
    return "".join(parts)


def _validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    errors = []
    for err in exc.errors():
        loc = list(err.get("loc", ()))
        # Pydantic puts the failing union member / validator name in the path; drop noise.
        loc = [p for p in loc if not (isinstance(p, str) and p.startswith("function-"))]
        errors.append(field_error(_location(loc), str(err.get("msg", "invalid value"))))
    return errors


# What SQLite says when the file is busy or cannot be read; its other operational errors
# (a missing table, say) are faults of the deployment, not a moment's unavailability.
_SQLITE_UNAVAILABLE = ("database is locked", "unable to open", "disk i/o error")


def database_unavailable(exc: OperationalError) -> bool:
    """The database could not be reached or was busy: worth retrying as it is."""
    if exc.connection_invalidated:
        return True
    if isinstance(exc.orig, sqlite3.Error):
        return str(exc.orig).lower().startswith(_SQLITE_UNAVAILABLE)
    # psycopg: connection failures, the server shutting down, a cut connection.
    return True


def _allowed_methods(request: Request) -> list[str]:
    """The methods the API documents for this path (the OpenAPI document knows every route,
    however the routers nest)."""
    methods: set[str] = set()
    for template, operations in request.app.openapi().get("paths", {}).items():
        pattern = re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template))
        if re.fullmatch(pattern, request.url.path):
            methods |= {method.upper() for method in operations if method != "parameters"}
    if "GET" in methods:
        methods.add("HEAD")  # app/head_requests.py answers it
    return sorted(methods)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    async def _app_error(request: Request, exc: AppError) -> JSONResponse:
        return problem(
            exc.status_code,
            exc.title,
            exc.detail,
            instance=request.url.path,
            errors=exc.errors,
            extra=exc.extra,
            headers=exc.headers,
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = _validation_errors(exc)
        if any(error.get("type") == "json_invalid" for error in exc.errors()):
            # Not JSON at all: a malformed request (400), not invalid input (422).
            where = "; ".join(f"{e['path']}: {e['message']}" for e in errors[:1])
            return problem(
                400,
                "Malformed body",
                f"The request body is not valid JSON ({where})",
                instance=request.url.path,
                errors=errors,
            )
        summary = "; ".join(f"{e['path']}: {e['message']}" for e in errors[:5])
        return problem(
            422,
            "Invalid input",
            f"The request is not valid: {summary}",
            instance=request.url.path,
            errors=errors,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        title = {404: "Not found", 405: "Method not allowed"}.get(exc.status_code, "Error")
        detail = exc.detail if isinstance(exc.detail, str) else title
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"No route matches {request.method} {request.url.path}"
        headers = getattr(exc, "headers", None)
        if exc.status_code == 405:
            # Every method of every route on this path, not only the first route's.
            allowed = _allowed_methods(request)
            detail = (
                f"{request.method} is not allowed on {request.url.path}; use {', '.join(allowed)}"
            )
            headers = {**(headers or {}), "Allow": ", ".join(allowed)}
        return problem(
            exc.status_code,
            title,
            detail,
            instance=request.url.path,
            headers=headers,
        )

    @app.exception_handler(OperationalError)
    async def _database_unavailable(request: Request, exc: OperationalError) -> JSONResponse:
        # The database is down, restarting or locked past its timeout: nothing was saved, and
        # the same request is worth sending again shortly (a tracker redelivers on a 5xx).
        if not database_unavailable(exc):
            return await _unexpected(request, exc)
        logger.warning(
            "database unavailable on %s %s: %s", request.method, request.url.path, exc.orig
        )
        return problem(
            503,
            "Service unavailable",
            "The database cannot be reached right now; nothing was saved. Retry shortly.",
            instance=request.url.path,
            headers={"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)},
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem(
            500,
            "Internal error",
            "The server failed to handle this request; nothing was saved.",
            instance=request.url.path,
        )
