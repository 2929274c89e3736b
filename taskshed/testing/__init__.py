"""Testing tools for plugin authors: the conformance suites and the multi-process runner.

``from taskshed.testing import DataStoreSuite`` (or ``SerializerSuite``) needs
pytest; the process runner (:mod:`taskshed.testing.processes`) does not.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from taskshed.testing.processes import ProcessRun, WorkerProcessError, run_worker_processes

if TYPE_CHECKING:
    from taskshed.testing.serializers import SerializerSuite
    from taskshed.testing.suite import DataStoreSuite

__all__ = [
    "DataStoreSuite",
    "ProcessRun",
    "SerializerSuite",
    "WorkerProcessError",
    "run_worker_processes",
]


def __getattr__(name: str) -> Any:
    # The suites import pytest; load them only when asked for, with their asserts
    # rewritten even where taskshed's pytest plugin is disabled.
    if name == "DataStoreSuite":
        _rewrite_asserts()
        from taskshed.testing.suite import DataStoreSuite

        return DataStoreSuite
    if name == "SerializerSuite":
        _rewrite_asserts()
        from taskshed.testing.serializers import SerializerSuite

        return SerializerSuite
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _rewrite_asserts() -> None:
    import sys

    if "pytest" in sys.modules and "taskshed.testing.suite" not in sys.modules:
        import pytest

        pytest.register_assert_rewrite("taskshed.testing.suite", "taskshed.testing.serializers")
