"""The wall page: server-rendered HTML that a team screen leaves open all day.

The read token never travels in a URL the server sees: it comes in the URL fragment (which
browsers do not send) or a sign-in form, is posted once in a form body, and is kept in an
HttpOnly cookie scoped to /dashboard. Access logs show paths and query strings only.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from app.auth import service as auth_service
from app.db import SessionDep
from app.errors import NotFound
from app.settings import SettingsDep
from app.wall import service as wall_service
from app.wall import view

router = APIRouter(prefix="/dashboard", include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
templates.env.filters.update(view.filters)
templates.env.globals.update(chart=view.chart, team_rows_shown=view.TEAM_ROWS_SHOWN)

COOKIE = "followthrough_wall"
COOKIE_MAX_AGE = 90 * 24 * 3600  # wall screens stay signed in; revoking the token still works
TeamQuery = Annotated[str | None, Query(max_length=64)]
RefreshQuery = Annotated[int | None, Query(ge=5, le=3600, description="Reload every N seconds")]


def _page(
    request: Request, template: str, context: Mapping[str, object], status: int = 200
) -> HTMLResponse:
    """Render with a per-response nonce, so the page's own style and script are the only ones
    that run, and with headers that keep it out of caches and referrers."""
    nonce = secrets.token_urlsafe(16)
    response = templates.TemplateResponse(
        request, template, {**context, "nonce": nonce}, status_code=status
    )
    response.headers["Content-Security-Policy"] = (
        f"default-src 'none'; style-src 'nonce-{nonce}'; script-src 'nonce-{nonce}'; "
        "img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    )
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _sign_in(
    request: Request, team: str | None, refresh: int | None, message: str | None, status: int
) -> HTMLResponse:
    context = {"team": team, "refresh": refresh, "message": message}
    return _page(request, "sign_in.html", context, status)


def _wall_url(team: str | None, refresh: int | None) -> str:
    query = {k: v for k, v in (("team", team), ("refresh", refresh)) if v}
    return "/dashboard" + (f"?{urlencode(query)}" if query else "")


@router.get("", response_class=HTMLResponse)
def wall_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    team: TeamQuery = None,
    refresh: RefreshQuery = None,
) -> HTMLResponse:
    """The wall for everyone or one team; the sign-in form until a token is given."""
    team = team or None
    token = request.cookies.get(COOKIE)
    if not token:
        return _sign_in(request, team, refresh, None, 200)
    caller = auth_service.identify(session, token)
    if caller is None:
        message = "The saved token is no longer valid (revoked?). Sign in with another one."
        return _sign_in(request, team, refresh, message, 401)
    try:
        wall = wall_service.figures(
            session, team, settings.checks, now=request.app.state.clock(), caller=caller
        )
    except NotFound as exc:  # an HTML page, not a problem+json body
        missing = {"message": exc.detail, "back": _wall_url(None, refresh)}
        return _page(request, "not_found.html", missing, 404)
    context = {
        "wall": wall,
        "refresh": refresh or settings.wall_refresh_seconds,
        "all_teams_url": _wall_url(None, refresh),
        "team_urls": {row.team: _wall_url(row.team, refresh) for row in wall.teams},
    }
    return _page(request, "wall.html", context)


@router.post("/sign-in", response_class=HTMLResponse)
def sign_in(
    request: Request,
    session: SessionDep,
    token: Annotated[str, Form(max_length=512)] = "",
    team: Annotated[str, Form(max_length=64)] = "",
    refresh: Annotated[int | None, Form(ge=5, le=3600)] = None,
) -> Response:
    """Check the token and keep it in the wall's cookie; then show the wall (303)."""
    if not token.strip():
        return _sign_in(request, team or None, refresh, "Paste an API token to sign in.", 422)
    if auth_service.identify(session, token) is None:
        message = "That token is unknown or revoked. Create one with: followthrough tokens create"
        return _sign_in(request, team or None, refresh, message, 401)
    response = RedirectResponse(_wall_url(team or None, refresh), status_code=303)
    response.set_cookie(
        COOKIE,
        token.strip(),
        max_age=COOKIE_MAX_AGE,
        path="/dashboard",
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    return response


@router.post("/sign-out")
def sign_out() -> Response:
    """Forget the token on this screen."""
    response = RedirectResponse("/dashboard", status_code=303)
    response.delete_cookie(COOKIE, path="/dashboard")
    return response
