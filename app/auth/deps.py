"""FastAPI dependencies that turn the bearer token into a Caller of the required scope."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.auth import service as auth_service
from app.auth.boundary import caller_of, guard
from app.auth.service import Caller
from app.db import SessionDep
from app.enums import Scope

# auto_error=False: we render our own problem+json 401 instead of FastAPI's 403.
bearer = HTTPBearer(auto_error=False, description="An API token: `followthrough tokens create`")


def _require(scope: Scope) -> Callable[..., Caller]:
    def dependency(
        request: Request,
        session: SessionDep,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
    ) -> Caller:
        header = f"{credentials.scheme} {credentials.credentials}" if credentials else None
        identified = caller_of(request, session) if header else None
        caller = auth_service.authenticate(session, header, scope, identified)
        # Records of other teams (and restricted postmortems) are 404 before the route runs.
        guard(request, session, caller)
        return caller

    return dependency


Reader = Annotated[Caller, Depends(_require(Scope.READ))]
Writer = Annotated[Caller, Depends(_require(Scope.WRITE))]
Admin = Annotated[Caller, Depends(_require(Scope.ADMIN))]
