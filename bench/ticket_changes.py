"""People changing the fault run's tickets in the fakes, and the webhook deliveries that say so:
every delivery sent twice, pairs of changes on one ticket in reversed order for half of them,
through the API processes in turn; a 5xx answer is redelivered, as the trackers do."""

from __future__ import annotations

import collections
import copy
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from bench.create_faults import REPO
from bench.fault_state import TRACKERS, VERIFIED, Run
from tests.e2e.webhook_support import send_github, send_jira, send_linear
from tests.fake_trackers.contracts import load_json
from tests.fake_trackers.github import FakeGitHub
from tests.fake_trackers.jira import FakeJira
from tests.fake_trackers.linear import FakeLinear, issue_update_payload

# A person's changes; pairs are two events on one ticket.
SCENARIOS = {
    "done": ("done",),
    "wont_do": ("wont_do",),
    "close_reopen": ("done", "reopen"),
    "label_close": ("label", "done"),
    "close_label": ("done", "label"),
}
# A delivery a tracker could not hand over (5xx or no answer) is tried again this often.
REDELIVERIES = 20


@dataclass
class Delivery:
    tracker: str
    key: str
    action: str
    delivery_id: str
    send: Callable[[httpx.Client], Any]


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
        delivery,
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
    return Delivery(
        "jira", key, action, delivery, lambda c: send_jira(c, integration, payload, delivery)
    )


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
    delivery = str(uuid.uuid4())
    integration = run.integrations["linear"]
    return Delivery(
        "linear",
        key,
        action,
        delivery,
        # Stamped when sent, as Linear stamps each attempt: the service refuses a timestamp
        # older than a minute, and a 1,000-item run sends its repeats minutes after a change.
        lambda c: send_linear(c, integration, payload, delivery),
    )


CHANGES = {"github": change_github, "jira": change_jira, "linear": change_linear}


def next_second() -> None:
    # GitHub's updated_at has whole seconds: two changes on one ticket need two seconds.
    time.sleep(1.05 - (time.time() % 1.0))


def plan_deliveries(run: Run, items: list[dict[str, Any]]) -> list[Delivery]:
    """Change three quarters of the items' tickets in the fakes and return the deliveries that
    report it, in the order they are to be sent: tickets in random order, each one's deliveries
    back to back (two quick changes by one person arrive together, and two workers apply them
    at once); every delivery comes again at a random later moment."""
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
    tickets = list(queues)
    run.rng.shuffle(tickets)
    firsts = [delivery for key in tickets for delivery in queues[key]]
    order = [(float(n), d) for n, d in enumerate(firsts)]
    order += [(run.rng.uniform(n + 0.5, len(firsts)), d) for n, d in enumerate(firsts)]
    return [d for _, d in sorted(order, key=lambda pair: pair[0])]


_ANSWERS_LOCK = threading.Lock()


def deliver(run: Run, delivery: Delivery) -> None:
    """Send one delivery through the next API process; on a 5xx or no answer, send it again a
    moment later (the trackers redeliver), counting every answer."""
    for attempt in range(REDELIVERIES):
        try:
            response = delivery.send(run.api.client())
            status = response.status_code
            answer = response.json().get("status") if status == 202 else f"http {status}"
        except httpx.TransportError as exc:
            status, answer = 0, f"no answer ({type(exc).__name__})"
        with _ANSWERS_LOCK:
            run.answers[delivery.tracker][answer] += 1
            run.sent[delivery.tracker].add(delivery.delivery_id)
        if 0 < status < 500:
            return
        time.sleep(min(2.0, 0.1 * 2**attempt))
    with _ANSWERS_LOCK:
        run.answers[delivery.tracker]["given up"] += 1
