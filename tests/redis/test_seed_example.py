"""The seed page's example, with RedisDataStore() in place of InMemoryDataStore, prints its latency."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from taskshed_redis import RedisDataStore

from tests.redis.helpers import Raw
from tests.seed import SEED, first_python_block, run_until_line

pytestmark = [pytest.mark.redis, pytest.mark.slow]

CALLBACK = "calculate_job_latency"


async def test_seed_example_runs_on_redis(redis_url: str, tmp_path: Path) -> None:
    if not SEED.exists():
        pytest.skip("shared/seed is not beside this checkout")
    example = first_python_block(SEED)
    assert example.count("InMemoryDataStore") == 2
    script = example.replace("InMemoryDataStore", "RedisDataStore")
    # RedisDataStore() is localhost:6379, db 0, prefix "scheduler", as in 0.10.
    store = RedisDataStore()
    await store.start()
    raw: Raw = store.client
    before = set(await raw.zrange(store.keys.queue, 0, -1))
    try:
        lines = run_until_line(script, "Latency:", tmp_path, timeout=30)
    finally:
        # The example is killed right after its line: drop the task it scheduled
        # if its completion had not reached the store yet.
        new = set(await raw.zrange(store.keys.queue, 0, -1)) - before
        ours = [
            m.decode()
            for m in new
            if await raw.hget(store.keys.task(m.decode()), "callback") == CALLBACK.encode()
        ]
        await store.remove_tasks(ours)
        await store.shutdown()
    text = "\n".join(lines)
    assert "Executed at:" in text and "Scheduled for:" in text
    match = re.search(r"Latency:\s+(-?[\d.]+) s", text)
    assert match is not None, text
    assert 0 <= float(match.group(1)) < 1.0
