"""What the resilience tests tried, recorded as they run, for docs/reliability.md.

A test asks for the ``tally`` fixture and calls :meth:`Tally.add` with what it
did and how much (examples generated, faults injected, tasks run, timings).
When ``TASKSHED_RELIABILITY_TALLY`` names a file, the session writes every
entry there as JSON together with each test's outcome; ``report.py`` turns
that file into the table of docs/reliability.md.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

TALLY_ENV = "TASKSHED_RELIABILITY_TALLY"


@dataclass
class Entry:
    area: str  # "server faults", "process faults", "bad input", "security", "load"
    tried: str  # what was done, in words
    store: str  # memory, mariadb, postgresql, sqlite, redis, or "-"
    measure: str  # the numbers: "40 tasks, 3 kills, 0 lost, 0 duplicates"
    nodeid: str = ""
    outcome: str = ""


@dataclass
class Tally:
    entries: list[Entry] = field(default_factory=list)
    outcomes: dict[str, str] = field(default_factory=dict)

    def recorder(self, nodeid: str, store: str = "-") -> Recorder:
        return Recorder(self, nodeid, store)

    def set_outcome(self, nodeid: str, outcome: str) -> None:
        # setup/call/teardown each report; the worst one wins.
        rank = {"passed": 0, "skipped": 1, "failed": 2}
        if rank.get(outcome, 0) >= rank.get(self.outcomes.get(nodeid, "passed"), 0):
            self.outcomes[nodeid] = outcome

    def dump(self, path: Path) -> None:
        rows = []
        for entry in self.entries:
            row = asdict(entry)
            row["outcome"] = self.outcomes.get(entry.nodeid, "unknown")
            rows.append(row)
        counts: dict[str, int] = {}
        for outcome in self.outcomes.values():
            counts[outcome] = counts.get(outcome, 0) + 1
        path.write_text(
            json.dumps({"entries": rows, "tests": counts, "outcomes": self.outcomes}, indent=1)
        )


@dataclass
class Recorder:
    tally: Tally
    nodeid: str
    store: str

    def add(self, area: str, tried: str, measure: str, *, store: str | None = None) -> None:
        self.tally.entries.append(
            Entry(area, tried, store or self.store, measure, nodeid=self.nodeid)
        )


def tally_path() -> Path | None:
    """Where this process writes its tally; under pytest-xdist each worker has a file of its own."""
    value = os.environ.get(TALLY_ENV)
    if not value:
        return None
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    return Path(f"{value}.{worker}") if worker else Path(value)


def load(path: Path) -> dict[str, Any]:
    """The tally at ``path``, joined with the tallies of pytest-xdist workers beside it."""
    parts = [path] if path.exists() else []
    parts += sorted(path.parent.glob(path.name + ".*"))
    joined: dict[str, Any] = {"entries": [], "tests": {}, "outcomes": {}}
    for part in parts:
        tally = json.loads(part.read_text())
        joined["entries"] += tally["entries"]
        joined["outcomes"].update(tally["outcomes"])
    for outcome in joined["outcomes"].values():
        joined["tests"][outcome] = joined["tests"].get(outcome, 0) + 1
    return joined
