"""Racing clients and processes: each due task is claimed once, and no interleaving breaks the layout."""

from __future__ import annotations

import asyncio
import random
import sys
from asyncio.subprocess import PIPE
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from taskshed_redis import RedisDataStore
from taskshed_redis.config import RedisConfig

from taskshed.claims import Completion
from taskshed.timeutils import utcnow
from tests.redis.helpers import T0, Raw, check_layout, once

pytestmark = [pytest.mark.redis]

ROOT = Path(__file__).resolve().parents[2]
PROCESSES = 4
CLIENTS = 4
TASKS = 1000


async def race(
    redis_url: str, prefix: str, raw: Raw, store: RedisDataStore, mode: str
) -> Counter[str]:
    """Schedule TASKS due tasks, let PROCESSES x CLIENTS clients claim them at once, count the claims."""
    now = utcnow() - timedelta(seconds=1)
    await store.add_tasks([once(f"t{i:04d}", now) for i in range(TASKS)])
    command = [
        sys.executable,
        "-m",
        "tests.redis.claim_racer",
        redis_url,
        prefix,
        str(CLIENTS),
        mode,
    ]
    procs = [
        await asyncio.create_subprocess_exec(*command, cwd=ROOT, stdout=PIPE, stderr=PIPE)
        for _ in range(PROCESSES)
    ]
    try:
        for _ in procs:
            ready = await raw.blpop([f"{prefix}:race:ready"], timeout=30)
            assert ready is not None, "a racer did not start"
        await raw.rpush(f"{prefix}:race:go", *["go"] * PROCESSES)
        outputs = await asyncio.wait_for(
            asyncio.gather(*(proc.communicate() for proc in procs)), timeout=60
        )
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    for proc, (_, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err.decode()
    return Counter(line for out, _ in outputs for line in out.decode().split())


@pytest.mark.slow
async def test_racing_processes_claim_each_task_exactly_once(
    redis_url: str, prefix: str, raw: Raw, store: RedisDataStore
) -> None:
    claimed = await race(redis_url, prefix, raw, store, "atomic")
    assert set(claimed) == {f"t{i:04d}" for i in range(TASKS)}
    assert [task_id for task_id, n in claimed.items() if n > 1] == []
    assert await check_layout(raw, store) == []


@pytest.mark.slow
async def test_the_race_catches_a_claim_that_is_not_atomic(
    redis_url: str, prefix: str, raw: Raw, store: RedisDataStore
) -> None:
    # The same race with a read-then-write claim: tasks get claimed twice.
    claimed = await race(redis_url, prefix, raw, store, "naive")
    assert set(claimed) == {f"t{i:04d}" for i in range(TASKS)}
    assert any(n > 1 for n in claimed.values())


async def test_interleaved_writers_never_leave_the_layout_inconsistent(
    redis_config: RedisConfig, prefix: str, raw: Raw
) -> None:
    stores = [RedisDataStore(redis_config, prefix=prefix) for _ in range(6)]
    for s in stores:
        await s.start()
    ids = [f"t{i}" for i in range(12)]
    groups = ["g1", "g2", "g3"]

    async def churn(store: RedisDataStore, seed: int) -> None:
        rng = random.Random(seed)
        for _ in range(150):
            op = rng.randrange(9)
            some = rng.sample(ids, 3)
            try:
                if op == 0:
                    await store.add_tasks(
                        [
                            once(
                                i,
                                T0 + rng.randrange(5) * timedelta(seconds=1),
                                group_id=rng.choice([*groups, None]),
                            )
                            for i in some
                        ]
                    )
                elif op == 1:
                    await store.add_tasks(
                        [once(i, group_id=rng.choice(groups)) for i in some], replace_existing=False
                    )
                elif op == 2:
                    await store.remove_tasks(some)
                elif op == 3:
                    await store.remove_group_tasks(rng.choice(groups))
                elif op == 4:
                    await store.update_group_paused_status(rng.choice(groups), rng.random() < 0.5)
                elif op == 5:
                    claims = await store.acquire_tasks(
                        worker_id="w",
                        now=T0 + 10 * timedelta(seconds=1),
                        lease_until=T0 + timedelta(minutes=1),
                        limit=3,
                    )
                    done = [
                        Completion(c.task_id, c.token, None if rng.random() < 0.5 else T0)
                        for c in claims
                    ]
                    await store.complete_tasks(done)
                elif op == 6:
                    await store.update_tasks_paused_status(some, rng.random() < 0.5)
                elif op == 7:
                    from taskshed.models import TaskExecutionTime

                    await store.update_execution_times(
                        [TaskExecutionTime(task_id=i, run_at=T0) for i in some]
                    )
                else:
                    claims = await store.acquire_tasks(
                        worker_id="w",
                        now=T0 + 10 * timedelta(seconds=1),
                        lease_until=T0 + timedelta(minutes=1),
                        limit=2,
                    )
                    await store.release_tasks(claims)
            except LookupError:
                pass  # an id another writer just removed

    try:
        await asyncio.wait_for(
            asyncio.gather(*(churn(s, n) for n, s in enumerate(stores))), timeout=60
        )
        assert await check_layout(raw, stores[0]) == []
    finally:
        for s in stores:
            await s.shutdown()
