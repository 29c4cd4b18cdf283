"""The service as it is deployed, for the fault run: API processes (uvicorn, `followthrough serve`)
and standalone workers (`followthrough worker`), each a process of its own on one database, and
the monkey that SIGKILLs workers and restarts PostgreSQL while they work."""

from __future__ import annotations

import collections
import itertools
import os
import random
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from tests.e2e.sync_support import kill
from tests.e2e.sync_support import stop as stop_process

ROOT = Path(__file__).resolve().parents[1]


def service_env(database_url: str, data_dir: Path, secret_key: str, **extra: str) -> dict[str, str]:
    """What every process of one deployment shares: one database, one secret key."""
    return {
        **os.environ,
        "FOLLOWTHROUGH_DATABASE_URL": database_url,
        "FOLLOWTHROUGH_SECRET_KEY": secret_key,
        "FOLLOWTHROUGH_DATA_DIR": str(data_dir),
        # The fake trackers listen on 127.0.0.1, which the egress policy refuses unless named.
        "FOLLOWTHROUGH_EGRESS__ALLOW_HOSTS": "127.0.0.1",
        "FOLLOWTHROUGH_SYNC__RUN_IN_API_PROCESS": "false",
        **extra,
    }


def drain_into(process: subprocess.Popen[bytes], logs: collections.deque[str]) -> None:
    """Read a process's stderr into `logs` on a thread: an unread pipe blocks a chatty process."""
    stderr = process.stderr
    assert stderr is not None

    def drain() -> None:
        for line in iter(stderr.readline, b""):
            logs.append(f"[{process.pid}] {line.decode(errors='replace').rstrip()}")

    threading.Thread(target=drain, daemon=True).start()


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGINT, then SIGKILL after 15 s: a worker finishes the job it holds first."""
    stop_process(process, timeout=15)


class ApiProcesses:
    """`count` uvicorn processes on free ports; `client()` hands their clients out in turn, as a
    round-robin load balancer would."""

    def __init__(self, env: dict[str, str], count: int, token: str, logs: collections.deque[str]):
        from bench.throwaway_postgres import free_port

        self.processes: list[subprocess.Popen[bytes]] = []
        self.clients: list[httpx.Client] = []
        for _ in range(count):
            port = free_port()
            # Our own interpreter and command line; the port is a number we chose.
            process = subprocess.Popen(  # noqa: S603
                [sys.executable, "-m", "app.cli", "serve", "--no-migrate", "--port", str(port)],
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            drain_into(process, logs)
            self.processes.append(process)
            self.clients.append(
                httpx.Client(
                    base_url=f"http://127.0.0.1:{port}",
                    headers={"Authorization": f"Bearer {token}"},
                    timeout=30,
                )
            )
        self._turn = itertools.cycle(self.clients)
        self._lock = threading.Lock()
        for process, client in zip(self.processes, self.clients, strict=True):
            wait_healthy(process, client)

    def client(self) -> httpx.Client:
        with self._lock:
            return next(self._turn)

    def close(self) -> None:
        for client in self.clients:
            client.close()
        for process in self.processes:
            stop(process)


def wait_healthy(process: subprocess.Popen[bytes], client: httpx.Client) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"API process exited with {process.returncode} while starting")
        try:
            if client.get("/healthz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError("API process did not answer /healthz within 60 s")


class Workers:
    """`count` worker processes kept running: a killed one is replaced at once."""

    def __init__(self, env: dict[str, str], count: int, logs: collections.deque[str]) -> None:
        self.env = env
        self.logs = logs
        self.lock = threading.Lock()
        self.processes: list[subprocess.Popen[bytes]] = []
        for _ in range(count):
            self.start_one()

    def start_one(self) -> None:
        process = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "worker"],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        drain_into(process, self.logs)
        with self.lock:
            self.processes.append(process)

    def kill_one(self, rng: random.Random) -> None:
        with self.lock:
            victim = self.processes.pop(rng.randrange(len(self.processes)))
        kill(victim)
        self.start_one()

    def died(self) -> list[int]:
        """Exit codes of workers that ended without being killed (a crash is a finding)."""
        with self.lock:
            return [p.returncode for p in self.processes if p.poll() is not None]

    def stop(self) -> None:
        with self.lock:
            processes, self.processes = self.processes, []
        for process in processes:
            stop(process)


class Monkey(threading.Thread):
    """Kills a random worker every `gap` seconds (uniform) until `kills` are done, and restarts
    PostgreSQL once, at the first blow after `restart_gate` is set (the run sets it when webhook
    deliveries start, so the restart cuts off API requests as well as workers)."""

    def __init__(
        self,
        workers: Workers,
        rng: random.Random,
        kills: int,
        gap: tuple[float, float],
        restart_database: Callable[[], None] | None,
    ) -> None:
        super().__init__(daemon=True)
        self.workers, self.rng, self.kills, self.gap = workers, rng, kills, gap
        self.restart_database = restart_database
        self.restart_gate = threading.Event()
        self.killed = 0
        self.restarts = 0
        self.restart_seconds = 0.0
        self.error: BaseException | None = None
        self.last_blow = time.monotonic()
        self._stopping = threading.Event()

    def run(self) -> None:
        try:
            while self.killed < self.kills or self._restart_due():
                if self._stopping.wait(self.rng.uniform(*self.gap)):
                    return
                if self._restart_due() and self.restart_gate.is_set():
                    started = time.monotonic()
                    assert self.restart_database is not None
                    self.restart_database()
                    self.restart_seconds = time.monotonic() - started
                    self.restarts += 1
                elif self.killed < self.kills:
                    self.workers.kill_one(self.rng)
                    self.killed += 1
                self.last_blow = time.monotonic()
        except BaseException as exc:  # reported by the run, which then fails
            self.error = exc

    def _restart_due(self) -> bool:
        return self.restart_database is not None and self.restarts == 0

    def halt(self) -> None:
        self._stopping.set()
        self.join(timeout=30)
