"""Testing tools for datastore authors: the conformance suite and the multi-process runner.

``from taskshed.testing import DataStoreSuite`` needs pytest; the process
runner (:mod:`taskshed.testing.processes`) does not.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from taskshed.testing.processes import ProcessRun, WorkerProcessError, run_worker_processes

if TYPE_CHECKING:
    from taskshed.testing.suite import DataStoreSuite

__all__ = ["DataStoreSuite", "ProcessRun", "WorkerProcessError", "run_worker_processes"]


def __getattr__(name: str) -> Any:
    # The suite imports pytest; load it only when asked for.
    if name == "DataStoreSuite":
        from taskshed.testing.suite import DataStoreSuite

        return DataStoreSuite
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
