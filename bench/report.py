"""What every benchmark writes besides its printed table: a JSON file with the numbers and the
machine they were measured on (`--json PATH`; `make bench` puts them in bench-results/)."""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


def add_json_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")


def machine() -> dict[str, Any]:
    """Where the numbers come from: the core count and the load matter on a shared machine."""
    return {
        "cpus": os.cpu_count(),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def peak_rss_mb(pid: int | None = None) -> float | None:
    """The highest resident set size the process has had (VmHWM), in MB; None off Linux."""
    status = Path(f"/proc/{pid or 'self'}/status")
    try:
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def write_json(path: Path | None, benchmark: str, results: Any) -> None:
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "benchmark": benchmark,
        "command": " ".join([Path(sys.executable).name, "-m", benchmark, *sys.argv[1:]]),
        "machine": machine(),
        "results": results,
    }
    path.write_text(json.dumps(document, indent=2, default=str) + "\n")
    print(f"wrote {path}")
