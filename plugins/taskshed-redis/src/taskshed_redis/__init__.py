"""The Redis datastore plugin of taskshed: TaskShed 0.10's layout with atomic Lua claims."""

from taskshed_redis.config import RedisConfig
from taskshed_redis.datastore import RedisDataStore

__all__ = ["RedisConfig", "RedisDataStore"]
