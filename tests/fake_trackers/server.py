"""A small threaded HTTP server on 127.0.0.1 for fake trackers: records every request, checks it
against the vendor contract, and injects faults on demand.

A subclass implements `handle(request) -> Reply` with the tracker's behaviour. Any request that
breaks the vendor contract is answered 400 *and* recorded in `violations`; the `fake_*` fixtures
fail the test when that list is not empty, so a connector cannot pass by sending what the real
tracker would refuse.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from connectors.egress.policy import EgressPolicy


@dataclass
class Request:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    # time.monotonic() when the request arrived and when its answer was ready (0.0 until then).
    started: float = 0.0
    finished: float = 0.0

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)

    def encoded(self) -> bytes:
        if self.body is None:
            return b""
        if isinstance(self.body, bytes):
            return self.body
        return json.dumps(self.body).encode()


@dataclass
class Fault:
    """What to do to the next request matching `method` and a path containing `path_part`.

    kind: "status" answers `status` with `headers` and `body` without touching state;
    "slow" sleeps `delay` seconds, then answers normally; "drop" handles the request (so a
    create really happens) and then closes the connection without answering; "delay_reply"
    handles the request, then waits `delay` seconds before answering (a window in which the
    ticket exists but the caller does not know it yet).
    """

    kind: str
    method: str | None = None
    path_part: str | None = None
    status: int = 500
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    delay: float = 0.0
    times: int = 1

    def matches(self, request: Request) -> bool:
        return (self.method is None or self.method == request.method) and (
            self.path_part is None or self.path_part in request.path
        )


class FakeTrackerServer:
    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.violations: list[str] = []
        self.faults: list[Fault] = []
        self.lock = threading.RLock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.base_url = ""
        # Set by subclasses: (request) -> list of contract violations.
        self.contract: Callable[[Request], list[str]] | None = None
        # Seconds every request waits before it is handled (a tracker far away), outside the
        # lock, so that requests overlap as they would on a real tracker.
        self.latency = 0.0
        # Requests being served right now, and the most there ever were at once.
        self.in_flight = 0
        self.peak_in_flight = 0

    # -- lifecycle -------------------------------------------------------------------------

    def start(self, port: int = 0) -> FakeTrackerServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # The head and the body go out in two writes; with Nagle's algorithm on, the body
            # waits for the client's delayed ACK (40 ms on Linux) on every answer.
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:
                return

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                request = Request(
                    method=self.command,
                    path=parts.path,
                    query=parts.query,
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=body,
                )
                reply, drop = server._dispatch(request)
                if drop:
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                payload = reply.encoded()
                self.send_response(reply.status)
                headers = {"Content-Type": "application/json", **reply.headers}
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

        self._httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._httpd.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()

    # -- faults ----------------------------------------------------------------------------

    def inject(self, fault: Fault) -> None:
        with self.lock:
            self.faults.append(fault)

    def _take_fault(self, request: Request) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.matches(request):
                    fault.times -= 1
                    if fault.times <= 0:
                        self.faults.remove(fault)
                    return fault
        return None

    # -- dispatch --------------------------------------------------------------------------

    def _dispatch(self, request: Request) -> tuple[Reply, bool]:
        request.started = time.monotonic()
        with self.lock:
            self.requests.append(request)
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            if self.latency:
                time.sleep(self.latency)
            return self._serve_one(request)
        finally:
            request.finished = time.monotonic()
            with self.lock:
                self.in_flight -= 1

    def _serve_one(self, request: Request) -> tuple[Reply, bool]:
        if self.contract is not None:
            problems = self.contract(request)
            if problems:
                with self.lock:
                    self.violations.extend(problems)
                return Reply(
                    400, {"message": "request breaks the vendor contract", "errors": problems}
                ), False
        fault = self._take_fault(request)
        if fault is not None and fault.kind == "status":
            return Reply(fault.status, fault.body, dict(fault.headers)), False
        if fault is not None and fault.kind == "slow":
            time.sleep(fault.delay)
        with self.lock:
            reply = self.handle(request)
        if fault is not None and fault.kind == "delay_reply":
            time.sleep(fault.delay)
        return reply, fault is not None and fault.kind == "drop"

    def handle(self, request: Request) -> Reply:
        raise NotImplementedError


# What a connector built straight from a ConnectorConfig needs to reach a fake: the egress
# policy refuses 127.0.0.1 unless it is named.
LOOPBACK_EGRESS = EgressPolicy.allowing(["127.0.0.1"])
