"""The fault run's verdict: every item against the tickets in the fakes, found by the marker each
ticket carries (so a second ticket for an item cannot hide), and the deliveries against what
the service recorded."""

from __future__ import annotations

import collections
import re
import time
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Engine

from bench.create_faults import MARGIN, TIMEOUT, CreateCall
from bench.fault_state import TRACKERS, VERIFIED, Run
from connectors.jira.mapping import DEFAULT_WONT_DO_RESOLUTIONS, marker_label

# A delivery's detail is "<key>: <outcome>" per event, joined by "; ".
OUTCOME_SPLIT = re.compile(r"; (?=(?:acme/api#\d+|[A-Z]+-\d+): )")
GITHUB_MARKER = re.compile(r"<!-- followthrough:action-item=(\S+) -->")
# Problems printed at most (each with its explanation); the count of the rest follows.
PROBLEM_LINES = 200


@dataclass
class Ticket:
    tracker: str
    key: str
    done: bool
    wont_do: bool
    duplicate: bool
    labels: list[str]

    def expected(self) -> set[str]:
        if self.wont_do:
            return {"wont_do"}
        if self.done:
            return {"verified"} if VERIFIED in self.labels else {"closed"}
        return {"open", "reopened"}


def tickets_by_marker(run: Run, markers: dict[str, str]) -> dict[str, list[Ticket]]:
    """Every ticket in the fakes, under the marker it carries (see each connector's marker)."""
    found: dict[str, list[Ticket]] = collections.defaultdict(list)
    by_jira_label = {marker_label(m): m for m in markers.values()}
    wont = {r.lower() for r in DEFAULT_WONT_DO_RESOLUTIONS}
    github, jira, linear = (run.fakes[k] for k in TRACKERS)
    with github.lock:
        for (repo, number), issue in github.issues.items():
            match = GITHUB_MARKER.search(issue.get("body") or "")
            reason, closed = issue["state_reason"], issue["state"] == "closed"
            found[match.group(1) if match else "-"].append(
                Ticket(
                    "github",
                    f"{repo}#{number}",
                    closed and reason == "completed",
                    closed and reason == "not_planned",
                    closed and reason == "duplicate",
                    [x["name"] for x in issue["labels"]],
                )
            )
    with jira.lock:
        for key, issue in jira.issues.items():
            fields = issue["fields"]
            done = fields["status"]["statusCategory"]["key"] == "done"
            resolution = ((fields["resolution"] or {}).get("name") or "").lower()
            marker = next((by_jira_label[x] for x in fields["labels"] if x in by_jira_label), "-")
            found[marker].append(
                Ticket(
                    "jira",
                    key,
                    done and resolution not in wont,
                    done and resolution in wont and resolution != "duplicate",
                    done and resolution == "duplicate",
                    list(fields["labels"]),
                )
            )
    with linear.lock:
        for issue_id, issue in linear.issues.items():
            kind = issue["state"]["type"]
            found[issue_id].append(
                Ticket(
                    "linear",
                    issue["identifier"],
                    kind == "completed",
                    kind == "canceled",
                    kind == "duplicate",
                    [x["name"] for x in issue["labels"]["nodes"]],
                )
            )
    return found


def history_of(run: Run, item_id: str) -> list[str]:
    history = run.api.client().get(f"/v1/action-items/{item_id}/history").json()
    return [
        f"    {e['kind']}: {e.get('from_status')} -> {e.get('to_status')} "
        f"[{e['source']} {e['actor']}] {e.get('note') or ''}"
        for e in history["events"]
    ]


def creates_of(run: Run, marker: str) -> list[str]:
    """The create calls that carried the marker, with their fault and timing (s from start)."""
    return [
        f"    create sent at {c.received:.2f} s, fault {c.fault}, landed {c.landed:.2f} s "
        f"({c.landed - c.received:.2f} s later), answered with {c.status or 'nothing (dropped)'}"
        for c in calls_of(run, marker)
    ]


def calls_of(run: Run, marker: str) -> list[CreateCall]:
    needles = (marker.encode(), marker_label(marker).encode())
    return [c for c in run.calls if marker and any(n in c.body for n in needles)]


def landed_late(run: Run, marker: str) -> bool:
    """A create that landed after the client's timeout plus the margin: the service may then
    create again (its declared rule; reconciliation's duplicate sweep is the net), so such a
    duplicate says the fake stalled, not that the promise broke."""
    calls = sorted(calls_of(run, marker), key=lambda c: c.received)
    return any(c.landed - c.received > TIMEOUT + MARGIN for c in calls[:-1])


def deliveries_of(engine: Engine, key: str) -> list[str]:
    """The ticket's applied deliveries: when they came, which worker applied them, and how."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT d.delivery_id, d.received_at, d.processed_at, j.lease_owner, d.detail "
                "FROM webhook_delivery d JOIN job j ON j.delivery_id = d.id "
                "WHERE d.detail LIKE :key ORDER BY d.received_at"
            ),
            {"key": f"{key}:%"},
        ).all()
    return [
        f"    delivery {r[0][:8]} received {r[1]}, applied {r[2]} by worker {r[3]}: {r[4]}"
        for r in rows
    ]


def check(run: Run, items: list[dict[str, Any]]) -> dict[str, collections.Counter[str]]:
    """Per tracker: items, tickets, duplicates, lost, disagreeing, orphans, and the deliveries
    sent, answered and recorded; prints each problem with what explains it."""
    with run.engine.connect() as conn:
        markers = {
            str(k): str(v)
            for k, v in conn.execute(
                text("SELECT CAST(action_item_id AS TEXT), marker FROM ticket_link")
            )
        }
        applied = collections.Counter[str]()
        recorded = collections.Counter[str]()
        outcomes = collections.Counter[str]()
        for integration_id, outcome, detail in conn.execute(
            text("SELECT CAST(integration_id AS TEXT), outcome, detail FROM webhook_delivery")
        ):
            recorded[uuid.UUID(str(integration_id)).hex] += 1
            if outcome != "applied":
                continue
            applied[uuid.UUID(str(integration_id)).hex] += 1
            for part in OUTCOME_SPLIT.split(str(detail or "")):
                outcomes[part.split(": ", 1)[-1]] += 1
    markers = {uuid.UUID(k).hex: v for k, v in markers.items()}
    known = set(markers.values())
    found = tickets_by_marker(run, markers)
    counts = {t: collections.Counter[str]() for t in TRACKERS}
    problems: list[str] = []
    for item in items:
        tally = counts[item["tracker"]]
        tally["items"] += 1
        marker = markers.get(uuid.UUID(item["id"]).hex)
        tickets = [t for t in found.get(marker or "", []) if not t.duplicate]
        tally["tickets"] += len(tickets)
        tally[f"items with {len(tickets)} tickets"] += 1
        linked = next((t for t in tickets if t.key == item["ticket_key"]), None)
        name, reversed_order = run.scenario.get(item["id"], ("untouched", False))
        order = ", reversed" if reversed_order else ""
        where = f"{item['tracker']} {item['ticket_key']} ({name}{order})"
        if len(tickets) > 1 and landed_late(run, marker or ""):
            tally["late duplicates"] += 1
            problems.append(f"duplicate after a create landed too late: {where}")
            problems += creates_of(run, marker or "")
        elif len(tickets) > 1:
            tally["duplicates"] += 1
            problems.append(f"duplicate: {where}: {[t.key for t in tickets]}")
            problems += creates_of(run, marker or "")
            problems += history_of(run, item["id"])
        if linked is None:
            tally["lost"] += 1
            problems.append(
                f"lost: {where}: sync {item['sync_state']}, "
                f"marker tickets {[t.key for t in tickets]}"
            )
        elif item["status"] not in linked.expected():
            tally["disagreeing"] += 1
            problems.append(
                f"disagreeing: {where}: ticket says {sorted(linked.expected())}, "
                f"item is {item['status']}"
            )
            problems += deliveries_of(run.engine, item["ticket_key"])
            problems += history_of(run, item["id"])
    for kind in TRACKERS:
        counts[kind]["orphans"] = sum(
            1 for m, ts in found.items() if m not in known for t in ts if t.tracker == kind
        )
        answers = run.answers[kind]
        counts[kind].update({f"answer {a}": n for a, n in answers.items()})
        counts[kind]["sent"] = len(run.sent[kind])
        counts[kind]["requests"] = sum(answers.values())
        counts[kind]["5xx"] = sum(n for a, n in answers.items() if a.startswith("http 5"))
        counts[kind]["no answer"] = sum(n for a, n in answers.items() if a.startswith("no answer"))
        counts[kind]["recorded"] = recorded[uuid.UUID(run.integrations[kind]).hex]
        counts[kind]["applied"] = applied[uuid.UUID(run.integrations[kind]).hex]
    print("what the applied deliveries did:", dict(outcomes.most_common()))
    statuses = collections.Counter(f"{i['tracker']} {i['status']}" for i in items)
    print("item statuses:", dict(sorted(statuses.items())))
    for line in problems[:PROBLEM_LINES]:
        print(line)
    if len(problems) > PROBLEM_LINES:
        print(f"... and {len(problems) - PROBLEM_LINES} more lines")
    return counts


def report(
    counts: dict[str, collections.Counter[str]],
    run: Run,
    started: float,
    converged_after: tuple[float, float] | None,
) -> None:
    """The table per tracker, then the run's figures; `converged_after` is (seconds from the
    first publish, seconds after the last blow or delivery), None when it did not converge."""
    # (counter, heading): tickets first, then the webhook deliveries.
    table = [
        ("items", "items"),
        ("tickets", "tickets"),
        ("duplicates", "duplicates"),
        ("late duplicates", "late-dups"),
        ("lost", "lost"),
        ("disagreeing", "disagreeing"),
        ("orphans", "orphans"),
        ("sent", "sent"),
        ("requests", "requests"),
        ("5xx", "5xx"),
        ("answer duplicate", "repeat"),
        ("recorded", "recorded"),
        ("applied", "applied"),
    ]
    columns = [c for c, _ in table]
    heads = ["tracker", *(h for _, h in table)]
    total = sum(counts.values(), collections.Counter[str]())
    rows = [[k, *(str(counts[k][c]) for c in columns)] for k in TRACKERS]
    rows.append(["total", *(str(total[c]) for c in columns)])
    widths = [max(len(r[n]) for r in [heads, *rows]) for n in range(len(heads))]
    for row in [heads, *rows]:
        print("  ".join(cell.rjust(w) for cell, w in zip(row, widths, strict=True)))
    known = ("accepted", "duplicate")
    odd = {a for k in TRACKERS for a in run.answers[k] if a not in known}
    if odd:
        print("other webhook answers:", {a: total[f"answer {a}"] for a in sorted(odd)})
    violations = [v for f in run.fakes.values() for v in f.violations]
    if violations:
        print(f"contract violations in the fakes: {len(violations)}; first: {violations[0]}")
    per_item = {int(k.split()[2]): n for k, n in total.items() if k.startswith("items with ")}
    print(f"items: {total['items']}")
    print(f"tickets per item (by marker): {dict(sorted(per_item.items()))}")
    print(
        f"duplicates: {total['duplicates']} (late-landing, not counted: "
        f"{total['late duplicates']}); lost: {total['lost']}; "
        f"state differs from the ticket: {total['disagreeing']}"
    )
    print(f"deliveries sent: {total['sent']}, recorded: {total['recorded']}")
    print(
        f"5xx answered: {total['5xx']} of {total['requests']} webhook requests "
        f"(and {total['no answer']} closed without an answer); each was delivered again"
    )
    if converged_after is None:
        print("time to converge: not converged")
    else:
        print(
            f"time to converge: {converged_after[0]:.1f} s from the first publish to every item "
            f"synced and every delivery applied, {converged_after[1]:.1f} s after the last "
            "worker kill, database restart or delivery"
        )
    print(f"wall time: {time.monotonic() - started:.1f} s", flush=True)
