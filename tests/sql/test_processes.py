"""Claims hold across processes: 4 worker processes, 2,000 tasks due at once, each run once (G1).

A worker SIGKILLed mid-callback is the conformance suite's scenario (test_conformance.py).
"""

from __future__ import annotations

import pytest
from taskshed_sqlalchemy import migrate
from taskshed_sqlalchemy.engines import create_engine
from taskshed_sqlalchemy.urls import engine_spec

from taskshed.testing.processes import run_worker_processes

pytestmark = pytest.mark.slow


async def _upgrade(url: str) -> None:
    engine = create_engine(engine_spec(url))
    try:
        await migrate.upgrade(engine)
    finally:
        await engine.dispose()


@pytest.mark.parametrize("worker", ["polling", "event"])
async def test_four_processes_run_2000_due_tasks_exactly_once(sql_url: str, worker: str) -> None:
    await _upgrade(sql_url)
    run = await run_worker_processes(
        sql_url,
        processes=4,
        tasks=2000,
        worker=worker,
        batch_size=100,
        max_concurrency=100,
        polling_interval=0.05,
        lease=30.0,
        timeout=150,
    )
    print(f"\n[{worker}] {run.describe()}")
    assert not run.timed_out, run.describe()
    assert not run.missing, run.describe()
    assert not run.duplicates, run.describe()
    assert not run.restarted, run.describe()
    assert not run.left_in_store, run.describe()
    # Every process took part: the claims were shared out, not serialized on one.
    assert sum(1 for counts in run.completions_by_worker.values() if counts) >= 2, run.describe()
