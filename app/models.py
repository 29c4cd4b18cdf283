"""Imports every table so that SQLModel.metadata is complete (for Alembic and the tests)."""

from app.action_items.models import ActionItem, ActionItemEvent
from app.audit.models import AuditEvent, AuditTarget
from app.auth.models import ApiToken
from app.checks.waivers import CheckWaiver
from app.conditions.models import ContributingCondition
from app.idempotency.models import IdempotencyRecord
from app.integrations.models import Integration, TeamRoute
from app.people.models import Person, Team
from app.postmortems.models import (
    Postmortem,
    PostmortemReader,
    PostmortemRecurrence,
    PostmortemService,
    PostmortemTag,
)
from app.sync.models import Job
from app.tickets.models import TicketLink
from app.timeline.models import DecisionPoint, TimelineEntry, TimelineEntryRevision
from app.webhooks.models import WebhookDelivery

__all__ = [
    "ActionItem",
    "ActionItemEvent",
    "ApiToken",
    "AuditEvent",
    "AuditTarget",
    "CheckWaiver",
    "ContributingCondition",
    "DecisionPoint",
    "IdempotencyRecord",
    "Integration",
    "Job",
    "Person",
    "Postmortem",
    "PostmortemReader",
    "PostmortemRecurrence",
    "PostmortemService",
    "PostmortemTag",
    "Team",
    "TeamRoute",
    "TicketLink",
    "TimelineEntry",
    "TimelineEntryRevision",
    "WebhookDelivery",
]
