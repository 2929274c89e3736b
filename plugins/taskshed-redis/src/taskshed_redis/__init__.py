"""The Redis datastore plugin of taskshed: TaskShed 0.10's layout with atomic Lua claims.

``RedisDataStore`` is imported on first use, so that loading the plugin (which
every ``taskshed`` command does) doesn't import redis-py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from taskshed_redis.config import RedisConfig

if TYPE_CHECKING:
    from taskshed_redis.datastore import RedisDataStore

__all__ = ["RedisConfig", "RedisDataStore"]


def __getattr__(name: str) -> Any:
    if name == "RedisDataStore":
        from taskshed_redis.datastore import RedisDataStore

        return RedisDataStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
