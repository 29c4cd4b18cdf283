from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from app.auth.boundary import caller_of
from app.db import SessionDep
from app.errors import TokenRequired, problem
from app.metrics import exposition
from app.people import service as people_service
from app.settings import SettingsDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "The database is not reachable"}})
def readyz(request: Request) -> JSONResponse:
    """The database answers; safe for a load balancer to send traffic."""
    try:
        with request.app.state.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError:
        return problem(503, "Not ready", "The database is not reachable")
    return JSONResponse({"status": "ready"})


@router.get(
    "/metrics", response_class=Response, responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}}
)
def metrics(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    """Prometheus text format: aggregate counts only, recomputed at most every few seconds.
    Send a read token (Prometheus `authorization`); a team-scoped token gets its teams' series
    only. `FOLLOWTHROUGH_METRICS_PUBLIC=true` serves them without a token."""
    caller = caller_of(request, session)
    if caller is None and not settings.metrics_public:
        raise TokenRequired(
            "/metrics needs a read token: 'Authorization: Bearer <token>' "
            "(or set FOLLOWTHROUGH_METRICS_PUBLIC=true)"
        )
    teams = None
    if caller is not None and caller.team_ids is not None:
        teams = people_service.team_slugs(session, set(caller.team_ids)).values()
    body = exposition(request.app.state.metrics_registry, teams)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
