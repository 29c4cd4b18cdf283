"""How fast a webhook delivery is acknowledged (verify + store + 202), on a throwaway SQLite or
the PostgreSQL given in FOLLOWTHROUGH_DATABASE_URL. Prints latency percentiles.

    .venv/bin/python -m bench.webhook_ack [deliveries]
"""

from __future__ import annotations

import hashlib
import hmac
import json
import statistics
import sys
import time
import uuid

from fastapi.testclient import TestClient

from bench.bench_app import admin_token, bench_app

SECRET = "bench-secret"


def main(count: int) -> None:
    app, url = bench_app()
    token = admin_token(app)
    with TestClient(app, headers={"Authorization": f"Bearer {token}"}) as client:
        integration = client.post(
            "/v1/integrations",
            json={
                "kind": "github",
                "name": f"bench-{uuid.uuid4().hex[:6]}",
                "credentials": {"token": "x"},
                "default_project": "acme/api",
                "webhook_secret": SECRET,
            },
        ).json()
        payload = {
            "action": "closed",
            "issue": {
                "number": 1,
                "updated_at": "2030-01-01T00:00:00Z",
                "state": "closed",
                "state_reason": "completed",
                "labels": [],
            },
            "repository": {"full_name": "acme/api"},
            "sender": {"login": "octocat"},
        }
        body = json.dumps(payload).encode()
        signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        timings = []
        for _ in range(count):
            headers = {
                "X-GitHub-Event": "issues",
                "X-GitHub-Delivery": str(uuid.uuid4()),
                "X-Hub-Signature-256": signature,
                "Content-Type": "application/json",
            }
            started = time.perf_counter()
            response = client.post(
                f"/v1/webhooks/{integration['id']}", content=body, headers=headers
            )
            timings.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 202, response.text
    timings.sort()
    backend = url.split(":", 1)[0]
    print(
        f"{count} deliveries on {backend}: median {statistics.median(timings):.2f} ms, "
        f"p95 {timings[int(len(timings) * 0.95) - 1]:.2f} ms, max {timings[-1]:.2f} ms"
    )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 500)
