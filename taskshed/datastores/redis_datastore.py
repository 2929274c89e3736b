"""TaskShed 0.10's module path of the Redis store; it lives in the taskshed-redis plugin.

``RedisDataStore`` and ``RedisConfig`` are imported on first use: without the
plugin that raises an ``ImportError`` naming the extra (``taskshed[redis]``).
"""

from __future__ import annotations

from typing import Any

from taskshed.datastores.base import DataStore
from taskshed.datastores.plugin_exports import load_plugin_export
from taskshed.models import Task, TaskExecutionTime
from taskshed.models.task_models import COMPACT_JSON_SEPARATORS

__all__ = [
    "COMPACT_JSON_SEPARATORS",
    "DataStore",
    "RedisConfig",  # noqa: F822 (loaded by __getattr__)
    "RedisDataStore",  # noqa: F822 (loaded by __getattr__)
    "Task",
    "TaskExecutionTime",
]

_NAMES = frozenset({"RedisConfig", "RedisDataStore"})


def __getattr__(name: str) -> Any:
    return load_plugin_export(__name__, name, _NAMES)
