"""Worker processes sharing one Redis: each task runs once.

A killed worker's tasks running again is the conformance suite's scenario (test_conformance.py).
"""

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
