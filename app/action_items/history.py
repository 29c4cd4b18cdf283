"""An action item's history: one row per change, saying who or what caused it."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlmodel import Session, select

from app.action_items.models import ActionItem, ActionItemEvent
from app.action_items.schemas import ActionItemEventRead


def record(
    session: Session,
    item: ActionItem,
    *,
    source: str,
    actor: str,
    kind: str,
    from_status: str | None = None,
    to_status: str | None = None,
    changes: dict[str, Any] | None = None,
    note: str | None = None,
) -> None:
    session.add(
        ActionItemEvent(
            action_item_id=item.id,
            source=source,
            actor=actor,
            kind=kind,
            from_status=from_status,
            to_status=to_status,
            changes=changes or {},
            note=note,
        )
    )


def entries(session: Session, item_id: UUID) -> list[ActionItemEventRead]:
    rows = session.exec(
        select(ActionItemEvent)
        .where(ActionItemEvent.action_item_id == item_id)
        .order_by(ActionItemEvent.at, ActionItemEvent.id)  # type: ignore[arg-type]
    )
    return [ActionItemEventRead.model_validate(e, from_attributes=True) for e in rows]
