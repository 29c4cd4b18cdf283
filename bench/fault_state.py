"""What the fault run's modules share: the trackers, teams and the run's own state."""

from __future__ import annotations

import collections
import random
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Engine

from bench.create_faults import CreateCall, FaultPlan
from bench.service_processes import ApiProcesses

TRACKERS = ("github", "jira", "linear")
TEAMS = {"github": "payments", "jira": "search", "linear": "storage"}
VERIFIED = "verified"


@dataclass
class Run:
    rng: random.Random
    api: ApiProcesses
    engine: Engine
    fakes: dict[str, Any]
    plan: FaultPlan
    calls: list[CreateCall]
    integrations: dict[str, str] = field(default_factory=dict)
    logs: collections.deque[str] = field(default_factory=lambda: collections.deque(maxlen=60))
    # Per tracker: each webhook answer ("accepted", "duplicate", "http 503", ...) counted.
    answers: dict[str, collections.Counter[str]] = field(
        default_factory=lambda: {t: collections.Counter() for t in TRACKERS}
    )
    # Per tracker: the distinct delivery ids sent.
    sent: dict[str, set[str]] = field(default_factory=lambda: {t: set() for t in TRACKERS})
    # Item id -> (scenario name, reversed order).
    scenario: dict[str, tuple[str, bool]] = field(default_factory=dict)
