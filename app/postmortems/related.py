"""Earlier postmortems like this one, so a new review starts from the back catalogue.

Shared services and tags count most; then text: the significant words of this postmortem's
title and summary, searched with the database's full-text index (SQLite FTS5, PostgreSQL
tsvector with a GIN index, both made by migration 0008)."""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import datetime
from uuid import UUID

from pydantic import BaseModel
from sqlalchemy import text
from sqlmodel import Session, col, select

from app.auth import boundary
from app.auth.service import Caller
from app.postmortems.models import Postmortem, PostmortemService, PostmortemTag

STOPWORDS = frozenset(
    [
        "about",
        "after",
        "again",
        "also",
        "because",
        "been",
        "before",
        "being",
        "between",
        "both",
        "could",
        "during",
        "each",
        "from",
        "have",
        "into",
        "more",
        "most",
        "other",
        "over",
        "same",
        "some",
        "such",
        "than",
        "that",
        "their",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "through",
        "under",
        "until",
        "very",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "with",
        "would",
        "your",
    ]
)
# The same expression as the GIN index of migration 0008, so the index serves the search.
PG_SEARCH = (
    "SELECT id FROM postmortem "
    "WHERE to_tsvector('english', title || ' ' || summary || ' ' || user_impact) "
    "@@ to_tsquery('english', :query) AND id = ANY(:ids)"
)


class Related(BaseModel):
    id: UUID
    title: str
    incident_ref: str
    started_at: datetime
    status: str
    score: float
    shared_services: list[str]
    shared_tags: list[str]
    text_match: bool


class RelatedList(BaseModel):
    postmortem_id: UUID
    items: list[Related]


def _words(*texts: str) -> list[str]:
    words = re.findall(r"[a-z0-9]{4,}", " ".join(texts).lower())
    return list(dict.fromkeys(w for w in words if w not in STOPWORDS))[:16]


def _shared(
    session: Session,
    table: type[PostmortemService] | type[PostmortemTag],
    postmortem_id: UUID,
    earlier: list[UUID],
) -> dict[UUID, list[str]]:
    mine = select(table.name).where(table.postmortem_id == postmortem_id)
    shared: dict[UUID, list[str]] = defaultdict(list)
    for pm_id, name in session.exec(
        select(table.postmortem_id, table.name).where(
            col(table.name).in_(mine), col(table.postmortem_id).in_(earlier)
        )
    ):
        shared[pm_id].append(name)
    return shared


def _text_matches(session: Session, words: list[str], earlier: list[UUID]) -> set[UUID]:
    if not words or not earlier:
        return set()
    if session.get_bind().dialect.name == "postgresql":
        rows = session.execute(
            text(PG_SEARCH),
            {"query": " | ".join(words), "ids": earlier},
        )
        return {row[0] for row in rows}
    rows = session.execute(
        text("SELECT postmortem_id FROM postmortem_fts WHERE postmortem_fts MATCH :query"),
        {"query": " OR ".join(words)},
    )
    wanted = {pm_id.hex: pm_id for pm_id in earlier}
    return {wanted[row[0]] for row in rows if row[0] in wanted}


def find(
    session: Session, postmortem: Postmortem, limit: int = 10, caller: Caller | None = None
) -> RelatedList:
    """Earlier postmortems the caller may see, scored by shared services, tags and words."""
    earlier_rows = session.exec(
        select(Postmortem).where(
            col(Postmortem.started_at) < postmortem.started_at,
            col(Postmortem.id) != postmortem.id,
            boundary.postmortems_where(caller),
        )
    ).all()
    earlier = {pm.id: pm for pm in earlier_rows}
    ids = list(earlier)
    services = _shared(session, PostmortemService, postmortem.id, ids) if ids else {}
    tags = _shared(session, PostmortemTag, postmortem.id, ids) if ids else {}
    texts = _text_matches(session, _words(postmortem.title, postmortem.summary), ids)
    scored = []
    for pm_id in set(services) | set(tags) | texts:
        score = (
            3 * len(services.get(pm_id, []))
            + 2 * len(tags.get(pm_id, []))
            + (1 if pm_id in texts else 0)
        )
        pm = earlier[pm_id]
        scored.append(
            Related(
                id=pm.id,
                title=pm.title,
                incident_ref=pm.incident_ref,
                started_at=pm.started_at,
                status=pm.status,
                score=score,
                shared_services=sorted(services.get(pm_id, [])),
                shared_tags=sorted(tags.get(pm_id, [])),
                text_match=pm_id in texts,
            )
        )
    scored.sort(key=lambda r: (-r.score, -r.started_at.timestamp()))
    return RelatedList(postmortem_id=postmortem.id, items=scored[:limit])
