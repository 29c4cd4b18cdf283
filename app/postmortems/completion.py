"""A published postmortem is complete exactly when all its committed, opened items are verified.

A committed item that is still a draft on a published postmortem (added or committed after
publishing and held by the checks, see `app.flows.items_after_publish`) is not committed work
until it opens: it does not count. A complete postmortem that gains such a draft stays complete;
when the draft opens, the postmortem is published again.

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
        ).where(
            ActionItem.postmortem_id == postmortem_id,
            ActionItem.committed == True,  # noqa: E712
            col(ActionItem.status) != ActionItemStatus.DRAFT.value,
        )
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
