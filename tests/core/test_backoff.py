"""Backoff: 0.25 s doubling to 30 s, jittered to 50-100 %, reset by a success (docs/reliability.md)."""

from __future__ import annotations

import asyncio
import random
from datetime import timedelta
from typing import Any

import pytest

from taskshed.datastores import InMemoryDataStore
from taskshed.errors import DataStoreError
from taskshed.models import Task
from taskshed.timeutils import utcnow
from taskshed.workers import EventDrivenWorker
from taskshed.workers.backoff import Backoff, exponential_delay
from tests.support.waiting import wait_until


def test_delays_double_from_a_quarter_second_up_to_thirty() -> None:
    backoff = Backoff(rng=random.Random(7))
    ceilings = [0.25, 0.5, 1, 2, 4, 8, 16, 30, 30, 30]
    for ceiling in ceilings:
        delay = backoff.next_delay()
        assert ceiling * 0.5 <= delay <= ceiling, (ceiling, delay)
    assert backoff.failures == len(ceilings)


def test_the_jitter_spreads_delays_over_half_to_all_of_the_ceiling() -> None:
    rng = random.Random(1)
    delays = [exponential_delay(4.0, 30.0, 1, rng) for _ in range(2000)]
    assert min(delays) >= 2.0 and max(delays) <= 4.0
    assert min(delays) < 2.1 and max(delays) > 3.9, "no jitter: every delay is the same"
    assert len({round(d, 3) for d in delays}) > 500


def test_a_seeded_backoff_repeats_exactly() -> None:
    first = [Backoff(rng=random.Random(42)).next_delay() for _ in range(3)]
    assert first == [Backoff(rng=random.Random(42)).next_delay() for _ in range(3)]


def test_reset_starts_again_from_the_first_delay() -> None:
    backoff = Backoff(rng=random.Random(3))
    for _ in range(6):
        backoff.next_delay()
    backoff.reset()
    assert backoff.failures == 0
    assert backoff.next_delay() <= 0.25


def test_huge_failure_counts_do_not_overflow() -> None:
    assert exponential_delay(0.25, 30.0, 10_000, random.Random(0)) <= 30.0


class FlakyClaims(InMemoryDataStore):
    """A real store whose claims fail ``failures`` times in a row, then work."""

    failures = 0
    calls = 0

    async def acquire_tasks(self, **options: Any) -> Any:
        self.calls += 1
        if self.failures > 0:
            self.failures -= 1
            raise DataStoreError("the server went away (expected by the test)")
        return await super().acquire_tasks(**options)


async def test_the_worker_resets_its_backoff_after_a_success() -> None:
    store = FlakyClaims()
    store.failures = 4
    ran = asyncio.Event()

    async def job() -> None:
        ran.set()

    worker = EventDrivenWorker({"job": job}, store, max_sleep=0.05)
    await worker.start()
    try:
        await store.add_tasks([Task(callback="job", run_at=utcnow())])
        await asyncio.wait_for(ran.wait(), 15)
        # One more outage after the success: the retry comes after the *first* delay again
        # (at most 0.25 s), not the fifth (2-4 s); 1.8 s leaves room for a loaded machine.
        store.failures = 1
        calls = store.calls
        await wait_until(lambda: store.calls >= calls + 2, timeout=1.8, what="a quick retry")
    finally:
        await worker.shutdown()


@pytest.mark.parametrize("seconds", [0.0, -1.0])
def test_a_delay_needs_a_positive_duration(seconds: float) -> None:
    from taskshed.workers.backoff import as_timedelta

    with pytest.raises(ValueError):
        as_timedelta(seconds, "lease")
    assert as_timedelta(timedelta(seconds=2), "lease") == timedelta(seconds=2)
