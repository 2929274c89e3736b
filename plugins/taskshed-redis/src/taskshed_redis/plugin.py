"""The taskshed plugin entry point: serves ``redis://``, ``rediss://`` and ``unix://`` URLs."""

from __future__ import annotations

from typing import TYPE_CHECKING

from taskshed.backends import DataStoreBackend
from taskshed.markers import hookimpl

if TYPE_CHECKING:
    from taskshed.datastores.base import DataStore
    from taskshed.serializers.base import Serializer
    from taskshed.urls import URL


def store_from_url(url: URL, serializer: Serializer) -> DataStore:
    """Build an unstarted :class:`RedisDataStore` from a datastore URL."""
    # Imported here so that listing plugins doesn't import redis-py.
    from taskshed_redis.config import parse_url
    from taskshed_redis.datastore import RedisDataStore

    options = parse_url(url)
    return RedisDataStore(
        options.config,
        prefix=options.prefix,
        hash_tag=options.hash_tag,
        serializer=serializer,
    )


@hookimpl
def taskshed_datastore_backends() -> list[DataStoreBackend]:
    return [
        DataStoreBackend(
            schemes=("redis", "rediss", "unix"),
            factory=store_from_url,
            description="Redis (TaskShed 0.10 key layout, atomic Lua claims); rediss:// is TLS.",
            examples=(
                "redis://localhost:6379/0",
                "rediss://user:password@redis.example.com:6380/0",
                "unix:///var/run/redis/redis.sock?db=0",
                "redis://localhost:6379/0?prefix=myapp&hash_tag=1",
            ),
        )
    ]
