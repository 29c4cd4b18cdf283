"""A PostgreSQL cluster of its own for one run, so it can be restarted mid-run without touching
the machine's shared server: initdb into a temporary directory, trust auth, loopback on a free
port, deleted at the end.

    with ThrowawayPostgres() as pg:
        pg.url("postgres")   # postgresql+psycopg://postgres@127.0.0.1:PORT/postgres
        pg.restart()         # pg_ctl restart -m fast: every open connection is cut

initdb refuses to run as root; then the cluster belongs to the `postgres` OS user and every
pg_ctl call runs as that user (runuser).
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType

# A throwaway cluster: durability buys nothing, and the API processes and workers of a scale-out
# run hold several pools of connections between them.
SERVER_OPTIONS = (
    "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300"
)


def newest_bin_dir() -> Path:
    """The bin directory of the highest PostgreSQL version installed (/usr/lib/postgresql/N/bin),
    else the one initdb is found in on the PATH."""
    found = [p for p in Path("/usr/lib/postgresql").glob("*/bin") if (p / "initdb").exists()]
    if not found:
        on_path = shutil.which("initdb")
        if on_path is None:
            raise RuntimeError("no PostgreSQL server binaries: install postgresql (initdb, pg_ctl)")
        return Path(on_path).parent
    return max(found, key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ThrowawayPostgres:
    def __init__(self) -> None:
        self.bin = newest_bin_dir()
        self.port = 0
        self.root: Path | None = None
        self._as: list[str] = []
        self._options = ""

    @property
    def data(self) -> Path:
        assert self.root is not None
        return self.root / "data"

    def url(self, database: str = "postgres", driver: str = "postgresql+psycopg") -> str:
        return f"{driver}://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str) -> None:
        # PostgreSQL's own binaries with paths this module made; nothing from outside.
        result = subprocess.run(  # noqa: S603
            [*self._as, *args], capture_output=True, text=True, timeout=120, cwd=self.root
        )
        if result.returncode != 0:
            raise RuntimeError(f"{Path(args[0]).name} failed: {result.stdout}{result.stderr}")

    def _pg_ctl(self, action: str, *extra: str) -> None:
        self._run(
            str(self.bin / "pg_ctl"),
            action,
            "-D",
            str(self.data),
            "-w",
            "-t",
            "60",
            "-l",
            str(self.data.parent / "server.log"),
            *extra,
        )

    def start(self) -> ThrowawayPostgres:
        self.root = Path(tempfile.mkdtemp(prefix="followthrough-pg-"))
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            os.chown(self.root, owner.pw_uid, owner.pw_gid)
            self._as = ["runuser", "-u", "postgres", "--"]
        self._run(
            str(self.bin / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "--no-sync",
            "-E",
            "UTF8",
        )
        self.port = free_port()
        self._options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 {SERVER_OPTIONS}"
        )
        self.up()
        return self

    def up(self) -> None:
        """Start the server on its port; returns once it accepts connections."""
        self._pg_ctl("start", "-o", self._options)

    def down(self) -> None:
        """Stop the server (fast shutdown), keeping its data for `up()`."""
        self._pg_ctl("stop", "-m", "fast")

    def restart(self) -> None:
        """Fast shutdown (open transactions are rolled back, connections cut), then up again
        on the same port; returns once it accepts connections."""
        self._pg_ctl("restart", "-m", "fast")

    def stop(self) -> None:
        if self.root is None:
            return
        try:
            if (self.data / "postmaster.pid").exists():
                self._pg_ctl("stop", "-m", "immediate")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None

    def __enter__(self) -> ThrowawayPostgres:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
