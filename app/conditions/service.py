"""Contributing conditions: many per postmortem, each with a category and failure-mode tags."""

from __future__ import annotations

from uuid import UUID

from sqlmodel import Session, select

from app.conditions.models import ContributingCondition
from app.conditions.schemas import ConditionCreate, ConditionUpdate
from app.errors import NotFound
from app.postmortems.models import Postmortem


def add(session: Session, postmortem: Postmortem, data: ConditionCreate) -> ContributingCondition:
    condition = ContributingCondition(postmortem_id=postmortem.id, **data.model_dump())
    session.add(condition)
    session.flush()
    return condition


def of_postmortem(session: Session, postmortem_id: UUID) -> list[ContributingCondition]:
    return list(
        session.exec(
            select(ContributingCondition)
            .where(ContributingCondition.postmortem_id == postmortem_id)
            .order_by(ContributingCondition.created_at, ContributingCondition.id)  # type: ignore[arg-type]
        )
    )


def get(session: Session, postmortem_id: UUID, condition_id: UUID) -> ContributingCondition:
    condition = session.get(ContributingCondition, condition_id)
    if condition is None or condition.postmortem_id != postmortem_id:
        raise NotFound(f"No contributing condition {condition_id} in postmortem {postmortem_id}")
    return condition


def edit(
    session: Session, postmortem_id: UUID, condition_id: UUID, data: ConditionUpdate
) -> ContributingCondition:
    condition = get(session, postmortem_id, condition_id)
    for key, value in data.model_dump(exclude_unset=True).items():
        if value is not None or key == "chain_level":
            setattr(condition, key, value)
    session.add(condition)
    session.flush()
    return condition


def delete(session: Session, postmortem_id: UUID, condition_id: UUID) -> None:
    session.delete(get(session, postmortem_id, condition_id))
    session.flush()
