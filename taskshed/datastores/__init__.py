"""Datastores: the contract, the built-in in-memory store, and the plugin stores by name.

``RedisDataStore``/``RedisConfig`` come from the ``taskshed-redis`` plugin and
``MySQLDataStore``/``MySQLConfig`` from ``taskshed-sqlalchemy``; they are
importable from here once installed, as in TaskShed 0.10.
"""

from __future__ import annotations

from typing import Any

from taskshed.datastores.base import DataStore
from taskshed.datastores.memory import InMemoryDataStore
from taskshed.datastores.plugin_exports import load_plugin_export

__all__ = [
    "DataStore",
    "InMemoryDataStore",
    "MySQLConfig",
    "MySQLDataStore",
    "RedisConfig",
    "RedisDataStore",
]


def __getattr__(name: str) -> Any:
    return load_plugin_export(__name__, name)
