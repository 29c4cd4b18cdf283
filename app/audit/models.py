"""The audit log's tables: one row per recorded action, and the ids it acted on."""

from datetime import datetime
from uuid import UUID, uuid4

from sqlalchemy import Index
from sqlmodel import JSON, Column, Field, SQLModel

from app.db import UTCDateTime, empty_list, utcnow


class AuditEvent(SQLModel, table=True):
    """Who did what, when, from where, and how it ended. Never a value of a secret: `fields`
    holds the NAMES of what a request body set, and the actor columns a token's id and name,
    never its plain text or hash."""

    __tablename__ = "audit_event"
    # Newest first, resumed by (at, id): the list's order and its cursor.
    __table_args__ = (Index("ix_audit_event_at_id", "at", "id"),)

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    # "token:<name>" for API calls, "cli:<os user>" for the command line.
    actor: str = Field(max_length=200, index=True)
    # No foreign key: the record outlives whatever it names.
    token_id: UUID | None = Field(default=None, index=True)
    token_name: str | None = Field(default=None, max_length=100)
    scope: str | None = Field(default=None, max_length=10)
    # "postmortem.update", "integration.credentials_changed", "token.create", ...
    action: str = Field(max_length=100, index=True)
    method: str | None = Field(default=None, max_length=10)
    # The route template, "/v1/postmortems/{postmortem_id}"; None for the command line.
    route: str | None = Field(default=None, max_length=300)
    fields: list[str] = Field(default_factory=empty_list, sa_column=Column(JSON, nullable=False))
    client_address: str | None = Field(default=None, max_length=100)
    request_id: str | None = Field(default=None, max_length=200)
    # The HTTP status answered (403 for a refused call); None for the command line.
    status: int | None = Field(default=None)


class AuditTarget(SQLModel, table=True):
    """One id an audited action acted on: a path parameter or a row the request created."""

    __tablename__ = "audit_target"

    audit_event_id: UUID = Field(foreign_key="audit_event.id", primary_key=True, ondelete="CASCADE")
    target_id: str = Field(max_length=64, primary_key=True, index=True)
    # The table the id belongs to ("postmortem", "action_item"), or the path parameter's name.
    kind: str = Field(max_length=64)
    # Path parameters first, then created rows, in the order they were met.
    position: int = Field(default=0)
