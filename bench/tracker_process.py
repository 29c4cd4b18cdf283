"""A fake Linear in a process of its own, with a fixed latency on every request, for benchmarks:
its request parsing and contract checks then do not compete with the service for one GIL.

    with LinearProcess(latency=0.1) as fake:
        fake.base_url; fake.stats(); fake.reset()
"""

from __future__ import annotations

import contextlib
import multiprocessing
from dataclasses import dataclass
from multiprocessing.connection import Connection
from types import TracebackType
from typing import Any


@dataclass(frozen=True)
class Stats:
    issues: int
    creates: int
    # The most create requests the fake was serving at one moment.
    creates_at_once: int


def _most_at_once(spans: list[tuple[float, float]]) -> int:
    edges = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans])
    peak = current = 0
    for _, step in edges:
        current += step
        peak = max(peak, current)
    return peak


def _serve(conn: Connection, latency: float, contract: bool) -> None:
    from tests.fake_trackers.linear import FakeLinear

    fake = FakeLinear()
    if not contract:
        fake.contract = None
    fake.latency = latency
    fake.start()
    conn.send(fake.base_url)
    while True:
        command = conn.recv()
        if command == "stats":
            with fake.lock:
                creates = [r for r in fake.requests if b"issueCreate" in r.body]
                spans = [(r.started, r.finished) for r in creates if r.finished]
                conn.send(Stats(len(fake.issues), len(creates), _most_at_once(spans)))
        elif command == "reset":
            with fake.lock:
                fake.requests.clear()
                fake.issues.clear()
            conn.send(True)
        elif command == "violations":
            with fake.lock:
                conn.send(list(fake.violations))
        else:
            fake.stop()
            conn.send(True)
            return


class LinearProcess:
    def __init__(self, latency: float, *, contract: bool = True) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_serve, args=(child, latency, contract), daemon=True)
        self.base_url = ""

    def __enter__(self) -> LinearProcess:
        self._process.start()
        self.base_url = self._conn.recv()
        return self

    def _ask(self, command: str) -> Any:
        self._conn.send(command)
        return self._conn.recv()

    def stats(self) -> Stats:
        return self._ask("stats")  # type: ignore[no-any-return]

    def reset(self) -> None:
        self._ask("reset")

    def violations(self) -> list[str]:
        return self._ask("violations")  # type: ignore[no-any-return]

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        with contextlib.suppress(EOFError, OSError):
            self._ask("stop")
        self._process.join(timeout=10)
        if self._process.is_alive():
            self._process.kill()
