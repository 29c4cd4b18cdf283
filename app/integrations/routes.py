from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Request, Response

from app.auth.deps import Admin
from app.crypto import SecretBox
from app.db import SessionDep
from app.integrations import service as integrations_service
from app.integrations import tracker_calls
from app.integrations.schemas import (
    IntegrationCreate,
    IntegrationList,
    IntegrationRead,
    IntegrationTestResult,
    IntegrationUpdate,
    WebhookSetup,
)
from app.settings import SettingsDep

router = APIRouter(prefix="/v1/integrations", tags=["integrations"])


def _box(request: Request) -> SecretBox:
    box: SecretBox = request.app.state.secret_box
    return box


BoxDep = Annotated[SecretBox, Depends(_box)]


@router.post("", status_code=201, response_model=IntegrationRead)
def create_integration(
    data: IntegrationCreate, session: SessionDep, _: Admin, box: BoxDep, settings: SettingsDep
) -> IntegrationRead:
    """Connect a tracker workspace. Credentials and webhook secret are encrypted at rest and never
    returned; `routes` send teams' action items here. A `base_url` the service will not call
    (not http(s), credentials in it, this machine, a cloud metadata service, a private or other
    non-public address) is a 422 unless the service's egress allow-list names its host."""
    return integrations_service.to_read(
        session, integrations_service.create(session, data, box, settings.egress), box
    )


@router.get("", response_model=IntegrationList)
def list_integrations(session: SessionDep, _: Admin, box: BoxDep) -> IntegrationList:
    """All integrations (without secrets)."""
    return IntegrationList(
        items=[
            integrations_service.to_read(session, i, box)
            for i in integrations_service.list_integrations(session)
        ]
    )


@router.get("/{integration_id}", response_model=IntegrationRead)
def get_integration(
    integration_id: UUID, session: SessionDep, _: Admin, box: BoxDep
) -> IntegrationRead:
    """One integration (without secrets)."""
    return integrations_service.to_read(
        session, integrations_service.get(session, integration_id), box
    )


@router.patch("/{integration_id}", response_model=IntegrationRead)
def update_integration(
    integration_id: UUID,
    data: IntegrationUpdate,
    session: SessionDep,
    _: Admin,
    box: BoxDep,
    settings: SettingsDep,
) -> IntegrationRead:
    """Change an integration; sending `credentials` replaces them whole, `routes` replaces the routing.

    Changing `base_url` clears the stored credentials and webhook secret unless the same request
    sends them again, so they never go to a host they were not given for; `notice` then says
    what to send again. A `base_url` the service will not call is a 422, as on create."""
    updated = integrations_service.update(session, integration_id, data, box, settings.egress)
    return integrations_service.to_read(session, updated.integration, box, notice=updated.notice)


@router.delete("/{integration_id}", status_code=204)
def delete_integration(integration_id: UUID, session: SessionDep, _: Admin) -> Response:
    """Remove an integration that has no linked tickets."""
    integrations_service.delete_integration(session, integration_id)
    return Response(status_code=204)


@router.post("/{integration_id}/test", response_model=IntegrationTestResult)
def test_integration(
    integration_id: UUID, session: SessionDep, _: Admin, box: BoxDep, settings: SettingsDep
) -> IntegrationTestResult:
    """Call the tracker with the stored credentials and say who they authenticate as, or why not
    (the answer's status and what it means, never what the tracker wrote back).
    409 when the integration has no stored credentials (cleared by a `base_url` change)."""
    return tracker_calls.test_connection(session, integration_id, box, settings.egress)


@router.post("/{integration_id}/webhook", response_model=WebhookSetup)
def webhook_setup(
    integration_id: UUID,
    session: SessionDep,
    _: Admin,
    settings: SettingsDep,
    box: BoxDep,
    request: Request,
    response: Response,
) -> WebhookSetup:
    """Register this integration's webhook in the tracker where its API allows (GitHub,
    Linear); otherwise return the URL, events and steps to configure it by hand (Jira).

    When this call generates the webhook secret and the steps are manual, the answer carries
    it in `secret`, this once: no later call returns it. Set `webhook_secret` to null and call
    again to get a new one. An answer kept for an Idempotency-Key never carries a secret.
    409 when the integration has no stored credentials (cleared by a `base_url` change)."""
    # The answer may carry a secret: no cache keeps a copy.
    response.headers["Cache-Control"] = "no-store"
    return tracker_calls.webhook_setup(
        session,
        integration_id,
        settings.public_url,
        box,
        settings.egress,
        replayable="idempotency-key" in request.headers,
    )
