"""The seed page's example, with a RedisDataStore in place of InMemoryDataStore, prints its latency."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from taskshed_redis.config import RedisConfig

from tests.seed import run_until_line, seed_example

pytestmark = [pytest.mark.redis, pytest.mark.slow]


async def test_seed_example_runs_on_redis(
    redis_config: RedisConfig, prefix: str, tmp_path: Path
) -> None:
    example = seed_example()
    assert example.count("InMemoryDataStore") == 2
    # The example's own store, on the test's database under the test's prefix
    # (RedisDataStore()'s defaults are checked in test_connections.py).
    config = (
        f"RedisConfig(host={redis_config.host!r}, port={redis_config.port}, db={redis_config.db})"
    )
    script = example.replace(
        "from taskshed.datastores import InMemoryDataStore",
        "from taskshed.datastores import RedisConfig, RedisDataStore",
    ).replace("InMemoryDataStore()", f"RedisDataStore({config}, prefix={prefix!r})")
    assert "InMemoryDataStore" not in script
    client = aioredis.Redis(**redis_config.client_kwargs())
    try:
        lines = run_until_line(script, "Latency:", tmp_path, timeout=30)
    finally:
        keys = [key async for key in client.scan_iter(match=f"*{prefix}*", count=1000)]
        if keys:
            await client.delete(*keys)
        await client.aclose()
    text = "\n".join(lines)
    assert "Executed at:" in text and "Scheduled for:" in text
    match = re.search(r"Latency:\s+(-?[\d.]+(?:e[-+]?\d+)?) s", text)
    assert match is not None, text
    # Not before its time; how soon after is for benchmarks/, not for a loaded CI box.
    assert float(match.group(1)) >= 0
