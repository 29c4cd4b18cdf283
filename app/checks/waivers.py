"""Waivers of check findings: the table, the fingerprint of the waived text, and how a report
takes them into account.

A waiver names one finding by its rule and path and keeps a fingerprint of the content at that
path, read from the same snapshot the checks run on. It applies only while the content still
matches: edit the waived text and the finding counts again. The snapshot is read by attribute
name only, so this module does not depend on the snapshot's classes.

Rows are never deleted; a withdrawn waiver keeps who withdrew it and when, so the rows are the
record of every waiver there was.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import Index
from sqlmodel import Column, Field, Session, SQLModel, Text, col, select

from app.db import UTCDateTime, utcnow
from app.postmortems.schemas import Finding, FindingWaiver


class CheckWaiver(SQLModel, table=True):
    """A finding the team chose to accept, with the reason, who and when."""

    __tablename__ = "check_waiver"
    __table_args__ = (Index("ix_check_waiver_finding", "postmortem_id", "rule", "path"),)

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    postmortem_id: UUID = Field(foreign_key="postmortem.id", ondelete="CASCADE")
    # The item the path named when the waiver was made, so the withdrawal is recorded on the
    # same item even if the items have moved since.
    action_item_id: UUID | None = Field(
        default=None, foreign_key="action_item.id", ondelete="SET NULL"
    )
    rule: str = Field(max_length=64)
    path: str = Field(max_length=300)
    fingerprint: str = Field(max_length=64)
    reason: str = Field(sa_column=Column(Text, nullable=False))
    created_by: str = Field(max_length=200)
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
    withdrawn_by: str | None = Field(default=None, max_length=200)
    withdrawn_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    # Set when the postmortem was published while this waiver applied to a finding.
    applied_at_publish: bool = Field(default=False)


# Finding paths use the API's names; the snapshot has its own for a few of them.
_SNAPSHOT_NAMES = {
    "action_items": "items",
    "timeline": "timeline_recorded_at",
    "decision_points": "decision_point_count",
}
_SEGMENT = re.compile(r"(?P<name>[A-Za-z_]\w*)(?P<indexes>(?:\[\d+\])*)")
_INDEX = re.compile(r"\[(\d+)\]")
_UNRESOLVED = object()
_ITEM_PATH = re.compile(r"^action_items\[(\d+)\]")


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, frozenset | set):
        return sorted(str(v) for v in value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def content_at(snapshot: object, path: str) -> Any:
    """What the snapshot holds at a finding's path (`action_items[0].title` -> that item's
    title, `conditions` -> every condition), or `_UNRESOLVED` when the path names nothing."""
    current: Any = snapshot
    for part in path.split("."):
        match = _SEGMENT.fullmatch(part)
        if match is None:
            return _UNRESOLVED
        name = match.group("name")
        if isinstance(current, dict):
            if name not in current:
                return _UNRESOLVED
            current = current[name]
        else:
            if not hasattr(current, name):
                name = _SNAPSHOT_NAMES.get(name, name)
            if not dataclasses.is_dataclass(current) or not hasattr(current, name):
                return _UNRESOLVED
            current = getattr(current, name)
        for index in (int(i) for i in _INDEX.findall(match.group("indexes"))):
            if not isinstance(current, list | tuple) or index >= len(current):
                return _UNRESOLVED
            current = current[index]
    return _plain(current)


def fingerprint(snapshot: object, rule: str, path: str, message: str | None) -> str:
    """A hash of the rule, the path and the content at the path. A path the snapshot cannot
    resolve falls back to the finding's message, so such a waiver lasts while the finding
    reads the same."""
    content = content_at(snapshot, path)
    if content is _UNRESOLVED:
        content = {"message": message}
    blob = json.dumps({"rule": rule, "path": path, "content": content}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def item_index(path: str) -> int | None:
    """The action item a path points into (`action_items[2].title` -> 2), if any."""
    match = _ITEM_PATH.match(path)
    return int(match.group(1)) if match else None


def active(session: Session, postmortem_id: UUID) -> list[CheckWaiver]:
    """The postmortem's waivers that have not been withdrawn, oldest first."""
    return list(
        session.exec(
            select(CheckWaiver)
            .where(
                CheckWaiver.postmortem_id == postmortem_id,
                col(CheckWaiver.withdrawn_at).is_(None),
            )
            .order_by(col(CheckWaiver.created_at), col(CheckWaiver.id))
        )
    )


def apply(
    session: Session,
    postmortem_id: UUID,
    findings: Sequence[Finding],
    snapshot: object,
) -> list[Finding]:
    """The findings with `waived` and `waiver` set where a waiver applies: same rule and path,
    and the content at the path still matches its fingerprint."""
    waivers = {(w.rule, w.path): w for w in active(session, postmortem_id)}
    if not waivers:
        return list(findings)
    result = []
    for finding in findings:
        waiver = waivers.get((finding.rule, finding.path))
        if waiver is not None and waiver.fingerprint == fingerprint(
            snapshot, finding.rule, finding.path, finding.message
        ):
            finding = finding.model_copy(
                update={
                    "waived": True,
                    "waiver": FindingWaiver(
                        id=waiver.id,
                        reason=waiver.reason,
                        by=waiver.created_by,
                        at=waiver.created_at,
                    ),
                }
            )
        result.append(finding)
    return result


def mark_applied_at_publish(session: Session, findings: Sequence[Finding]) -> None:
    """Remember which waivers applied when the postmortem was published (for the dashboard)."""
    ids = {f.waiver.id for f in findings if f.waiver is not None}
    for waiver_id in ids:
        waiver = session.get(CheckWaiver, waiver_id)
        if waiver is not None:
            waiver.applied_at_publish = True
            session.add(waiver)
