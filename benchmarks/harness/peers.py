"""The schedulers measured side by side: ours and the peers, each with its own interpreter."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent.parent
DRIVERS = BENCHMARKS / "drivers"
VENVS = BENCHMARKS / ".venvs"

STORES = ("memory", "redis", "mariadb", "postgresql", "sqlite")
STORE_LABELS = {
    "memory": "memory",
    "redis": "Redis",
    "mariadb": "MariaDB",
    "postgresql": "PostgreSQL",
    "sqlite": "SQLite",
}


@dataclass(frozen=True)
class Peer:
    """One scheduler: where its interpreter comes from and which driver speaks for it."""

    key: str
    label: str
    driver: str
    #: What ``pip install`` puts in its venv; empty for ours (the runner's own interpreter).
    requirements: tuple[str, ...]
    stores: tuple[str, ...]
    #: Workloads this peer's driver is asked to run (None: all but ours-only sections).
    workloads: tuple[str, ...] | None = None

    @property
    def is_ours(self) -> bool:
        return not self.requirements

    @property
    def venv(self) -> Path:
        return VENVS / self.key

    @property
    def python(self) -> Path:
        if self.is_ours:
            return Path(sys.executable)
        return self.venv / "bin" / "python"

    @property
    def driver_path(self) -> Path:
        return DRIVERS / self.driver


OURS = Peer("ours", "taskshed (ours)", "taskshed_driver.py", (), STORES)
PEERS = (
    OURS,
    Peer(
        "reference",
        "TaskShed 0.10.0",
        "taskshed_driver.py",
        # PyMySQL 1.2 rejects the lists 0.10.0 passes as IN (...) parameters.
        ("taskshed[redis,mysql]==0.10.0", "PyMySQL<1.2"),
        ("memory", "redis", "mariadb"),
    ),
    Peer(
        "apscheduler",
        "APScheduler 3.11.3",
        "apscheduler_driver.py",
        ("apscheduler==3.11.3", "SQLAlchemy>=2,<3", "PyMySQL>=1.1", "psycopg2-binary>=2.9"),
        ("memory", "mariadb", "postgresql", "sqlite"),
    ),
    Peer("arq", "arq 0.28.0", "arq_driver.py", ("arq==0.28.0",), ("redis",)),
    Peer(
        "procrastinate",
        "procrastinate 3.10.0",
        "procrastinate_driver.py",
        ("procrastinate==3.10.0", "psycopg[binary,pool]>=3.2"),
        ("postgresql",),
    ),
    Peer(
        "saq",
        "saq 0.26.4",
        "saq_driver.py",
        # saq imports typing_extensions without requiring it.
        ("saq[hiredis]==0.26.4", "typing_extensions>=4.7"),
        ("redis",),
    ),
)
PEERS_BY_KEY = {peer.key: peer for peer in PEERS}
#: Sections only ours runs (long, and about our stores' own behaviour).
OURS_ONLY = ("million",)
