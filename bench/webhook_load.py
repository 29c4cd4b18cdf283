"""Webhook ingest at the limit: `wrk` against the service (`followthrough serve` in a process of
its own, production settings, the embedded worker included) and, in the same run, against a bare
FastAPI app served the same way (POST: read the body, answer 202), which is the ceiling.

    apt-get install -y wrk        # Debian's wrk (4.x); the bench says so when it is missing
    .venv/bin/python -m bench.webhook_load [--duration 10] [--connections 16] [--rounds 2]
    .venv/bin/python -m bench.webhook_load --database-url postgresql://postgres@127.0.0.1:5432/postgres
    .venv/bin/python -m bench.webhook_load --json /tmp/load.json --profile /tmp/ingest

The service runs without its embedded sync worker (FOLLOWTHROUGH_SYNC__RUN_IN_API_PROCESS=false,
as with `followthrough worker` processes beside it), so that the numbers are the ingest path's;
--embedded-worker keeps the default, where the same process also applies every delivery.

Each request is the vendor's 9.5 KB `issues` closed example, signed once (the body never
changes), with a fresh X-GitHub-Delivery (bench/webhook_load.lua). SQLite runs on a throwaway
file; with --database-url a throwaway database is created on that server and dropped at the end.
Prints req/s, p50 and p99 per round with the ratio to the bare app, then checks that every 202
was stored (rows with the round's delivery ids >= wrk's count of 202s; the difference is what was
in flight when wrk stopped, at most one per connection).

Then a run at 80 % of the service's measured peak, open loop: wrk keeps a fixed number of
requests in flight (closed loop), so it cannot hold a rate, and wrk2 is not in Debian. A small
asyncio driver here sends on a fixed schedule over as many keep-alive connections as it needs
(up to 64; a request due while all are busy waits for one), and times each answer from the
moment its request was due, so a stall counts for every request it delays (no coordinated
omission). It shares the machine's cores with the service, as wrk does.

--compare-root DIR also drives the service as another checkout has it (the code before a change:
`git archive <commit> | tar -x -C DIR`), in the same rounds, on the same database.

--profile PREFIX records the service with py-spy during its first round (PREFIX-<db>.txt,
collapsed stacks, and a summary of the busiest frames printed).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import hashlib
import hmac
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from app.crypto import SecretBox
from app.db import READ_ONLY, make_engine, session_scope
from app.integrations import service as integrations_service
from app.integrations.schemas import IntegrationCreate
from app.settings import EgressSettings
from bench.report import peak_rss_mb, write_json
from bench.service_setup import PG_ADMIN, database
from bench.throwaway_postgres import free_port
from tests.fake_trackers.contracts import CONTRACTS

ROOT = Path(__file__).resolve().parents[1]
LUA = Path(__file__).with_suffix(".lua")
PAYLOAD = "github/webhooks/issues/closed.payload.json"
SECRET = "bench-webhook-secret"
KEY = "bench-secret-key"
GOALS = {"sqlite": 0.5, "postgresql": 0.35}
P99_GOAL_MS = 50.0
RESULT = re.compile(r"RESULT (.*)")
# The open-loop driver's connections at most: well under the service's connection cap
# (FOLLOWTHROUGH_LIMITS__MAX_CONNECTIONS, 200), past which uvicorn answers 503.
MAX_OPEN_LOOP_CONNECTIONS = 64


@dataclass
class Round:
    target: str
    round: int
    requests: int
    non202: int
    seconds: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    socket_errors: dict[str, int]
    stored: int | None = None
    # The server process's CPU time (user + system) per request, and the bare app's rate in
    # the round driven just before this one.
    cpu_ms: float | None = None
    bare_rate: float | None = None

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    @property
    def accepted(self) -> int:
        return self.requests - self.non202


@dataclass
class OpenLoop:
    target: str
    rate: float
    seconds: float
    sent: int
    statuses: dict[int, int]
    p50_ms: float
    p99_ms: float
    max_ms: float
    connections: int
    stored: int | None = None


@dataclass
class Report:
    rounds: list[Round] = field(default_factory=list)
    open_loop: list[OpenLoop] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    # The service process's highest resident set size over its rounds and the open loop.
    peak_rss_mb: dict[str, float | None] = field(default_factory=dict)


def bare_app() -> FastAPI:
    """The ceiling: the same server and options, a POST that reads the body and answers 202."""
    app = FastAPI()

    @app.post("/v1/webhooks/{integration_id}")
    async def receive(integration_id: str, request: Request) -> JSONResponse:
        await request.body()
        return JSONResponse({"status": "accepted"}, status_code=202)

    return app


def _serve_bare(port: int) -> None:
    import uvicorn

    from app.connection_limits import server_options
    from app.settings import RequestLimits

    uvicorn.run(
        "bench.webhook_load:bare_app",
        factory=True,
        host="127.0.0.1",
        port=port,
        log_level="info",
        **server_options(RequestLimits()),
    )


def _wait_listening(port: int, process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {process.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError("server did not start listening")


@contextlib.contextmanager
def running(command: list[str], port: int, env: dict[str, str], cwd: Path = ROOT) -> Iterator[int]:
    """A server process (its pid), stopped with SIGINT (a graceful shutdown) afterwards."""
    process = subprocess.Popen(  # noqa: S603
        command,
        cwd=cwd,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        _wait_listening(port, process)
        yield process.pid
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wrk(
    url: str, body_file: Path, signature: str, prefix: str, args: argparse.Namespace
) -> dict[str, Any]:
    command = [
        "wrk",
        "-t1",
        f"-c{args.connections}",
        f"-d{args.duration}s",
        "--latency",
        "-s",
        str(LUA),
        url,
        "--",
        str(body_file),
        signature,
        prefix,
    ]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout  # noqa: S603
    found = RESULT.search(out)
    if found is None:
        raise RuntimeError(f"wrk printed no RESULT line:\n{out}")
    return {k: int(v) for k, v in (pair.split("=") for pair in found.group(1).split())}


def _round(target: str, number: int, result: dict[str, Any]) -> Round:
    return Round(
        target=target,
        round=number,
        requests=result["requests"],
        non202=result["non202"],
        seconds=result["duration_us"] / 1e6,
        p50_ms=result["p50_us"] / 1000,
        p99_ms=result["p99_us"] / 1000,
        max_ms=result["max_us"] / 1000,
        socket_errors={k: result[k] for k in ("connect", "read", "write", "timeout") if result[k]},
    )


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def profile(pid: int, seconds: float, out: Path) -> subprocess.Popen[bytes] | None:
    py_spy = Path(sys.executable).with_name("py-spy")
    if not py_spy.exists():
        print("py-spy not installed (pip install py-spy); no profile")
        return None
    return subprocess.Popen(  # noqa: S603
        [
            str(py_spy),
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(int(seconds)),
            "--format",
            "raw",
            "--output",
            str(out),
            "--threads",
            "--nonblocking",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def summarise_profile(path: Path, top: int = 25) -> None:
    """The frames that appear in most samples (self time and total), from collapsed stacks."""
    if not path.exists():
        print(f"no profile at {path}")
        return
    total = 0
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    for line in path.read_text().splitlines():
        stack, _, samples = line.rpartition(" ")
        if not samples.isdigit():
            continue
        n = int(samples)
        total += n
        frames = [
            f.split(" (")[0] + " " + f.rsplit("/", 1)[-1].rstrip(")") for f in stack.split(";")[1:]
        ]
        for frame in set(frames):
            inclusive[frame] += n
        if frames:
            own[frames[-1]] += n
    print(f"profile {path}: {total} samples (all threads, idle included)")
    print("  busiest frames, self:")
    for frame, n in own.most_common(top):
        print(f"    {100 * n / total:5.1f}%  {frame}")
    print("  frames in most stacks:")
    for frame, n in inclusive.most_common(top):
        print(f"    {100 * n / total:5.1f}%  {frame}")


async def _open_loop(
    port: int, path: str, body: bytes, signature: str, prefix: str, rate: float, seconds: float
) -> tuple[list[float], collections.Counter[int], int]:
    """Requests due at a fixed rate; latency from when each was due to its answer's end."""
    loop = asyncio.get_running_loop()
    idle: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()
    opened = 0
    latencies: list[float] = []
    statuses: collections.Counter[int] = collections.Counter()

    async def one(number: int, due: float) -> None:
        nonlocal opened
        if not idle.empty() or opened >= MAX_OPEN_LOOP_CONNECTIONS:
            # A request waiting here for a connection is late, and its latency says so.
            reader, writer = await idle.get()
        else:
            opened += 1
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        head = (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"X-GitHub-Event: issues\r\nX-GitHub-Delivery: {prefix}-{number}\r\n"
            f"X-Hub-Signature-256: {signature}\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode()
        writer.write(head + body)
        status_line = await reader.readline()
        length = 0
        while (line := await reader.readline()) not in (b"\r\n", b""):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        await reader.readexactly(length)
        latencies.append(loop.time() - due)
        statuses[int(status_line.split()[1])] += 1
        idle.put_nowait((reader, writer))

    start = loop.time() + 0.05
    total = int(rate * seconds)
    tasks = []
    for number in range(total):
        due = start + number / rate
        if (wait := due - loop.time()) > 0:
            await asyncio.sleep(wait)
        tasks.append(asyncio.create_task(one(number, due)))
    await asyncio.gather(*tasks)
    while not idle.empty():
        idle.get_nowait()[1].close()
    return latencies, statuses, opened


def _ms(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return 1000 * ordered[min(len(ordered) - 1, int(len(ordered) * share))]


def run_open_loop(
    target: str, port: int, path: str, body: bytes, signature: str, rate: float, seconds: float
) -> tuple[OpenLoop, str]:
    prefix = f"open-{uuid.uuid4().hex[:8]}"
    try:
        import uvloop

        runner = uvloop.run
    except ImportError:
        runner = asyncio.run
    latencies, statuses, opened = runner(
        _open_loop(port, path, body, signature, prefix, rate, seconds)
    )
    return (
        OpenLoop(
            target=target,
            rate=rate,
            seconds=seconds,
            sent=len(latencies),
            statuses=dict(statuses),
            p50_ms=_ms(latencies, 0.5),
            p99_ms=_ms(latencies, 0.99),
            max_ms=1000 * max(latencies),
            connections=opened,
        ),
        prefix,
    )


def make_integration(url: str) -> str:
    engine = make_engine(url)
    try:
        with session_scope(engine) as session:
            data = IntegrationCreate.model_validate(
                {
                    "kind": "github",
                    "name": "bench-github",
                    "credentials": {"token": "x"},
                    "default_project": "acme/api",
                    "webhook_secret": SECRET,
                }
            )
            integration = integrations_service.create(
                session, data, SecretBox(KEY), EgressSettings()
            )
            return str(integration.id)
    finally:
        engine.dispose()


def stored(url: str, prefix: str) -> int:
    engine = make_engine(url)
    try:
        with engine.execution_options(**{READ_ONLY: True}).connect() as conn:
            query = text("SELECT count(*) FROM webhook_delivery WHERE delivery_id LIKE :pattern")
            return int(conn.execute(query, {"pattern": f"{prefix}-%"}).scalar_one())
    finally:
        engine.dispose()


def bench_database(
    kind: str, admin: str, body: bytes, args: argparse.Namespace, report: Report
) -> None:
    signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    body_file = Path(tempfile.mkstemp(suffix=".json")[1])
    body_file.write_bytes(body)
    try:
        with database(kind, admin) as (url, data_dir):
            integration = make_integration(url)
            path = f"/v1/webhooks/{integration}"
            bare_port, port = free_port(), free_port()
            bare_cmd = [sys.executable, "-m", "bench.webhook_load", "--serve-bare", str(bare_port)]
            serve_cmd = [
                sys.executable,
                "-m",
                "app.cli",
                "serve",
                "--no-migrate",
                "--port",
                str(port),
            ]
            env = {
                "FOLLOWTHROUGH_DATABASE_URL": url,
                "FOLLOWTHROUGH_DATA_DIR": str(data_dir),
                "FOLLOWTHROUGH_SECRET_KEY": KEY,
                "FOLLOWTHROUGH_SYNC__RUN_IN_API_PROCESS": "true"
                if args.embedded_worker
                else "false",
            }
            service_rounds = []
            # All served at once and driven in turn, round by round: the machine's load drifts,
            # and each service round has a bare round beside it.
            with contextlib.ExitStack() as servers:
                bare_pid = servers.enter_context(running(bare_cmd, bare_port, {}))
                pid = servers.enter_context(running(serve_cmd, port, env))
                targets = [(f"service ({kind})", pid, port)]
                if args.compare_root:
                    earlier_port = free_port()
                    earlier_cmd = [*serve_cmd[:-1], str(earlier_port)]
                    earlier_pid = servers.enter_context(
                        running(earlier_cmd, earlier_port, env, cwd=args.compare_root)
                    )
                    targets.append((f"earlier ({kind})", earlier_pid, earlier_port))
                for number in range(1, args.rounds + 1):
                    cpu = cpu_seconds(bare_pid)
                    result = wrk(
                        f"http://127.0.0.1:{bare_port}{path}", body_file, signature, "bare", args
                    )
                    bare = _round(f"bare ({kind})", number, result)
                    bare.cpu_ms = 1000 * (cpu_seconds(bare_pid) - cpu) / bare.requests
                    report.rounds.append(bare)
                    for target, target_pid, target_port in targets:
                        prefix = f"r{number}-{uuid.uuid4().hex[:8]}"
                        spy = (
                            profile(target_pid, args.duration, Path(f"{args.profile}-{kind}.txt"))
                            if args.profile and number == 1 and target_pid == pid
                            else None
                        )
                        cpu = cpu_seconds(target_pid)
                        url_ = f"http://127.0.0.1:{target_port}{path}"
                        result = wrk(url_, body_file, signature, prefix, args)
                        if spy is not None:
                            spy.wait(timeout=60)
                        time.sleep(0.5)
                        row = _round(target, number, result)
                        row.cpu_ms = 1000 * (cpu_seconds(target_pid) - cpu) / row.requests
                        row.bare_rate = bare.rate
                        row.stored = stored(url, prefix)
                        if row.stored < row.accepted:
                            report.problems.append(
                                f"{row.target} round {number}: {row.accepted} answered 202 but"
                                f" only {row.stored} stored"
                            )
                        report.rounds.append(row)
                        if target_pid == pid:
                            service_rounds.append(row)
                peak = statistics.mean(r.rate for r in service_rounds)
                loop, prefix = run_open_loop(
                    f"service ({kind})", port, path, body, signature, 0.8 * peak, args.duration
                )
                time.sleep(0.5)
                loop.stored = stored(url, prefix)
                accepted = loop.statuses.get(202, 0)
                if loop.stored != accepted:
                    report.problems.append(
                        f"open loop on {kind}: {accepted} answered 202, {loop.stored} stored"
                    )
                report.open_loop.append(loop)
                report.peak_rss_mb[kind] = peak_rss_mb(pid)
            if args.profile:
                summarise_profile(Path(f"{args.profile}-{kind}.txt"))
    finally:
        body_file.unlink(missing_ok=True)


def print_report(report: Report) -> None:
    print(
        f"\n{'target':<24}{'round':>6}{'req/s':>9}{'p50 ms':>8}{'p99 ms':>8}{'x bare':>8}"
        f"{'CPU ms/req':>11}{'non-202':>8}{'stored':>8}"
    )
    for row in report.rounds:
        ratio = f"{row.rate / row.bare_rate:.3f}" if row.bare_rate else ""
        print(
            f"{row.target:<24}{row.round:>6}{row.rate:>9.0f}{row.p50_ms:>8.1f}{row.p99_ms:>8.1f}"
            f"{ratio:>8}{row.cpu_ms or 0:>11.3f}{row.non202:>8}"
            f"{'' if row.stored is None else row.stored:>8}"
            + (f"  socket errors {row.socket_errors}" if row.socket_errors else "")
        )
    for backend, goal in GOALS.items():
        earlier = [r for r in report.rounds if r.target == f"earlier ({backend})"]
        service = [r for r in report.rounds if r.target == f"service ({backend})"]
        if earlier and service:
            print(
                f"{backend}: service {statistics.mean(r.rate for r in service):.0f} req/s against"
                f" {statistics.mean(r.rate for r in earlier):.0f} for the earlier checkout"
                f" ({statistics.mean(r.rate for r in service) / statistics.mean(r.rate for r in earlier):.2f}x)"
            )
        bare = [r for r in report.rounds if r.target == f"bare ({backend})"]
        if not service:
            continue
        ratio = statistics.mean(r.rate / (r.bare_rate or 1) for r in service)
        cpu = statistics.mean(r.cpu_ms or 0 for r in service) / statistics.mean(
            r.cpu_ms or 1 for r in bare
        )
        print(
            f"{backend}: service {statistics.mean(r.rate for r in service):.0f} req/s,"
            f" {ratio:.3f}x the bare app's (mean of the rounds' ratios); goal >= {goal}x:"
            f" {'met' if ratio >= goal else 'NOT met'}. CPU per request {cpu:.1f}x the bare app's"
        )
    for loop in report.open_loop:
        print(
            f"{loop.target} open loop at {loop.rate:.0f} req/s (80% of its peak) for {loop.seconds:.0f} s:"
            f" {loop.sent} sent, statuses {loop.statuses}, p50 {loop.p50_ms:.1f} ms, p99 {loop.p99_ms:.1f} ms,"
            f" max {loop.max_ms:.1f} ms, {loop.connections} connections, {loop.stored} stored;"
            f" p99 goal < {P99_GOAL_MS:.0f} ms: {'met' if loop.p99_ms < P99_GOAL_MS else 'NOT met'}"
        )
    for kind, rss in report.peak_rss_mb.items():
        print(f"peak RSS of the service process ({kind}): {rss or 0:.0f} MB")
    for problem in report.problems:
        print(f"PROBLEM: {problem}")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--database-url", help="a PostgreSQL server: also bench on a throwaway database there"
    )
    parser.add_argument("--only-postgresql", action="store_true", help="skip the SQLite run")
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--embedded-worker",
        action="store_true",
        help="run the sync worker inside the service, as by default (it then applies every"
        " delivery in the same process while the bench runs)",
    )
    parser.add_argument(
        "--compare-root",
        type=Path,
        help="also drive the service from another checkout of this repository (e.g. `git"
        " archive <commit> | tar -x -C DIR`), on the same database, in the same rounds",
    )
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--profile", help="py-spy the service's first round into PREFIX-<db>.txt")
    parser.add_argument("--serve-bare", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_bare:
        _serve_bare(args.serve_bare)
        return 0
    if shutil.which("wrk") is None:
        print("wrk is not installed: apt-get install -y wrk (Debian's package)", file=sys.stderr)
        return 2
    if not (CONTRACTS / PAYLOAD).exists():
        print(f"the vendor example is missing: {CONTRACTS / PAYLOAD}", file=sys.stderr)
        return 2
    body = (CONTRACTS / PAYLOAD).read_bytes()
    report = Report()
    kinds: list[tuple[str, str]] = [] if args.only_postgresql else [("sqlite", PG_ADMIN)]
    if args.database_url:
        admin = args.database_url.replace("postgresql+psycopg://", "postgresql://", 1)
        kinds.append(("postgresql", admin))
    print(
        f"{len(body)} byte signed GitHub 'issues' delivery, wrk -t1 -c{args.connections}"
        f" -d{args.duration}s, {args.rounds} round(s) per target"
    )
    for kind, admin in kinds:
        bench_database(kind, admin, body, args, report)
    print_report(report)
    write_json(
        args.json,
        "bench.webhook_load",
        {
            "rounds": [asdict(r) | {"rate": r.rate} for r in report.rounds],
            "open_loop": [asdict(o) for o in report.open_loop],
            "peak_rss_mb": report.peak_rss_mb,
            "problems": report.problems,
        },
    )
    return 1 if report.problems else 0


if __name__ == "__main__":
    sys.exit(main())
