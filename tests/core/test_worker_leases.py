"""Lease renewal rhythm, and catching up after a resume (docs/concepts.md)."""

from __future__ import annotations

import asyncio
import copy
import time
from datetime import timedelta
from typing import Any

from taskshed.datastores import InMemoryDataStore
from taskshed.models import Task
from taskshed.timeutils import utcnow
from taskshed.workers import EventDrivenWorker
from tests.support.waiting import wait_until


class RenewalLog(InMemoryDataStore):
    """A real store (and its siblings) noting when leases are extended."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.renewals: list[float] = []

    async def extend_leases(self, claims: Any, lease_until: Any) -> set[str]:
        self.renewals.append(time.monotonic())
        return await super().extend_leases(claims, lease_until)

    def sibling(self) -> InMemoryDataStore:
        return copy.copy(self)  # a new object on the same tasks, noting into the same log


async def test_leases_are_renewed_every_third_of_the_lease_while_a_callback_runs() -> None:
    store = RenewalLog()
    started, release = asyncio.Event(), asyncio.Event()

    async def long_job() -> None:
        started.set()
        await release.wait()

    # A third of 4.5 s is 1.5 s; a half (2.25 s) or a quarter (1.1 s) is outside the bounds.
    worker = EventDrivenWorker({"long_job": long_job}, store, lease=4.5)
    await worker.start()
    try:
        await store.add_tasks([Task(callback="long_job", task_id="t")])
        await asyncio.wait_for(started.wait(), 5)
        began = time.monotonic()
        await wait_until(lambda: len(store.renewals) >= 3, timeout=10, what="three renewals")
        gaps = [b - a for a, b in zip(store.renewals, store.renewals[1:], strict=False)]
        assert all(1.25 < gap < 2.0 for gap in gaps), f"renewals {gaps} s apart, expected 1.5 s"
        assert store.renewals[0] - began < 2.0, "the first renewal came later than a third"
    finally:
        release.set()
        await worker.shutdown()


async def test_a_resumed_recurring_task_catches_up_once_with_coalesce() -> None:
    store = InMemoryDataStore()
    runs: list[str] = []

    async def tick(name: str) -> None:
        runs.append(name)

    first = utcnow() + timedelta(seconds=0.1)
    interval = timedelta(milliseconds=200)
    await store.add_tasks(
        [
            Task(callback="tick", run_at=first, task_id="c", kwargs={"name": "c"},
                 run_type="recurring", interval=interval, paused=True),
            Task(callback="tick", run_at=first, task_id="n", kwargs={"name": "n"},
                 run_type="recurring", interval=interval, paused=True, coalesce=False),
        ]
    )  # fmt: skip
    worker = EventDrivenWorker({"tick": tick}, store, max_sleep=0.05)
    await worker.start()
    try:
        await asyncio.sleep(1.1)  # five occurrences pass while paused
        assert runs == [], "a paused task ran"
        await store.update_tasks_paused_status(["c", "n"], False)
        resumed = time.monotonic()
        await worker.update_schedule()
        await wait_until(lambda: runs.count("n") >= 5, timeout=5, what="every missed occurrence")
        # Without coalesce each missed occurrence ran, back to back; with it, one catch-up run
        # and then the schedule: one more per interval since the resume (a slow box has more).
        since = (time.monotonic() - resumed) / interval.total_seconds()
        assert runs.count("c") <= 2 + int(since), f"coalesce ran {runs.count('c')} times"
        [task] = await store.fetch_tasks(["c"])
        assert task.run_at > utcnow() - interval, "the coalesced task did not jump to the future"
    finally:
        await worker.shutdown()
