from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Query
from pydantic import BaseModel

from app.auth.deps import Admin
from app.db import SessionDep
from app.sync import jobs

router = APIRouter(prefix="/v1/sync-jobs", tags=["sync jobs"])

JobStatus = Literal["pending", "leased", "done", "dead"]


class JobRead(BaseModel):
    id: UUID
    kind: str
    lane: Literal["outbound", "inbound"]
    status: JobStatus
    attempts: int
    action_item_id: UUID | None
    delivery_id: UUID | None
    integration_id: UUID | None
    payload: dict[str, Any]
    last_error: str | None
    available_at: datetime
    created_at: datetime
    updated_at: datetime


class JobList(BaseModel):
    items: list[JobRead]


@router.get("", response_model=JobList)
def list_sync_jobs(
    session: SessionDep,
    _: Admin,
    status: JobStatus | None = None,
    lane: Literal["outbound", "inbound"] | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> JobList:
    """Background jobs, most recently changed first; `status=dead` lists the parked ones with
    the error that parked them."""
    rows = jobs.listed(session, status=status, lane=lane, limit=limit)
    return JobList(items=[JobRead.model_validate(r, from_attributes=True) for r in rows])


@router.post("/{job_id}/retry", response_model=JobRead)
def retry_sync_job(job_id: UUID, session: SessionDep, _: Admin) -> JobRead:
    """Run a parked job again now, with a fresh attempt budget."""
    return JobRead.model_validate(jobs.retry(session, job_id), from_attributes=True)
