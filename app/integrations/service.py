"""Integrations: connected tracker workspaces, their encrypted credentials, and team routing."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from uuid import UUID

from sqlmodel import Session, col, delete, select

from app.action_items.models import ActionItem
from app.crypto import SecretBox
from app.db import utcnow
from app.enums import TrackerKind
from app.errors import Conflict, InvalidInput, NotFound, field_error
from app.integrations import egress as integrations_egress
from app.integrations.models import Integration, TeamRoute
from app.integrations.schemas import (
    IntegrationCreate,
    IntegrationOptions,
    IntegrationRead,
    IntegrationUpdate,
    RouteIn,
    RouteRead,
)
from app.people.models import Team
from app.people.service import flush_unique, resolve_team
from app.postmortems.models import Postmortem
from app.settings import EgressSettings
from app.tickets.models import TicketLink
from connectors import registry
from connectors.base import (
    Connector,
    ConnectorConfig,
    PermanentConnectorError,
    Target,
)
from connectors.profile import TrackerProfile

logger = logging.getLogger("followthrough.integrations")


class CredentialsMissing(Conflict):
    """The integration has no stored credentials (they were cleared when its base_url changed)."""


@dataclass(frozen=True)
class Updated:
    integration: Integration
    notice: str | None = None


def get(session: Session, integration_id: UUID) -> Integration:
    integration = session.get(Integration, integration_id)
    if integration is None:
        raise NotFound(f"No integration with id {integration_id}")
    return integration


def create(
    session: Session, data: IntegrationCreate, box: SecretBox, egress: EgressSettings
) -> Integration:
    """Store a new integration; a `base_url` the service would refuse to call is a 422."""
    integrations_egress.check_base_url(data.base_url, egress)
    if session.exec(select(Integration.id).where(Integration.name == data.name)).first():
        raise Conflict(f"An integration named {data.name!r} already exists")
    integration = Integration(
        kind=data.kind.value,
        name=data.name,
        base_url=data.base_url,
        credentials_sealed=box.seal(data.credentials),
        webhook_secret_sealed=box.seal(data.webhook_secret) if data.webhook_secret else None,
        default_project=data.default_project,
        default_issue_type=data.default_issue_type,
        labels=list(data.labels),
        options=data.options.model_dump(),
        is_default=data.is_default,
        max_concurrency=data.max_concurrency,
    )
    session.add(integration)
    flush_unique(session, f"An integration named {data.name!r} already exists")
    if data.is_default:
        _only_default(session, integration)
    _set_routes(session, integration, data.routes)
    return integration


def _host_changed(before: str | None, after: str | None) -> bool:
    return (before or "").rstrip("/") != (after or "").rstrip("/")


def update(
    session: Session,
    integration_id: UUID,
    data: IntegrationUpdate,
    box: SecretBox,
    egress: EgressSettings,
) -> Updated:
    """Apply a partial change. A new `base_url` (null included: the vendor's cloud) clears the
    stored credentials and webhook secret unless the same request sends them again: they were
    given for the old host, and /test, /webhook or the worker would otherwise hand them to
    whichever host the URL now names. The answer's notice says what was cleared. A `base_url`
    the service would refuse to call is a 422."""
    integration = get(session, integration_id)
    fields = data.model_fields_set
    if "base_url" in fields:
        integrations_egress.check_base_url(data.base_url, egress)
    for name in ("name", "default_project", "labels", "options", "is_default", "max_concurrency"):
        if name in fields and getattr(data, name) is None:
            raise InvalidInput(
                f"{name} cannot be null", errors=[field_error(f"body.{name}", "may not be null")]
            )
    profile = registry.profile(TrackerKind(integration.kind))
    if data.credentials is not None:
        try:
            profile.parse_credentials(data.credentials)
        except ValueError as exc:
            raise InvalidInput(
                str(exc), errors=[field_error("body.credentials", "wrong set of fields")]
            ) from None
        integration.credentials_sealed = box.seal(data.credentials)
    if data.default_project is not None:
        _check_project(profile, data.default_project, "default_project")
    for index, route in enumerate(data.routes or []):
        if route.project is not None:
            _check_project(profile, route.project, f"routes[{index}].project")
    if "webhook_secret" in fields:
        integration.webhook_secret_sealed = (
            box.seal(data.webhook_secret) if data.webhook_secret else None
        )
    cleared: list[str] = []
    if "base_url" in fields and _host_changed(integration.base_url, data.base_url):
        if data.credentials is None:
            integration.credentials_sealed = box.seal({})
            cleared.append("credentials")
        if "webhook_secret" not in fields and integration.webhook_secret_sealed is not None:
            integration.webhook_secret_sealed = None
            cleared.append("webhook secret")
    for name in (
        "name",
        "base_url",
        "default_project",
        "default_issue_type",
        "is_default",
        "max_concurrency",
    ):
        if name in fields:
            setattr(integration, name, getattr(data, name))
    if data.labels is not None:
        integration.labels = list(data.labels)
    if data.options is not None:
        integration.options = data.options.model_dump()
    integration.updated_at = utcnow()
    session.add(integration)
    flush_unique(session, f"An integration named {integration.name!r} already exists")
    if data.is_default:
        _only_default(session, integration)
    if data.routes is not None:
        _set_routes(session, integration, data.routes)
    if not cleared:
        return Updated(integration)
    notice = (
        f"base_url changed, so the stored {' and '.join(cleared)} (given for the old host) were"
        " cleared and will not be sent to the new one."
    )
    if "credentials" in cleared:
        notice += (
            f" Send credentials again (PATCH /v1/integrations/{integration.id} with"
            " credentials) before /test, /webhook or syncing."
        )
    if "webhook secret" in cleared:
        notice += (
            f" Set a new webhook secret (POST /v1/integrations/{integration.id}/webhook, or PATCH"
            " webhook_secret) and configure it in the tracker; deliveries are refused until then."
        )
    return Updated(integration, notice)


def _check_project(profile: TrackerProfile, project: str, where: str) -> None:
    try:
        profile.check_project(project, where)
    except ValueError as exc:
        raise InvalidInput(
            str(exc), errors=[field_error(f"body.{where}", f"expected {profile.project_hint}")]
        ) from None


def delete_integration(session: Session, integration_id: UUID) -> None:
    integration = get(session, integration_id)
    if session.exec(
        select(TicketLink.id).where(TicketLink.integration_id == integration.id)
    ).first():
        raise Conflict(
            "This integration has linked tickets; it stays so their history stays readable"
        )
    session.delete(integration)
    session.flush()


def list_integrations(session: Session) -> list[Integration]:
    return list(session.exec(select(Integration).order_by(col(Integration.name))))


def _only_default(session: Session, integration: Integration) -> None:
    for other in session.exec(
        select(Integration).where(Integration.id != integration.id, Integration.is_default)
    ):
        other.is_default = False
        session.add(other)
    session.flush()


def _set_routes(session: Session, integration: Integration, routes: list[RouteIn]) -> None:
    session.execute(delete(TeamRoute).where(col(TeamRoute.integration_id) == integration.id))
    seen: set[UUID] = set()
    for index, route in enumerate(routes):
        team = resolve_team(session, route.team, f"body.routes[{index}].team")
        assert team is not None
        if team.id in seen:
            raise InvalidInput(
                f"Team {route.team!r} is routed twice",
                errors=[field_error(f"body.routes[{index}].team", "duplicate team")],
            )
        seen.add(team.id)
        # A team routes to one integration: moving it here takes it from any other.
        session.execute(delete(TeamRoute).where(col(TeamRoute.team_id) == team.id))
        session.add(
            TeamRoute(
                team_id=team.id,
                integration_id=integration.id,
                project=route.project,
                issue_type=route.issue_type,
            )
        )
    session.flush()


def to_read(
    session: Session, integration: Integration, box: SecretBox, notice: str | None = None
) -> IntegrationRead:
    rows = session.exec(
        select(TeamRoute, Team.slug)
        .join(Team, col(Team.id) == TeamRoute.team_id)
        .where(TeamRoute.integration_id == integration.id)
        .order_by(col(Team.slug))
    ).all()
    try:
        credential_fields = sorted(box.open(integration.credentials_sealed))
    except ValueError:
        credential_fields = []
    return IntegrationRead(
        id=integration.id,
        kind=TrackerKind(integration.kind),
        name=integration.name,
        base_url=integration.base_url,
        default_project=integration.default_project,
        default_issue_type=integration.default_issue_type,
        labels=list(integration.labels),
        options=IntegrationOptions.model_validate(integration.options),
        routes=[
            RouteRead(team=slug, project=r.project, issue_type=r.issue_type) for r, slug in rows
        ],
        is_default=integration.is_default,
        max_concurrency=integration.max_concurrency,
        credential_fields=credential_fields,
        credentials_configured=bool(credential_fields),
        has_webhook_secret=integration.webhook_secret_sealed is not None,
        webhook_url=f"/v1/webhooks/{integration.id}",
        paused_until=integration.paused_until,
        created_at=integration.created_at,
        updated_at=integration.updated_at,
        notice=notice,
    )


def connector_for(integration: Integration, box: SecretBox, egress: EgressSettings) -> Connector:
    """Build the integration's connector with its decrypted credentials (kept in memory only),
    sending only where the egress policy (with the allow-list in `egress`) allows. Without
    stored credentials it raises PermanentConnectorError rather than call the tracker."""
    options = IntegrationOptions.model_validate(integration.options)
    credentials = box.open(integration.credentials_sealed)
    if not credentials:
        raise PermanentConnectorError(_no_credentials(integration))
    config = ConnectorConfig(
        base_url=integration.base_url,
        credentials=credentials,
        timeout=options.timeout_seconds,
        options=options.model_dump(),
    )
    return registry.build(
        TrackerKind(integration.kind), config, egress=integrations_egress.policy(egress)
    )


def _no_credentials(integration: Integration) -> str:
    return (
        f"{integration.name} has no stored credentials (they are cleared when base_url changes);"
        f" send them with PATCH /v1/integrations/{integration.id}"
    )


def require_credentials(integration: Integration, box: SecretBox) -> None:
    try:
        stored = box.open(integration.credentials_sealed)
    except ValueError:
        return  # the connector call reports the undecryptable credentials as before
    if not stored:
        raise CredentialsMissing(_no_credentials(integration))


@dataclass(frozen=True)
class Route:
    integration: Integration
    target: Target


def route_for(
    session: Session, *, team_id: UUID | None, tracker: str | None, project: str | None
) -> Route | None:
    """Where an action item's ticket goes: its team's route, the item's own tracker and project
    when it names them, else the default integration."""
    integration: Integration | None = None
    route: TeamRoute | None = session.get(TeamRoute, team_id) if team_id else None
    if route is not None:
        integration = session.get(Integration, route.integration_id)
    if tracker is not None and (integration is None or integration.kind != tracker):
        integration = session.exec(
            select(Integration)
            .where(Integration.kind == tracker)
            .order_by(col(Integration.is_default).desc(), col(Integration.name))
        ).first()
        route = None
    if integration is None:
        integration = session.exec(select(Integration).where(Integration.is_default)).first()
    if integration is None:
        return None
    chosen_project = project or (route.project if route else None) or integration.default_project
    issue_type = (route.issue_type if route else None) or integration.default_issue_type
    return Route(
        integration=integration, target=Target(project=chosen_project, issue_type=issue_type)
    )


def route_for_item(session: Session, item: ActionItem) -> Route | None:
    """Where this action item's ticket goes (see `route_for`)."""
    postmortem = session.get(Postmortem, item.postmortem_id)
    return route_for(
        session,
        team_id=postmortem.team_id if postmortem else None,
        tracker=item.tracker,
        project=item.tracker_project,
    )
