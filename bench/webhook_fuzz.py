"""Fuzz the webhook intake: the vendors' payload examples (../shared/contracts), mutated (values
replaced by other JSON types, odd numbers, NaN, deep nesting, huge strings; keys deleted; bytes
spliced into the body), validly signed, posted through the real app in-process on a throwaway
SQLite (or FOLLOWTHROUGH_DATABASE_URL). Prints the count per status code per tracker and every
5xx; then lets the worker apply what was stored and prints the deliveries' outcomes. Exits 1 on
any 5xx or worker error.

    .venv/bin/python -m bench.webhook_fuzz [--per-tracker N] [--engine atheris|random] [--seed S]

With atheris (coverage-guided, the parsers instrumented) the fuzzer's bytes choose the example,
the paths and the values; with `random` (no atheris) a seeded generator does.
"""

from __future__ import annotations

import argparse
import collections
import copy
import json
import logging
import os
import random
import sys
import time
from collections.abc import Callable
from typing import Any, Protocol

from fastapi.testclient import TestClient

from bench.bench_app import admin_token, bench_app

SECRET = "fuzz-secret"
TRACKERS = ("github", "jira", "linear")
ODD_NUMBERS: list[Any] = [0, -1, 1e20, -1e20, 1e308, 5e-324, -0.0, 2**63, 2**53 + 1, 10**300]
ODD_TEXT = [
    "",
    "closed",
    "completed",
    "2026-01-01T00:00:00Z",
    "10000-01-01T00:00:00Z",
    "0001-01-01T00:00:00+01:00",
    "9999-12-31T23:59:59-01:00",
    "2026-02-30",
    "OPS-1",
    "acme/api#1",
    "\ud800",
    "\u202e\ufeff😀",
]


class Source(Protocol):
    """Where the fuzzer's choices come from."""

    def int_in(self, low: int, high: int) -> int: ...
    def float(self) -> float: ...
    def text(self, size: int) -> str: ...
    def raw(self, size: int) -> bytes: ...


class AtherisSource:
    def __init__(self, data: bytes) -> None:
        import atheris

        self.fdp = atheris.FuzzedDataProvider(data)

    def int_in(self, low: int, high: int) -> int:
        return int(self.fdp.ConsumeIntInRange(low, high))

    def float(self) -> float:
        return float(self.fdp.ConsumeFloat())

    def text(self, size: int) -> str:
        return str(self.fdp.ConsumeUnicodeNoSurrogates(size))

    def raw(self, size: int) -> bytes:
        return bytes(self.fdp.ConsumeBytes(size))


class RandomSource:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def int_in(self, low: int, high: int) -> int:
        return self.rng.randint(low, high)

    def float(self) -> float:
        return self.rng.choice([float("nan"), float("inf"), -float("inf"), self.rng.random()])

    def text(self, size: int) -> str:
        return "".join(chr(self.rng.randint(1, 0xD7FF)) for _ in range(self.rng.randint(0, size)))

    def raw(self, size: int) -> bytes:
        return self.rng.randbytes(self.rng.randint(0, size))


def _nested(depth: int) -> Any:
    value: Any = "core"
    for level in range(depth):
        value = [value] if level % 2 else {"k": value}
    return value


def hostile_value(source: Source, room: int = 2) -> Any:
    choice = source.int_in(0, 11)
    if choice == 0:
        return None
    if choice == 1:
        return bool(source.int_in(0, 1))
    if choice == 2:
        return source.int_in(-(2**70), 2**70)
    if choice == 3:
        return source.float()
    if choice == 4:
        return ODD_NUMBERS[source.int_in(0, len(ODD_NUMBERS) - 1)]
    if choice == 5:
        return source.text(40).replace("\x00", "")
    if choice == 6:
        return ODD_TEXT[source.int_in(0, len(ODD_TEXT) - 1)]
    if choice == 7:
        return _nested(source.int_in(1, 200))
    if choice == 8:
        return "x" * source.int_in(1_000, 300_000)
    if choice == 9 and room:
        return [hostile_value(source, room - 1) for _ in range(source.int_in(0, 3))]
    if choice == 10 and room:
        return {
            source.text(8).replace("\x00", ""): hostile_value(source, room - 1)
            for _ in range(source.int_in(0, 3))
        }
    return {}


def mutated(
    source: Source, kind: str, examples: dict[str, list[tuple[str, Any]]]
) -> tuple[str, bytes]:
    from tests.contract.webhook_parser_support import delete_at, fresh, replace_at, value_paths

    event, example = examples[kind][source.int_in(0, len(examples[kind]) - 1)]
    data = fresh(kind, copy.deepcopy(example))
    for _ in range(source.int_in(1, 3)):
        paths = value_paths(data)
        if not paths:
            break
        path = paths[source.int_in(0, len(paths) - 1)]
        if source.int_in(0, 3) == 0:
            delete_at(data, path)
        else:
            replace_at(data, path, hostile_value(source))
    body = json.dumps(data).encode("utf-8", errors="surrogatepass")
    if source.int_in(0, 9) == 0:
        # Bytes spliced in anywhere: the JSON itself breaks, or its nesting, or its text. NUL is
        # left out: the request guard refuses it (422) before the webhook route is reached.
        at = source.int_in(0, len(body))
        spliced = source.raw(64).replace(b"\x00", b"")
        body = body[:at] + spliced + body[at + source.int_in(0, 8) :]
    return event, body


class ErrorCount(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record.getMessage())


class Run:
    def __init__(self, per_tracker: int) -> None:
        from tests.contract.webhook_parser_support import (
            DELIVERY_EXAMPLES,
            OFFLINE_INTEGRATIONS,
            signed_headers,
        )
        from tests.fake_trackers.contracts import CONTRACTS

        if not CONTRACTS.is_dir():
            sys.exit(f"vendor contracts not found at {CONTRACTS} (../shared beside the repo)")
        self.examples = {
            kind: [(event, json.loads((CONTRACTS / path).read_text())) for event, path in found]
            for kind, found in DELIVERY_EXAMPLES.items()
        }
        self.sign = signed_headers
        self.per_tracker = per_tracker
        self.app, self.url = bench_app()
        self.client = TestClient(
            self.app,
            headers={"Authorization": f"Bearer {admin_token(self.app)}"},
            raise_server_exceptions=False,
        )
        self.ids = {}
        for kind, fields in OFFLINE_INTEGRATIONS.items():
            body = {"kind": kind, "name": f"fuzz-{kind}", "webhook_secret": SECRET, **fields}
            created = self.client.post("/v1/integrations", json=body)
            assert created.status_code == 201, created.text
            self.ids[kind] = created.json()["id"]
        self.counts: dict[str, collections.Counter[int]] = {
            k: collections.Counter() for k in TRACKERS
        }
        self.server_errors: list[str] = []
        self.errors = ErrorCount()
        logging.getLogger().addHandler(self.errors)
        logging.getLogger().setLevel(logging.WARNING)
        self.done = 0
        self.started = time.perf_counter()

    def one(self, source: Source) -> None:
        kind = TRACKERS[self.done % len(TRACKERS)]
        event, body = mutated(source, kind, self.examples)
        response = self.client.post(
            f"/v1/webhooks/{self.ids[kind]}",
            content=body,
            headers=self.sign(kind, event, body, SECRET),
        )
        self.counts[kind][response.status_code] += 1
        if response.status_code >= 500 and len(self.server_errors) < 20:
            self.server_errors.append(f"{kind} {response.status_code}: {body[:300]!r}")
        self.done += 1

    @property
    def finished(self) -> bool:
        return self.done >= self.per_tracker * len(TRACKERS)

    def report(self, engine: str) -> int:
        seconds = time.perf_counter() - self.started
        backend = self.url.split(":", 1)[0]
        print(f"{self.done} signed mutated deliveries ({engine}, {backend}) in {seconds:.0f} s")
        total: collections.Counter[int] = collections.Counter()
        for kind in TRACKERS:
            total.update(self.counts[kind])
            print(
                f"  {kind:7} "
                + "  ".join(f"{s}: {n}" for s, n in sorted(self.counts[kind].items()))
            )
        print("  all     " + "  ".join(f"{s}: {n}" for s, n in sorted(total.items())))
        if total[422]:
            print("  (422: a NUL character in the body, refused by the request guard)")
        fives = sum(n for status, n in total.items() if status >= 500)
        print(f"  5xx: {fives}")
        for line in self.server_errors:
            print("   ", line)
        outcomes = self.apply_stored()
        print(
            "  worker outcomes of the stored deliveries: "
            + ", ".join(f"{k}: {n}" for k, n in sorted(outcomes.items()))
        )
        print(f"  errors logged: {len(self.errors.records)}")
        for message in self.errors.records[:10]:
            print("   ", message[:300])
        return 1 if fives or self.errors.records else 0

    def apply_stored(self) -> collections.Counter[str]:
        from sqlalchemy import text

        from app.sync.worker import Worker

        worker = Worker(self.app.state.engine, self.app.state.settings, name="fuzz")
        while worker.run_once(limit=50):
            pass
        with self.app.state.engine.connect() as conn:
            rows = conn.execute(
                text("SELECT outcome, count(*) FROM webhook_delivery GROUP BY outcome")
            )
            return collections.Counter({outcome: int(n) for outcome, n in rows})


def run_atheris(per_tracker: int) -> int:
    import atheris

    with atheris.instrument_imports(include=["connectors"]):
        import connectors.github.webhooks
        import connectors.jira.webhooks
        import connectors.linear.webhooks
        import connectors.webhook_support  # noqa: F401

    run = Run(per_tracker)

    def test_one_input(data: bytes) -> None:
        run.one(AtherisSource(data))
        if run.finished:
            sys.stdout.flush()
            os._exit(run.report("atheris"))

    # libFuzzer's own output goes to stderr; the summary is printed when the count is reached.
    atheris.Setup(
        [sys.argv[0], "-max_len=512", "-len_control=0", "-print_final_stats=0"], test_one_input
    )
    atheris.Fuzz()
    return 0


def run_random(per_tracker: int, seed: int) -> int:
    run = Run(per_tracker)
    source = RandomSource(random.Random(seed))
    while not run.finished:
        run.one(source)
    return run.report(f"random, seed {seed}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--per-tracker", type=int, default=7_000)
    parser.add_argument("--engine", choices=("atheris", "random"), default=None)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    engine = args.engine
    if engine is None:
        try:
            import atheris  # noqa: F401

            engine = "atheris"
        except ImportError:
            engine = "random"
    runner: Callable[[], int] = (
        (lambda: run_atheris(args.per_tracker))
        if engine == "atheris"
        else (lambda: run_random(args.per_tracker, args.seed))
    )
    sys.exit(runner())


if __name__ == "__main__":
    main()
