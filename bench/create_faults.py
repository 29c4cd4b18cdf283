"""What goes wrong with the fault run's create calls, drawn per call at seeded rates: 500s, calls
held past the client's timeout and then refused (a timeout, nothing made), tickets made whose
answer is lost, tickets made after the client gave up, and bursts of 429 with Retry-After.
Every create call is logged with its fault and timing, so a duplicate can be explained."""

from __future__ import annotations

import collections
import random
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any

from tests.fake_trackers.server import Fault, Request

REPO = "acme/api"
# The integrations' client timeout and the service's resend margin after it (seconds).
TIMEOUT, MARGIN = 1.0, 1.0
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


@dataclass(frozen=True)
class Rates:
    """Shares of create calls (retries included) that meet each fault."""

    error_500: float = 0.05
    timeout: float = 0.02
    answer_lost: float = 0.03
    lands_late: float = 0.03
    # A create that starts a burst of 429s: it and the next few creates are refused.
    burst_429: float = 0.01
    burst_length: tuple[int, int] = (3, 8)


class FaultPlan:
    """Draws each create call's fate; thread-safe (the fakes serve each request on a thread)."""

    def __init__(self, rates: Rates, rng: random.Random) -> None:
        self.rates = rates
        self.rng = rng
        self.lock = threading.Lock()
        self.burst_left: collections.Counter[str] = collections.Counter()
        self.hit: collections.Counter[str] = collections.Counter()

    def draw(self, kind: str) -> Fault | None:
        r = self.rates
        with self.lock:
            if not self.burst_left[kind] and self.rng.random() < r.burst_429:
                self.burst_left[kind] = self.rng.randint(*r.burst_length)
                self.hit["429 bursts"] += 1
            if self.burst_left[kind]:
                self.burst_left[kind] -= 1
                self.hit["429"] += 1
                return Fault(
                    "status", status=429, headers={"Retry-After": "1"}, body=RATE_BODIES[kind]
                )
            roll = self.rng.random()
            delay = self.rng.uniform(TIMEOUT + 0.2, TIMEOUT + MARGIN - 0.3)
        for name, share in (
            ("500", r.error_500),
            ("timeout", r.timeout),
            ("drop", r.answer_lost),
            ("slow", r.lands_late),
        ):
            if roll < share:
                with self.lock:
                    self.hit[name] += 1
                return self._fault(kind, name, delay)
            roll -= share
        return None

    @staticmethod
    def _fault(kind: str, name: str, delay: float) -> Fault:
        if name == "500":
            return Fault("status", status=500, body=ERROR_BODIES[kind])
        if name == "timeout":
            # Held until the client has given up, then refused: no ticket was made.
            return Fault("timeout", status=504, body=ERROR_BODIES[kind], delay=TIMEOUT + 0.3)
        if name == "drop":
            # Made, then the connection closes without an answer.
            return Fault("drop")
        # Made after the client gave up, but before its timeout plus the margin has passed.
        return Fault("slow", delay=delay)


def fault_name(fault: Fault) -> str:
    return str(fault.status) if fault.kind == "status" else fault.kind


@dataclass
class CreateCall:
    tracker: str
    received: float
    landed: float
    answered: float
    fault: str
    status: int | None
    body: bytes


def is_create(kind: str, request: Request) -> bool:
    path, body_has = CREATE_CALLS[kind]
    return request.method == "POST" and request.path == path and body_has in request.body


def instrument(
    kind: str, fake: Any, plan: FaultPlan, calls: list[CreateCall], started: float
) -> None:
    """Put the plan's faults on the fake's create calls and log every create call (when it came,
    its fault, when it landed and was answered); keep the tracebacks of answers that found the
    client gone out of the output."""
    server = fake._httpd
    original_error, dispatch, take, handle = (
        server.handle_error,
        fake._dispatch,
        fake._take_fault,
        fake.handle,
    )

    def handle_error(request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            original_error(request, client_address)

    def take_fault(request: Request) -> Fault | None:
        fault = plan.draw(kind) if is_create(kind, request) else take(request)
        if fault is not None and fault.kind in ("slow", "timeout"):
            # The delay counts from the request's arrival, not from the end of its checks.
            waited = time.monotonic() - started - request.received  # type: ignore[attr-defined]
            fault.delay = max(0.0, fault.delay - waited)
        if fault is not None and fault.kind == "timeout":
            time.sleep(fault.delay)
            request.fault = fault  # type: ignore[attr-defined]
            return Fault("status", status=fault.status, body=fault.body)
        request.fault = fault  # type: ignore[attr-defined]
        return fault

    def landing(request: Request) -> Any:
        request.landed = time.monotonic() - started  # type: ignore[attr-defined]
        return handle(request)

    def logged(request: Request) -> tuple[Any, bool]:
        request.received = time.monotonic() - started  # type: ignore[attr-defined]
        reply, dropped = dispatch(request)
        if is_create(kind, request):
            fault = getattr(request, "fault", None)
            received = float(request.received)  # type: ignore[attr-defined]
            calls.append(
                CreateCall(
                    kind,
                    received,
                    getattr(request, "landed", received),
                    time.monotonic() - started,
                    fault_name(fault) if fault else "pass",
                    None if dropped else reply.status,
                    request.body,
                )
            )
        return reply, dropped

    server.handle_error = handle_error
    fake._take_fault, fake._dispatch, fake.handle = take_fault, logged, landing
