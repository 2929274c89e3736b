"""Datastores: the contract, the built-in in-memory store, and the plugin stores by name.

``RedisDataStore``/``RedisConfig`` come from the ``taskshed-redis`` plugin and
``MySQLDataStore``/``MySQLConfig`` from ``taskshed-sqlalchemy``; they are
importable from here once installed, as in TaskShed 0.10.
"""

from __future__ import annotations

import importlib
from typing import Any

from taskshed.datastores.base import DataStore
from taskshed.datastores.memory import InMemoryDataStore

__all__ = [
    "DataStore",
    "InMemoryDataStore",
    "MySQLConfig",
    "MySQLDataStore",
    "RedisConfig",
    "RedisDataStore",
]

# name -> (module that provides it, extra that installs it)
_PLUGIN_EXPORTS: dict[str, tuple[str, str]] = {
    "RedisDataStore": ("taskshed_redis", "redis"),
    "RedisConfig": ("taskshed_redis", "redis"),
    "MySQLDataStore": ("taskshed_sqlalchemy", "mysql"),
    "MySQLConfig": ("taskshed_sqlalchemy", "mysql"),
}


def __getattr__(name: str) -> Any:
    try:
        module_name, extra = _PLUGIN_EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ImportError(
            f"{name} needs the {module_name.replace('_', '-')} plugin: "
            f"pip install 'taskshed[{extra}]' ({exc})",
            name=module_name,
        ) from exc
    return getattr(module, name)
