"""A fault run for the one-ticket, one-state promise, on loopback only.

Publishes action items to the three fake trackers while their create calls are slowed past the
client timeout, answered 500 or 429, or answered not at all after the ticket was made, with two
worker processes of which one is killed (SIGKILL) now and then. Then, with reconciliation off,
people change a random subset of the tickets (close as done, close as won't do, reopen after a
close, add the verification label) and each change's webhook delivery is sent twice, pairs of
events on one ticket in reversed order for half of them. Finally every item is compared with the
fakes: one ticket per item, none lost, and the item's status what its ticket says.

    .venv/bin/python -m bench.fault_run [--items 60] [--seed 1] [--quick]
    .venv/bin/python -m bench.fault_run --database-url postgresql://postgres@127.0.0.1:5432/postgres

With a PostgreSQL URL a throwaway database is created on that server and dropped at the end.
Exits 1 when an item has two tickets, none, or a status its ticket disagrees with. A second
ticket made after the first create landed later than the client timeout plus the margin (the
fake stalled past the window the service waits out) is counted apart, as late-dups, and does not
fail the run; each problem is printed with its create calls, deliveries and item history.
"""

from __future__ import annotations

import argparse
import collections
import copy
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import Engine

from app import migrate
from app.auth import service as auth_service
from app.db import session_scope
from app.enums import Scope
from app.main import create_app
from app.settings import EgressSettings, Settings, SyncPolicy
from connectors.jira.mapping import DEFAULT_WONT_DO_RESOLUTIONS, marker_label
from tests.e2e.sync_support import kill, start_worker_process, stop
from tests.e2e.webhook_support import SECRET, send_github, send_jira, send_linear
from tests.factories import action_item_body, make_person, make_postmortem, make_team
from tests.fake_trackers.contracts import CONTRACTS, load_json
from tests.fake_trackers.github import TOKEN, FakeGitHub
from tests.fake_trackers.jira import API_TOKEN, FakeJira
from tests.fake_trackers.linear import API_KEY, TEAM_ID, FakeLinear, issue_update_payload
from tests.fake_trackers.server import Fault, Request

TRACKERS = ("github", "jira", "linear")
TEAMS = {"github": "payments", "jira": "search", "linear": "storage"}
REPO = "acme/api"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
TIMEOUT, MARGIN = 1.0, 1.0
OPTIONS = {"seconds_between_writes": 0, "seconds_between_requests": 0, "timeout_seconds": TIMEOUT}
VERIFIED = "verified"
# Where each tracker's create call goes (Linear: every call is POST /graphql).
CREATE_CALLS = {
    "github": (f"/repos/{REPO}/issues", b""),
    "jira": ("/rest/api/3/issue", b""),
    "linear": ("/graphql", b"issueCreate"),
}
ERROR_BODIES = {
    "github": {"message": "Server Error"},
    "jira": {"errorMessages": ["Internal server error"], "errors": {}},
    "linear": {"errors": [{"message": "Internal server error"}]},
}
RATE_BODIES = {
    "github": {"message": "API rate limit exceeded"},
    "jira": {"errorMessages": ["Rate limit exceeded."], "errors": {}},
    "linear": {
        "errors": [{"message": "Rate limit exceeded", "extensions": {"code": "RATELIMITED"}}]
    },
}
# A person's changes; pairs are two events on one ticket.
SCENARIOS = {
    "done": ("done",),
    "wont_do": ("wont_do",),
    "close_reopen": ("done", "reopen"),
    "label_close": ("label", "done"),
    "close_label": ("done", "label"),
}
# A delivery's detail is "<key>: <outcome>" per event, joined by "; ".
OUTCOME_SPLIT = re.compile(r"; (?=(?:acme/api#\d+|[A-Z]+-\d+): )")
GITHUB_MARKER = re.compile(r"<!-- followthrough:action-item=(\S+) -->")


@dataclass
class CreateFault(Fault):
    """A fault for the create call only, so label lookups and searches pass; kind "pass" lets
    one create through untouched (a slot in the seeded schedule)."""

    exact_path: str = ""
    body_has: bytes = b""

    def matches(self, request: Request) -> bool:
        return (
            request.method == "POST"
            and request.path == self.exact_path
            and self.body_has in request.body
        )


@dataclass
class Delivery:
    tracker: str
    key: str
    action: str
    send: Callable[[TestClient], Any]


@dataclass
class Run:
    rng: random.Random
    client: TestClient
    engine: Engine
    settings: Settings
    fakes: dict[str, Any]
    calls: list[CreateCall]
    integrations: dict[str, str] = field(default_factory=dict)
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    logs: collections.deque[str] = field(default_factory=lambda: collections.deque(maxlen=40))
    kills: int = 0
    injected: collections.Counter[str] = field(default_factory=collections.Counter)
    answers: dict[str, collections.Counter[str]] = field(
        default_factory=lambda: {t: collections.Counter() for t in TRACKERS}
    )
    scenario: dict[str, tuple[str, bool]] = field(default_factory=dict)


# -- set-up -------------------------------------------------------------------------------------


def admin_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.hostname not in LOOPBACK:
        sys.exit(f"--database-url must point at a loopback address, not {parts.hostname}")
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def create_pg(admin: str) -> tuple[str, str]:
    name = f"followthrough_fault_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = admin.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    return name, f"{base}/{name}"


def drop_pg(admin: str, name: str) -> None:
    with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def connect(run: Run) -> None:
    client = run.client
    for team in TEAMS.values():
        make_team(client, team)
    make_person(
        client,
        "alice",
        display_name="Alice Moreau",
        tracker_accounts={"github": "alice-gh", "jira": "557058:alice", "linear": "user-alice"},
    )
    specs = {
        "github": ({"token": TOKEN}, REPO),
        "jira": ({"email": "bot@example.com", "api_token": API_TOKEN}, "OPS"),
        "linear": ({"api_key": API_KEY}, TEAM_ID),
    }
    for kind, (credentials, project) in specs.items():
        response = client.post(
            "/v1/integrations",
            json={
                "kind": kind,
                "name": f"{kind}-fake",
                "base_url": run.fakes[kind].base_url,
                "credentials": credentials,
                "default_project": project,
                "labels": ["postmortem"],
                "options": OPTIONS,
                "routes": [{"team": TEAMS[kind]}],
                "webhook_secret": SECRET,
            },
        )
        assert response.status_code == 201, response.text
        run.integrations[kind] = response.json()["id"]


def publish(run: Run, count: int) -> dict[str, str]:
    """`count` committed items, three to a postmortem, teams in turn; returns item id -> tracker."""
    tracker_of: dict[str, str] = {}
    made = 0
    while made < count:
        kind = TRACKERS[(made // 3) % 3]
        size = min(3, count - made)
        items = [
            action_item_body(title=f"Gate deploys on canary error rate, part {made + n}")
            for n in range(size)
        ]
        pm = make_postmortem(run.client, team=TEAMS[kind], action_items=items)
        response = run.client.post(f"/v1/postmortems/{pm['id']}/publish")
        assert response.status_code == 200, response.text
        listed = run.client.get("/v1/action-items", params={"postmortem": pm["id"]}).json()
        tracker_of.update({i["id"]: kind for i in listed["items"]})
        made += size
    return tracker_of


def fault_name(fault: Fault) -> str:
    return str(fault.status) if fault.kind == "status" else fault.kind


def fault_schedule(run: Run, kind: str, creates: int) -> None:
    """One fault for about every second create, in a seeded order among untouched creates."""
    path, body_has = CREATE_CALLS[kind]
    faults = []
    for n in range(max(4, creates // 2)):
        which = ("slow", "drop", "500", "429")[n % 4]
        run.injected[which] += 1
        if which == "slow":
            # Answered after the client gave up, landing before timeout + margin has passed.
            delay = run.rng.uniform(TIMEOUT + 0.2, TIMEOUT + MARGIN - 0.3)
            fault = CreateFault("slow", delay=delay, exact_path=path, body_has=body_has)
        elif which == "drop":
            fault = CreateFault("drop", exact_path=path, body_has=body_has)
        elif which == "500":
            fault = CreateFault(
                "status", status=500, body=ERROR_BODIES[kind], exact_path=path, body_has=body_has
            )
        else:
            fault = CreateFault(
                "status",
                status=429,
                headers={"Retry-After": "1"},
                body=RATE_BODIES[kind],
                exact_path=path,
                body_has=body_has,
            )
        faults.append(fault)
    faults += [CreateFault("pass", exact_path=path, body_has=body_has) for _ in range(creates)]
    run.rng.shuffle(faults)
    for fault in faults:
        run.fakes[kind].inject(fault)


# -- workers ------------------------------------------------------------------------------------


def start_worker(run: Run) -> None:
    process = start_worker_process(
        run.settings,
        FOLLOWTHROUGH_SYNC__RECONCILE_INTERVAL_SECONDS="0",
        FOLLOWTHROUGH_SYNC__RESEND_WINDOW_SECONDS="0",
        FOLLOWTHROUGH_SYNC__RESEND_MARGIN_SECONDS=str(MARGIN),
        # Longer than one create call can take (timeout 1 s, a look-up first), so a live
        # worker's job is not taken over; a killed worker's job is, after this.
        FOLLOWTHROUGH_SYNC__LEASE_SECONDS="4",
        # The faults alone must not park a job: parking is not what this run measures.
        FOLLOWTHROUGH_SYNC__MAX_ATTEMPTS="30",
    )
    stderr = process.stderr
    assert stderr is not None

    def drain() -> None:
        # The pipe must be read, or a chatty worker blocks on a full buffer.
        for line in iter(stderr.readline, b""):
            run.logs.append(f"[{process.pid}] {line.decode(errors='replace').rstrip()}")

    threading.Thread(target=drain, daemon=True).start()
    run.workers.append(process)


def all_items(run: Run, tracker_of: dict[str, str]) -> list[dict[str, Any]]:
    found, cursor = [], None
    for _ in range(100):
        params: dict[str, Any] = {"limit": 200, **({"cursor": cursor} if cursor else {})}
        page = run.client.get("/v1/action-items", params=params).json()
        found += [{**i, "tracker": tracker_of[i["id"]]} for i in page["items"]]
        cursor = page.get("next_cursor")
        if not cursor:
            break
    return found


@dataclass
class CreateCall:
    tracker: str
    received: float
    landed: float
    answered: float
    fault: str
    status: int | None
    body: bytes


def instrument(kind: str, fake: Any, calls: list[CreateCall], started: float) -> None:
    """Log every create call (when it came, its fault, when it was answered), and keep the
    tracebacks of answers that found the client gone out of the output."""
    server = fake._httpd
    original_error, dispatch, take = server.handle_error, fake._dispatch, fake._take_fault
    handle = fake.handle
    path, body_has = CREATE_CALLS[kind]

    def handle_error(request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            original_error(request, client_address)

    def take_fault(request: Request) -> Fault | None:
        fault = take(request)
        if fault is not None and fault.kind == "slow":
            # The delay counts from the request's arrival, not from the end of its checks.
            fault.delay = max(0.0, fault.delay - (time.monotonic() - started - received(request)))
        request.fault = fault  # type: ignore[attr-defined]
        return fault

    def landing(request: Request) -> Any:
        request.landed = time.monotonic() - started  # type: ignore[attr-defined]
        return handle(request)

    def received(request: Request) -> float:
        return float(request.received)  # type: ignore[attr-defined]

    def logged(request: Request) -> tuple[Any, bool]:
        request.received = time.monotonic() - started  # type: ignore[attr-defined]
        reply, dropped = dispatch(request)
        if request.method == "POST" and request.path == path and body_has in request.body:
            fault = getattr(request, "fault", None)
            calls.append(
                CreateCall(
                    kind,
                    received(request),
                    getattr(request, "landed", received(request)),
                    time.monotonic() - started,
                    fault_name(fault) if fault else "pass",
                    None if dropped else reply.status,
                    request.body,
                )
            )
        return reply, dropped

    server.handle_error = handle_error
    fake._take_fault, fake._dispatch, fake.handle = take_fault, logged, landing


def scalar(engine: Engine, sql: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(sql)).scalar() or 0)


def create_phase(run: Run, count: int, kills: int, deadline: float) -> bool:
    for _ in range(2):
        start_worker(run)
    next_kill = time.monotonic() + run.rng.uniform(0.5, 2.5)
    while time.monotonic() < deadline:
        synced = scalar(run.engine, "SELECT count(*) FROM action_item WHERE sync_state = 'synced'")
        if synced >= count:
            return True
        if run.kills < kills and time.monotonic() >= next_kill:
            victim = run.workers.pop(run.rng.randrange(len(run.workers)))
            kill(victim)
            run.kills += 1
            start_worker(run)
            next_kill = time.monotonic() + run.rng.uniform(0.5, 2.5)
        time.sleep(0.05)
    return False


# -- people changing tickets, and the deliveries that say so ------------------------------------


def github_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def jira_now() -> str:
    moment = datetime.now(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def change_github(run: Run, key: str, action: str) -> Delivery:
    fake: FakeGitHub = run.fakes["github"]
    number = int(key.rsplit("#", 1)[1])
    label = None
    with fake.lock:
        if action == "done":
            fake.close(REPO, number, "completed")
        elif action == "wont_do":
            fake.close(REPO, number, "not_planned")
        elif action == "reopen":
            fake.reopen(REPO, number)
        else:
            issue = fake.issue(REPO, number)
            label = {
                "id": 4242,
                "node_id": "LA_verified",
                "url": f"{fake.base_url}/repos/{REPO}/labels/{VERIFIED}",
                "name": VERIFIED,
                "color": "0e8a16",
                "default": False,
                "description": None,
            }
            issue["labels"].append(label)
            issue["updated_at"] = github_now()
        after = copy.deepcopy(fake.issue(REPO, number))
    name = {"done": "closed", "wont_do": "closed", "reopen": "reopened", "label": "labeled"}[action]
    payload = copy.deepcopy(load_json(f"github/webhooks/issues/{name}.payload.json"))
    payload["repository"]["full_name"] = REPO
    payload["issue"].update(
        {k: after[k] for k in ("number", "state", "state_reason", "labels", "updated_at")},
        closed_at=after["closed_at"],
    )
    if label is not None:
        payload["label"] = label
    delivery = str(uuid.uuid4())
    integration = run.integrations["github"]
    return Delivery(
        "github",
        key,
        action,
        lambda c: send_github(c, integration, "issues", payload, delivery),
    )


def jira_ms(stamp: str) -> int:
    return int(datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%f%z").timestamp() * 1000)


def change_jira(run: Run, key: str, action: str) -> Delivery:
    fake: FakeJira = run.fakes["jira"]
    with fake.lock:
        before = copy.deepcopy(fake.issue(key)["fields"])
        if action == "done":
            fake.transition(key, "Done", "done", "Done")
        elif action == "wont_do":
            fake.transition(key, "Done", "done", "Won't Do")
        elif action == "reopen":
            fake.transition(key, "To Do", "new", None)
        else:
            fields = fake.issue(key)["fields"]
            fields["labels"] = [*fields["labels"], VERIFIED]
            fields["updated"] = jira_now()
        issue = copy.deepcopy(fake.issue(key))
    after = issue["fields"]
    if action == "label":
        payload = copy.deepcopy(load_json("jira/webhooks/jira_issue_updated.edited.json"))
        items = [
            {
                "field": "labels",
                "fieldtype": "jira",
                "fieldId": "labels",
                "from": None,
                "fromString": " ".join(before["labels"]),
                "to": None,
                "toString": " ".join(after["labels"]),
            }
        ]
    else:
        name = "reopened" if action == "reopen" else "status_to_done"
        payload = copy.deepcopy(load_json(f"jira/webhooks/jira_issue_updated.{name}.json"))
        was, now = before["resolution"] or {}, after["resolution"] or {}
        items = [
            {
                "field": "resolution",
                "fieldtype": "jira",
                "fieldId": "resolution",
                "from": was.get("id"),
                "fromString": was.get("name"),
                "to": now.get("id"),
                "toString": now.get("name"),
            },
            {
                "field": "status",
                "fieldtype": "jira",
                "fieldId": "status",
                "from": before["status"]["id"],
                "fromString": before["status"]["name"],
                "to": after["status"]["id"],
                "toString": after["status"]["name"],
            },
        ]
    payload["changelog"]["items"] = items
    payload["timestamp"] = jira_ms(after["updated"])
    payload["issue"].update(id=issue["id"], key=key)
    payload["issue"]["fields"].update(
        {
            k: after[k]
            for k in ("status", "resolution", "resolutiondate", "labels", "updated", "summary")
        }
    )
    delivery = str(uuid.uuid4())
    integration = run.integrations["jira"]
    return Delivery("jira", key, action, lambda c: send_jira(c, integration, payload, delivery))


def change_linear(run: Run, key: str, action: str) -> Delivery:
    fake: FakeLinear = run.fakes["linear"]
    with fake.lock:
        issue_id = fake.by_key(key)["id"]
        before = copy.deepcopy(fake.issues[issue_id])
        if action == "done":
            fake.set_state(issue_id, "Done", "completed")
        elif action == "wont_do":
            fake.set_state(issue_id, "Canceled", "canceled")
        elif action == "reopen":
            fake.set_state(issue_id, "Todo", "unstarted")
        else:
            label = next((x for x in fake.labels.values() if x["name"] == VERIFIED), None)
            label = label or fake.add_label(VERIFIED)
            issue = fake.issues[issue_id]
            issue["labels"] = {"nodes": [*issue["labels"]["nodes"], label]}
            issue["labelIds"] = [*issue["labelIds"], label["id"]]
            issue["updatedAt"] = (
                datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
            )
        after = copy.deepcopy(fake.issues[issue_id])
    changed = {"labelIds": before["labelIds"]} if action == "label" else {}
    payload = issue_update_payload(before, after, changed or {"stateId": before["state"]["id"]})
    delivery, sent_at = str(uuid.uuid4()), int(time.time() * 1000)
    integration = run.integrations["linear"]
    return Delivery(
        "linear",
        key,
        action,
        lambda c: send_linear(c, integration, payload, delivery, timestamp_ms=sent_at),
    )


CHANGES = {"github": change_github, "jira": change_jira, "linear": change_linear}


def next_second() -> None:
    # GitHub's updated_at has whole seconds: two changes on one ticket need two seconds.
    time.sleep(1.05 - (time.time() % 1.0))


def webhook_phase(run: Run, items: list[dict[str, Any]], deadline: float) -> bool:
    chosen: list[tuple[dict[str, Any], str, bool]] = []
    for kind in TRACKERS:
        ticketed = [i for i in items if i["tracker"] == kind and i["ticket_key"]]
        picked = run.rng.sample(ticketed, k=round(len(ticketed) * 0.75))
        names = list(SCENARIOS)
        seen: collections.Counter[str] = collections.Counter()
        for n, item in enumerate(picked):
            name = names[n % len(names)]
            reversed_order = len(SCENARIOS[name]) == 2 and seen[name] % 2 == 1
            seen[name] += 1
            chosen.append((item, name, reversed_order))
            run.scenario[item["id"]] = (name, reversed_order)
    queues: dict[str, list[Delivery]] = {}
    for step in (0, 1):
        for item, name, _ in chosen:
            if step < len(SCENARIOS[name]):
                change = CHANGES[item["tracker"]]
                queues.setdefault(item["id"], []).append(
                    change(run, item["ticket_key"], SCENARIOS[name][step])
                )
        if step == 0:
            next_second()
    for item, _, reversed_order in chosen:
        if reversed_order:
            queues[item["id"]].reverse()
    # Tickets in random order, each one's deliveries back to back (two quick changes by one
    # person arrive together, and two workers apply them at once); every delivery comes again
    # at a random later moment.
    tickets = list(queues)
    run.rng.shuffle(tickets)
    firsts = [delivery for key in tickets for delivery in queues[key]]
    order = [(float(n), d) for n, d in enumerate(firsts)]
    order += [(run.rng.uniform(n + 0.5, len(firsts)), d) for n, d in enumerate(firsts)]
    for _, delivery in sorted(order, key=lambda pair: pair[0]):
        response = delivery.send(run.client)
        answer = response.json().get("status") if response.status_code == 202 else None
        run.answers[delivery.tracker][answer or f"http {response.status_code}"] += 1
    while time.monotonic() < deadline:
        waiting = scalar(
            run.engine,
            "SELECT count(*) FROM job WHERE lane = 'inbound' AND status IN ('pending', 'leased')",
        )
        if not waiting:
            return True
        time.sleep(0.05)
    return False


# -- the check ----------------------------------------------------------------------------------


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
    history = run.client.get(f"/v1/action-items/{item_id}/history").json()
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
    with run.engine.connect() as conn:
        markers = {
            str(k): str(v)
            for k, v in conn.execute(
                text("SELECT CAST(action_item_id AS TEXT), marker FROM ticket_link")
            )
        }
        applied = collections.Counter[str]()
        outcomes = collections.Counter[str]()
        for integration_id, detail in conn.execute(
            text(
                "SELECT CAST(integration_id AS TEXT), detail FROM webhook_delivery WHERE outcome = 'applied'"
            )
        ):
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
        linked = next((t for t in tickets if t.key == item["ticket_key"]), None)
        name, reversed_order = run.scenario.get(item["id"], ("untouched", False))
        where = f"{item['tracker']} {item['ticket_key']} ({name}{', reversed' if reversed_order else ''})"
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
                f"lost: {where}: sync {item['sync_state']}, marker tickets {[t.key for t in tickets]}"
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
        counts[kind].update(
            {f"sent {a}": n for a, n in run.answers[kind].items()},
        )
        counts[kind]["sent"] = sum(run.answers[kind].values())
        counts[kind]["applied"] = applied[uuid.UUID(run.integrations[kind]).hex]
    print("what the applied deliveries did:", dict(outcomes.most_common()))
    statuses = collections.Counter(f"{i['tracker']} {i['status']}" for i in items)
    print("item statuses:", dict(sorted(statuses.items())))
    for line in problems:
        print(line)
    return counts


def report(counts: dict[str, collections.Counter[str]], run: Run, started: float) -> bool:
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
        ("sent accepted", "accepted"),
        ("sent duplicate", "repeat"),
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
    odd = {a for k in TRACKERS for a in run.answers[k] if a not in ("accepted", "duplicate")}
    if odd:
        print("other webhook answers:", {a: total[f"sent {a}"] for a in sorted(odd)})
    print(f"worker kills: {run.kills}; wall time: {time.monotonic() - started:.1f} s")
    violations = [v for f in run.fakes.values() for v in f.violations]
    if violations:
        print(f"contract violations in the fakes: {len(violations)}; first: {violations[0]}")
    return not (total["duplicates"] or total["lost"] or total["disagreeing"])


# -- main ---------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=None, help="committed items (default 60)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="18 items, 2 kills")
    parser.add_argument("--kills", type=int, default=None, help="worker kills (default 3)")
    parser.add_argument("--database-url", default=None, help="postgresql://user@127.0.0.1/db")
    parser.add_argument("--time-limit", type=float, default=170.0, help="seconds in all")
    args = parser.parse_args()
    count = args.items or (18 if args.quick else 60)
    kills = args.kills if args.kills is not None else (2 if args.quick else 3)
    if not CONTRACTS.is_dir():
        print(f"vendor contracts not found at {CONTRACTS}; the fakes need them", file=sys.stderr)
        return 2
    started = time.monotonic()
    deadline = started + args.time_limit
    data_dir = Path(tempfile.mkdtemp(prefix="fault-run-"))
    admin = admin_url(args.database_url) if args.database_url else None
    pg_name, url = create_pg(admin) if admin else (None, f"sqlite:///{data_dir / 'fault.db'}")
    fakes: dict[str, Any] = {}
    calls: list[CreateCall] = []
    run: Run | None = None
    try:
        migrate.upgrade(url)
        settings = Settings(
            database_url=url,
            data_dir=data_dir,
            secret_key="fault-run",
            sync=SyncPolicy(run_in_api_process=False, reconcile_interval_seconds=0),
            # The fake trackers listen on 127.0.0.1, which the egress policy refuses unless named.
            egress=EgressSettings(allow_hosts=["127.0.0.1"]),
        )
        fakes = {"github": FakeGitHub(), "jira": FakeJira(), "linear": FakeLinear()}
        for fake in fakes.values():
            fake.start()
        for kind, fake in fakes.items():
            instrument(kind, fake, calls, started)
        app = create_app(settings)
        with session_scope(app.state.engine) as session:
            _, token = auth_service.create(session, name="fault-run", scope=Scope.ADMIN)
        with TestClient(app, headers={"Authorization": f"Bearer {token}"}) as client:
            run = Run(random.Random(args.seed), client, app.state.engine, settings, fakes, calls)
            connect(run)
            per_tracker = collections.Counter[str]()
            tracker_of = publish(run, count)
            per_tracker.update(tracker_of.values())
            for kind in TRACKERS:
                fault_schedule(run, kind, per_tracker[kind])
            print(f"database {app.state.engine.dialect.name}, {count} items, seed {args.seed}")
            phase = time.monotonic()
            synced = create_phase(run, count, kills, started + args.time_limit * 0.6)
            left = collections.Counter(fault_name(x) for f in fakes.values() for x in f.faults)
            hit = {k: n - left[k] for k, n in run.injected.items()}
            found = scalar(
                run.engine,
                "SELECT count(*) FROM action_item_event WHERE note LIKE 'found by marker%'",
            )
            print(
                f"create phase: {time.monotonic() - phase:.1f} s, all synced: {synced}, "
                f"faults hit: {hit}, tickets found by marker after a lost answer: {found}"
            )
            items = all_items(run, tracker_of)
            phase = time.monotonic()
            drained = webhook_phase(run, items, deadline)
            print(f"webhook phase: {time.monotonic() - phase:.1f} s, drained: {drained}")
            items = all_items(run, tracker_of)
            ok = report(check(run, items), run, started)
            if not ok and run.logs:
                print("last worker log lines:", *run.logs, sep="\n  ")
            return 0 if ok else 1
    finally:
        if run is not None:
            for process in run.workers:
                stop(process)
        for fake in fakes.values():
            fake.stop()
        if admin and pg_name:
            drop_pg(admin, pg_name)
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
