"""Who read a published postmortem, and whether anyone from outside its team did."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from sqlmodel import Session, col, select

from app.auth.service import Caller
from app.enums import PostmortemStatus
from app.errors import Conflict, InvalidInput, NotFound, field_error
from app.people.service import person_by_handle
from app.postmortems.models import Postmortem, PostmortemReader
from app.postmortems.schemas import OutsideRead, ReaderCreate


def record(
    session: Session, postmortem_id: UUID, data: ReaderCreate, caller: Caller
) -> tuple[PostmortemReader, bool]:
    """Record that someone read the published postmortem: the named person, else the calling
    token's name. A reader counts once and a second read keeps the first time. Returns the
    record and whether it is new."""
    # The lock makes two reads of one postmortem at once wait for each other, so the second
    # finds the first instead of failing on the primary key.
    postmortem = session.get(Postmortem, postmortem_id, with_for_update=True)
    if postmortem is None:
        raise NotFound(f"No postmortem with id {postmortem_id}")
    if postmortem.status not in (PostmortemStatus.PUBLISHED, PostmortemStatus.COMPLETE):
        raise Conflict(
            f"This postmortem is {postmortem.status}; reads are recorded once it is published"
        )
    if data.reader is not None:
        person = person_by_handle(session, data.reader)
        if person is None:
            raise InvalidInput(
                f"Unknown person {data.reader!r}",
                errors=[field_error("body.reader", f"no person with handle {data.reader!r}")],
            )
        name = person.handle
    else:
        person = person_by_handle(session, caller.name)
        name = caller.name
    existing = session.get(PostmortemReader, (postmortem.id, name))
    if existing is not None:
        return existing, False
    # Judged now: a reader who later moves team still read it from where they were.
    outside = (
        None
        if person is None or postmortem.team_id is None
        else person.team_id != postmortem.team_id
    )
    reader = PostmortemReader(postmortem_id=postmortem.id, reader=name, outside_team=outside)
    session.add(reader)
    session.flush()
    return reader, True


def of_postmortems(
    session: Session, postmortem_ids: Sequence[UUID]
) -> dict[UUID, tuple[int, list[OutsideRead]]]:
    """For each postmortem: how many read it, and who from outside its team, first read first."""
    counts: dict[UUID, int] = {i: 0 for i in postmortem_ids}
    outside: dict[UUID, list[OutsideRead]] = {i: [] for i in postmortem_ids}
    if postmortem_ids:
        for row in session.exec(
            select(PostmortemReader)
            .where(col(PostmortemReader.postmortem_id).in_(list(postmortem_ids)))
            .order_by(col(PostmortemReader.read_at), col(PostmortemReader.reader))
        ):
            counts[row.postmortem_id] += 1
            if row.outside_team:
                outside[row.postmortem_id].append(
                    OutsideRead(reader=row.reader, read_at=row.read_at)
                )
    return {i: (counts[i], outside[i]) for i in postmortem_ids}
