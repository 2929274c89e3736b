"""The taskshed plugin entry point: serves ``redis://``, ``rediss://`` and ``unix://`` URLs."""

from __future__ import annotations

from typing import TYPE_CHECKING

from taskshed.backends import DataStoreBackend, NotifierBackend
from taskshed.errors import ConfigurationError
from taskshed.markers import hookimpl

if TYPE_CHECKING:
    from taskshed.datastores.base import DataStore
    from taskshed.notifiers.base import Notifier
    from taskshed.serializers.base import Serializer
    from taskshed.urls import URL


def store_from_url(url: URL, serializer: Serializer) -> DataStore:
    """Build an unstarted :class:`RedisDataStore` from a datastore URL."""
    # Imported here so that loading the plugin (every command does) doesn't import redis-py.
    from taskshed_redis.config import parse_url

    options = parse_url(url)
    try:
        from taskshed_redis.datastore import RedisDataStore
    except ImportError as exc:
        raise ConfigurationError(
            f"the Redis driver is not installed: pip install 'taskshed[redis]' ({exc})"
        ) from None
    return RedisDataStore(
        options.config,
        prefix=options.prefix,
        hash_tag=options.hash_tag,
        allow_eviction=options.allow_eviction,
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


def notifier_from_url(url: URL) -> Notifier:
    """Build an unstarted :class:`RedisNotifier` from a notifier URL."""
    from taskshed_redis.notify import open_notifier

    return open_notifier(url)


@hookimpl
def taskshed_notifier_backends() -> list[NotifierBackend]:
    return [
        NotifierBackend(
            schemes=("redis", "rediss", "unix"),
            factory=notifier_from_url,
            description="Redis pub/sub on connections of its own; the channel is scoped to "
            "the URL's database and prefix. Pairs with any store.",
            examples=(
                "redis://localhost:6379/0",
                "redis://localhost:6379/0?prefix=myapp",
            ),
        )
    ]
