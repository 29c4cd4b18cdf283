from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from app.auth.deps import Admin
from app.db import SessionDep
from app.webhooks import ingest
from app.webhooks import service as webhooks_service

router = APIRouter(tags=["webhooks"])
# The trackers' signed deliveries: no token, and the hot path of the service.
receiver_router = APIRouter(tags=["webhooks"])


class DeliveryRead(BaseModel):
    id: UUID
    integration_id: UUID
    delivery_id: str
    event: str
    received_at: datetime
    outcome: str
    detail: str | None
    processed_at: datetime | None
    redeliveries: int


class DeliveryList(BaseModel):
    items: list[DeliveryRead]


class Accepted(BaseModel):
    status: str
    delivery_id: str
    id: str | None = None


@receiver_router.post(
    "/v1/webhooks/{integration_id}",
    status_code=202,
    response_model=Accepted,
    responses={
        503: {
            "description": "Not stored (too many deliveries waiting, or the database refused"
            " the write); send it again after Retry-After"
        }
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"type": "object", "additionalProperties": True}}
            },
        }
    },
)
async def receive_webhook(integration_id: UUID, request: Request) -> Any:
    """A tracker's webhook delivery, signed as the vendor signs. Verified, stored once per
    delivery id and answered as soon as it is stored (202); its events are applied by the
    worker. 503 with Retry-After when it could not be stored."""
    body = await request.body()
    headers = {k.lower(): v for k, v in request.headers.items()}
    result = await ingest.receive(
        request.app.state.webhook_inbox, integration_id, headers, body, datetime.now(UTC)
    )
    return JSONResponse(result, status_code=202)


@router.get("/v1/webhook-deliveries", response_model=DeliveryList)
def list_deliveries(
    session: SessionDep,
    _: Admin,
    integration_id: UUID | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> DeliveryList:
    """Recent webhook deliveries, newest first, with what became of each."""
    rows = webhooks_service.recent(session, integration_id=integration_id, limit=limit)
    return DeliveryList(items=[DeliveryRead.model_validate(r, from_attributes=True) for r in rows])


@router.post("/v1/webhook-deliveries/{delivery_id}/retry", response_model=DeliveryRead)
def retry_delivery(delivery_id: UUID, session: SessionDep, _: Admin) -> DeliveryRead:
    """Apply a failed delivery again (its job was parked, and `detail` says why)."""
    row = webhooks_service.retry(session, delivery_id)
    return DeliveryRead.model_validate(row, from_attributes=True)
