"""A published postmortem is complete exactly when all its committed items are verified.

Kept apart from the postmortem service so that the action item state machine can keep it true
on every move without importing the service that builds on action items.
"""

from __future__ import annotations

from uuid import UUID

from sqlmodel import Session, col, func, select

from app.action_items.models import ActionItem
from app.db import utcnow
from app.enums import ActionItemStatus, PostmortemStatus
from app.postmortems.models import Postmortem


def touch(session: Session, postmortem: Postmortem) -> None:
    postmortem.version += 1
    postmortem.updated_at = utcnow()
    session.add(postmortem)
    session.flush()


def refresh_completion(session: Session, postmortem_id: UUID) -> None:
    """Move a published postmortem to complete, or back to published, as its items say."""
    postmortem = session.get(Postmortem, postmortem_id)
    if postmortem is None or postmortem.status not in (
        PostmortemStatus.PUBLISHED,
        PostmortemStatus.COMPLETE,
    ):
        return
    committed, verified = session.exec(
        select(
            func.count(),
            func.count().filter(col(ActionItem.status) == ActionItemStatus.VERIFIED.value),
        ).where(ActionItem.postmortem_id == postmortem_id, ActionItem.committed == True)  # noqa: E712
    ).one()
    target = (
        PostmortemStatus.COMPLETE
        if committed and committed == verified
        else PostmortemStatus.PUBLISHED
    )
    if postmortem.status != target:
        postmortem.status = target.value
        postmortem.completed_at = utcnow() if target == PostmortemStatus.COMPLETE else None
        touch(session, postmortem)
