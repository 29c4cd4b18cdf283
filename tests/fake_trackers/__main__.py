"""Run the three fake trackers by hand, to watch tickets appear without real credentials:

    .venv/bin/python -m tests.fake_trackers          # GitHub :9101, Jira :9102, Linear :9103

It prints the integrations to create and then every ticket the service creates. The fakes
listen on 127.0.0.1, which the service refuses to call unless its egress allow-list names it:
start the service (and any worker) with FOLLOWTHROUGH_EGRESS__ALLOW_HOSTS=127.0.0.1.
"""

from __future__ import annotations

import argparse
import json
import time

from tests.fake_trackers import github, jira, linear
from tests.fake_trackers.contracts import CONTRACTS

ALLOW_ENV = "FOLLOWTHROUGH_EGRESS__ALLOW_HOSTS"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--port", type=int, default=9101, help="first of three consecutive ports")
    args = parser.parse_args()

    fakes = {
        "github": github.FakeGitHub(),
        "jira": jira.FakeJira(),
        "linear": linear.FakeLinear(),
    }
    if not CONTRACTS.is_dir():
        # Without ../shared the fakes still answer; they just cannot check requests.
        for fake in fakes.values():
            fake.contract = None
    for offset, fake in enumerate(fakes.values()):
        fake.start(port=args.port + offset)

    integrations = [
        {
            "kind": "github",
            "name": "fake-github",
            "base_url": fakes["github"].base_url,
            "credentials": {"token": github.TOKEN},
            "default_project": "acme/api",
            "routes": [{"team": "payments"}],
            "webhook_secret": "fake-secret",
        },
        {
            "kind": "jira",
            "name": "fake-jira",
            "base_url": fakes["jira"].base_url,
            "credentials": {"email": "bot@example.com", "api_token": jira.API_TOKEN},
            "default_project": "OPS",
        },
        {
            "kind": "linear",
            "name": "fake-linear",
            "base_url": fakes["linear"].base_url,
            "credentials": {"api_key": linear.API_KEY},
            "default_project": linear.TEAM_ID,
        },
    ]
    print(
        "Fake trackers are up. They listen on 127.0.0.1, which the service calls only when its\n"
        "egress allow-list names it: start the service (and any worker) with\n\n"
        f"    {ALLOW_ENV}=127.0.0.1 make run\n\n"
        "(without it, creating these integrations answers 422 on body.base_url).\n"
        "Then create the integrations (admin token in $TOKEN):\n"
    )
    for body in integrations:
        print(
            f"curl -s -H \"Authorization: Bearer $TOKEN\" -H 'Content-Type: application/json' "
            f"http://127.0.0.1:8000/v1/integrations -d '{json.dumps(body)}'"
        )
    print(
        "\nPeople become assignees with tracker_accounts such as "
        '{"github": "alice", "jira": "557058:alice", "linear": "user-alice"}.\nWaiting for tickets (Ctrl-C to stop)...\n'
    )
    seen: set[str] = set()
    try:
        while True:
            for name, fake in fakes.items():
                with fake.lock:
                    tickets = _tickets(name, fake)
                for key, title in tickets:
                    if f"{name}:{key}" not in seen:
                        seen.add(f"{name}:{key}")
                        print(f"[{name}] ticket {key}: {title}", flush=True)
            time.sleep(0.5)
    except KeyboardInterrupt:
        for fake in fakes.values():
            fake.stop()


def _tickets(name: str, fake: object) -> list[tuple[str, str]]:
    if isinstance(fake, github.FakeGitHub):
        return [
            (f"{repo}#{number}", issue["title"]) for (repo, number), issue in fake.issues.items()
        ]
    if isinstance(fake, jira.FakeJira):
        return [(key, issue["fields"]["summary"]) for key, issue in fake.issues.items()]
    if isinstance(fake, linear.FakeLinear):
        return [(issue["identifier"], issue["title"]) for issue in fake.issues.values()]
    return []


if __name__ == "__main__":
    main()
