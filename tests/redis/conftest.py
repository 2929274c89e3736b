"""Fixtures for the Redis store tests: a unique key prefix per test, and cleanup."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis
from taskshed_redis import RedisDataStore
from taskshed_redis.config import RedisConfig, parse_url

from tests.redis.helpers import Raw
from tests.support.names import unique_prefix


@pytest.fixture
def redis_config(redis_url: str) -> RedisConfig:
    return parse_url(redis_url).config


@pytest.fixture
def prefix() -> str:
    return unique_prefix()


@pytest.fixture
async def raw(redis_config: RedisConfig, prefix: str) -> AsyncIterator[Raw]:
    """A plain client for writing and inspecting keys directly; deletes the test's keys after."""
    kwargs = redis_config.client_kwargs()
    kwargs["decode_responses"] = True
    client = aioredis.Redis(**kwargs)
    try:
        yield client
    finally:
        # The prefix is unique to this test; with a hash tag it appears in braces.
        keys = [key async for key in client.scan_iter(match=f"*{prefix}*", count=1000)]
        if keys:
            await client.delete(*keys)
        await client.aclose()


@pytest.fixture
async def store(redis_config: RedisConfig, prefix: str, raw: Raw) -> AsyncIterator[RedisDataStore]:
    datastore = RedisDataStore(redis_config, prefix=prefix)
    await datastore.start()
    try:
        yield datastore
    finally:
        await datastore.shutdown()
