"""create_app(): the FastAPI application with its routers, middleware and error handling."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from app import __version__, health
from app.action_items.routes import router as action_items_router
from app.audit.recorder import AuditDep
from app.audit.routes import router as audit_router
from app.auth.throttle import AuthFailureThrottle
from app.checks.routes import router as check_waivers_router
from app.conditions.routes import router as conditions_router
from app.crypto import SecretBox
from app.dashboard.routes import patterns_router, reviews_router
from app.dashboard.routes import router as dashboard_router
from app.db import make_engine
from app.errors import PROBLEM_JSON, install_error_handlers
from app.head_requests import HeadAsGetMiddleware
from app.idempotency.middleware import IdempotencyMiddleware
from app.integrations.routes import router as integrations_router
from app.metrics import make_registry
from app.people.routes import people_router, teams_router
from app.postmortems.routes import router as postmortems_router
from app.request_guard import RequestGuardMiddleware
from app.security_headers import SecurityHeadersMiddleware
from app.settings import Settings, get_settings
from app.sync.routes import router as sync_jobs_router
from app.sync.worker import start_in_background
from app.timeline.routes import router as timeline_router
from app.wall.routes import router as wall_router
from app.webhooks.inbox_writer import InboxBusy, InboxWriter, render_busy
from app.webhooks.ingest import Inbox
from app.webhooks.integration_cache import IntegrationCache
from app.webhooks.routes import receiver_router as webhook_receiver_router
from app.webhooks.routes import router as webhooks_router

API_DESCRIPTION = """\
Postmortems as the record of truth; action items checked, ticketed, closed and verified.

Authenticate with `Authorization: Bearer <token>` (create one with `followthrough tokens create`).
Errors are `application/problem+json` (RFC 9457) with an `errors` list of `{path, message}`.
POST calls accept an `Idempotency-Key` header.
"""

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["path", "message"],
                "properties": {"path": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
}

ERROR_STATUSES = {
    "400": "Malformed request",
    "401": "Missing or invalid bearer token",
    "403": "The token's scope is too low",
    "404": "No such resource",
    "408": "The request body did not arrive in time",
    "409": "Conflicts with the current state",
    "412": "If-Match does not match the current version",
    "413": "Body too large",
    "422": "Invalid input; `errors` says what and where",
    "429": "Too many failed authentication attempts from this address; see Retry-After",
}


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(
        title="Followthrough",
        version=__version__,
        description=API_DESCRIPTION,
        lifespan=_lifespan,
    )
    app.state.settings = settings
    # What the wall page takes as "now"; tests pin it to show a known week.
    app.state.clock = lambda: datetime.now(UTC)
    app.state.engine = make_engine(settings.resolved_database_url(), settings.database_pool)
    app.state.secret_box = SecretBox(settings.resolved_secret_key())
    app.state.webhook_inbox = Inbox(
        IntegrationCache(
            app.state.engine,
            app.state.secret_box,
            settings.webhooks.integration_cache_seconds,
        ),
        InboxWriter(
            app.state.engine,
            batch_size=settings.webhooks.batch_size,
            queue_size=settings.webhooks.queue_size,
        ),
    )
    app.state.metrics_registry = make_registry(app.state.engine, settings.metrics_cache_seconds)
    install_error_handlers(app)
    app.add_exception_handler(InboxBusy, render_busy)
    app.add_middleware(IdempotencyMiddleware)
    # Added last so it runs first: refused requests never reach idempotency bookkeeping.
    app.add_middleware(
        RequestGuardMiddleware,
        max_bytes=settings.max_body_bytes,
        body_timeout=settings.limits.body_timeout_seconds,
    )
    # A throttled address is refused before its body is read or the database is touched.
    app.add_middleware(AuthFailureThrottle, limits=settings.limits)
    app.add_middleware(HeadAsGetMiddleware)
    # Outermost: every answer above, refusals included, gets the headers.
    app.add_middleware(SecurityHeadersMiddleware)
    # Every route that takes a token is audited: the recorder runs before the route's own
    # dependencies, so it sees their refusals, and shares the request's transaction (see
    # app/audit/recorder.py). The tracker's webhook, the health checks and the wall page's own
    # sign-in take no token, and their paths stay free of it.
    untokened = (health.router, webhook_receiver_router, wall_router)
    # The trackers' deliveries first: routes are matched in this order, and every request for
    # a later router is tried against each router before it.
    for router in (
        webhook_receiver_router,
        health.router,
        teams_router,
        people_router,
        postmortems_router,
        check_waivers_router,
        timeline_router,
        conditions_router,
        action_items_router,
        integrations_router,
        webhooks_router,
        sync_jobs_router,
        dashboard_router,
        patterns_router,
        reviews_router,
        audit_router,
        wall_router,
    ):
        app.include_router(router, dependencies=[] if router in untokened else [AuditDep])
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """With the default single-process set-up, the sync worker runs beside the API."""
    settings: Settings = app.state.settings
    app.state.webhook_inbox.writer.start()
    worker = (
        start_in_background(app.state.engine, settings)
        if settings.sync.run_in_api_process
        else None
    )
    if getattr(app.state, "freeze_gc_after_startup", False):
        # See `followthrough serve`: what startup built is out of the collector's sight.
        gc.collect()
        gc.freeze()
    yield
    # Deliveries already waiting are stored and answered before the worker stops.
    app.state.webhook_inbox.writer.stop()
    if worker is not None:
        worker.stop()


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's schema plus the problem+json responses every /v1 operation can give."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    problem_ref = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            if not path.startswith("/v1/"):
                continue
            for status, description in ERROR_STATUSES.items():
                responses[status] = {"description": description, "content": problem_ref}
            if method == "post":
                operation.setdefault("parameters", []).append(
                    {
                        "name": "Idempotency-Key",
                        "in": "header",
                        "required": False,
                        "schema": {
                            "type": "string",
                            "minLength": 1,
                            "maxLength": 255,
                            "pattern": "^[\\x21-\\x7e]+$",
                        },
                        "description": "Repeat a POST safely: the same key and body return the first response",
                    }
                )
    schema["components"]["schemas"].pop("HTTPValidationError", None)
    schema["components"]["schemas"].pop("ValidationError", None)
    app.openapi_schema = schema
    return schema
