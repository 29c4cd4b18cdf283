"""A small, hand-countable history for the wall page, seen on Wednesday 2026-11-18 12:00 UTC.

Q4 2026 (the wall's quarter) holds PM1 (payments), PM2 (search) and PM4 (no team); PM3
(payments) is from Q3, so its unfinished item is carried over. The expected figures that the
tests assert are worked out by hand beside each test, from the rows here.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from uuid import UUID

from sqlalchemy.engine import Engine

from app.action_items.models import ActionItem
from app.db import session_scope
from app.integrations.models import Integration
from app.people.models import Person, Team
from app.postmortems.models import Postmortem
from app.tickets.models import TicketLink

NOW = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def seed(engine: Engine) -> dict[str, UUID]:
    """Postmortems PM1 to PM4 and items A to I (D is not committed); returns the items' ids."""
    ids: dict[str, UUID] = {}
    with session_scope(engine) as s:
        payments = Team(slug="payments", name="Payments")
        search = Team(slug="search", name="Search")
        alice = Person(handle="alice", display_name="Alice")
        bob = Person(handle="bob", display_name="Bob")
        jira = Integration(kind="jira", name="jira", credentials_sealed="x", default_project="OPS")
        s.add_all([payments, search, alice, bob, jira])
        s.flush()

        def postmortem(ref: str, team: Team | None, started: str) -> Postmortem:
            pm = Postmortem(
                title=f"{ref} incident",
                incident_ref=ref,
                severity="SEV2",
                status="published",
                team_id=team.id if team else None,
                started_at=at(started),
                resolved_at=at(started),
            )
            s.add(pm)
            s.flush()
            return pm

        def item(
            name: str,
            pm: Postmortem,
            title: str,
            status: str,
            created: str,
            *,
            closed: str | None = None,
            verified: str | None = None,
            due: date | None = None,
            owner: Person = alice,
            committed: bool = True,
        ) -> ActionItem:
            row = ActionItem(
                title=title,
                postmortem_id=pm.id,
                incident_started_at=pm.started_at,
                status=status,
                committed=committed,
                owner_person_id=owner.id,
                created_at=at(created),
                due_date=due,
                closed_at=at(closed) if closed else None,
                verified_at=at(verified) if verified else None,
            )
            s.add(row)
            s.flush()
            ids[name] = row.id
            return row

        pm1 = postmortem("PM1", payments, "2026-10-05T09:00")
        item(
            "A",
            pm1,
            "Gate config pushes on the canary",
            "open",
            "2026-10-06T00:00",
            due=date(2026, 10, 20),
        )
        item(
            "B",
            pm1,
            "Alert on pool exhaustion",
            "closed",
            "2026-10-06T00:00",
            closed="2026-10-28T00:00",
        )
        item(
            "C",
            pm1,
            "Runbook for pool resizing",
            "verified",
            "2026-10-06T00:00",
            closed="2026-10-10T00:00",
            verified="2026-10-12T00:00",
        )
        item("D", pm1, "Remain aware: vendor SLA", "draft", "2026-10-06T00:00", committed=False)

        pm2 = postmortem("PM2", search, "2026-11-02T09:00")
        item(
            "E",
            pm2,
            "Cap index rebuild concurrency",
            "open",
            "2026-11-03T00:00",
            due=date(2026, 12, 1),
            owner=bob,
        )
        item(
            "F",
            pm2,
            "Move search to the new cluster",
            "wont_do",
            "2026-11-03T00:00",
            closed="2026-11-05T00:00",
            owner=bob,
        )

        pm3 = postmortem("PM3", payments, "2026-08-10T09:00")
        oldest = item(
            "G",
            pm3,
            "Retry budget for the card processor",
            "reopened",
            "2026-08-11T00:00",
            due=date(2026, 8, 25),
        )
        item(
            "H",
            pm3,
            "Timeouts on the ledger client",
            "closed",
            "2026-08-11T00:00",
            closed="2026-09-15T00:00",
        )

        pm4 = postmortem("PM4", None, "2026-10-20T09:00")
        item("I", pm4, "Page the owning team from the status page", "open", "2026-10-21T00:00")

        s.add(
            TicketLink(
                action_item_id=oldest.id,
                integration_id=jira.id,
                project="OPS",
                marker="m-g",
                external_key="OPS-41",
                url="https://jira.example/browse/OPS-41",
            )
        )
    return ids
