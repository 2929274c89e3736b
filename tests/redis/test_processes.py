"""Worker processes sharing one Redis: each task runs once, and a killed worker's tasks run again."""

from __future__ import annotations

import pytest

from taskshed.testing.processes import run_worker_processes
from tests.redis.helpers import Raw

pytestmark = [pytest.mark.redis, pytest.mark.slow]


def store_url(redis_url: str, prefix: str) -> str:
    return f"{redis_url}?prefix={prefix}"


async def test_four_processes_run_2000_due_tasks_exactly_once(
    redis_url: str, prefix: str, raw: Raw
) -> None:
    run = await run_worker_processes(
        store_url(redis_url, prefix),
        processes=4,
        tasks=2000,
        timeout=120,
        max_concurrency=50,
        batch_size=50,
    )
    assert not run.timed_out, run.describe()
    assert not run.missing, run.describe()
    assert not run.duplicates and not run.restarted, run.describe()
    assert not run.left_in_store, run.describe()
    # the work was shared, not done by one process
    assert sum(1 for counts in run.completions_by_worker.values() if counts) > 1, run.describe()


async def test_a_killed_workers_tasks_run_again_after_its_lease(
    redis_url: str, prefix: str, raw: Raw
) -> None:
    lease = 2.0
    run = await run_worker_processes(
        store_url(redis_url, prefix),
        processes=4,
        tasks=40,
        callback_duration=1.0,
        lease=lease,
        kill_after_starts=3,
        timeout=60,
    )
    assert not run.timed_out, run.describe()
    assert run.killed_worker is not None and run.interrupted, run.describe()
    assert not run.missing and not run.left_in_store, run.describe()
    assert run.interrupted <= set(run.restarted), run.describe()
    assert set(run.restarted) <= run.started_by_killed, run.describe()
    # the second start waited for the lease, not less
    for task_id in run.interrupted:
        assert run.restart_delays[task_id] >= lease * 0.9, run.describe()
