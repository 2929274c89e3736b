"""A Redis that may evict keys would lose tasks silently: the store refuses it unless told otherwise."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from taskshed_redis import RedisDataStore
from taskshed_redis.config import parse_url

from taskshed.errors import ConfigurationError
from taskshed.models import Task
from tests.support.redis_server import running_redis

pytestmark = pytest.mark.redis


def _store(url: str, **options: object) -> RedisDataStore:
    parsed = parse_url(url)
    return RedisDataStore(
        parsed.config,
        prefix="evict",
        allow_eviction=bool(options.get("allow_eviction", parsed.allow_eviction)),
    )


@pytest.mark.parametrize("policy", ["allkeys-lru", "allkeys-lfu", "allkeys-random"])
async def test_an_evicting_server_is_refused_with_the_reason(tmp_path: Path, policy: str) -> None:
    with running_redis(tmp_path, "--maxmemory", "3mb", "--maxmemory-policy", policy) as server:
        store = _store(server.url)
        with pytest.raises(ConfigurationError, match=f"maxmemory-policy is {policy}"):
            await store.start()
        await store.shutdown()


@pytest.mark.parametrize(
    ("args", "why"),
    [
        (("--maxmemory", "3mb", "--maxmemory-policy", "noeviction"), "full means refused writes"),
        (("--maxmemory", "3mb", "--maxmemory-policy", "volatile-lru"), "task keys have no TTL"),
        (("--maxmemory-policy", "allkeys-lru"), "no maxmemory: nothing is evicted"),
    ],
)
async def test_servers_that_never_evict_tasks_are_accepted(
    tmp_path: Path, args: tuple[str, ...], why: str
) -> None:
    with running_redis(tmp_path, *args) as server:
        store = _store(server.url)
        await store.start()
        try:
            await store.add_tasks([Task(callback="cb", task_id="kept")])
            assert [t.task_id for t in await store.fetch_tasks(["kept"])] == ["kept"], why
        finally:
            await store.shutdown()


async def test_allow_eviction_starts_and_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with running_redis(
        tmp_path, "--maxmemory", "3mb", "--maxmemory-policy", "allkeys-lru"
    ) as server:
        store = _store(server.url + "?allow_eviction=1")
        assert store.allow_eviction
        with caplog.at_level(logging.WARNING, logger="taskshed_redis"):
            await store.start()
        await store.shutdown()
    assert any("may delete stored tasks" in r.getMessage() for r in caplog.records)


def test_the_url_option_is_a_flag() -> None:
    assert parse_url("redis://localhost/0?allow_eviction=true").allow_eviction
    assert not parse_url("redis://localhost/0").allow_eviction
    with pytest.raises(ConfigurationError, match="allow_eviction"):
        parse_url("redis://localhost/0?allow_eviction=maybe")
