from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from app.errors import problem
from app.metrics import exposition

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
def metrics(request: Request) -> Response:
    """Prometheus text format: aggregate counts only, recomputed at most every few seconds."""
    return Response(exposition(request.app.state.metrics_registry), media_type=CONTENT_TYPE_LATEST)
