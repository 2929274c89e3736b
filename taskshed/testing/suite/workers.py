"""The real workers on the store under test: what users see when tasks run (G1-G4, G6)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta

import pytest

from taskshed.datastores.base import DataStore
from taskshed.testing.suite.base import HOUR, SuiteBase, store_test
from taskshed.timeutils import utcnow
from taskshed.workers import BaseWorker, EventDrivenWorker, PollingWorker
from taskshed.workers.running import Callback

WORKER_KINDS = ["event", "polling"]


class WorkerTests(SuiteBase):
    #: The lease the worker-level tests give their workers.
    worker_lease: timedelta = timedelta(seconds=10)

    @asynccontextmanager
    async def running_worker(
        self, kind: str, store: DataStore, callbacks: dict[str, Callback]
    ) -> AsyncIterator[BaseWorker]:
        """A started worker of ``kind`` on ``store``, shut down on exit."""
        worker: BaseWorker
        if kind == "event":
            worker = EventDrivenWorker(
                callbacks,
                store,
                max_sleep=timedelta(milliseconds=200),
                lease=self.worker_lease,
                shutdown_timeout=2.0,
            )
        else:
            worker = PollingWorker(
                callbacks,
                store,
                polling_interval=timedelta(milliseconds=50),
                lease=self.worker_lease,
                shutdown_timeout=2.0,
            )
        await worker.start()
        try:
            yield worker
        finally:
            await worker.shutdown()

    async def wait_for_run_at(self, store: DataStore, task_id: str, expected: datetime) -> None:
        async def moved() -> bool:
            found = await store.fetch_tasks([task_id])
            return bool(found) and abs(found[0].run_at - expected) < self.time_resolution

        await self.wait_until(moved, f"task {task_id!r} moved to {expected.isoformat()}")

    async def wait_gone(self, store: DataStore, task_id: str) -> None:
        async def gone() -> bool:
            return not await store.fetch_tasks([task_id])

        await self.wait_until(gone, f"task {task_id!r} was removed")

    @pytest.mark.parametrize("kind", WORKER_KINDS)
    @store_test
    async def test_a_one_off_task_runs_once_and_is_removed_after_its_callback(
        self, store: DataStore, kind: str
    ) -> None:
        calls: list[int] = []
        started, release = asyncio.Event(), asyncio.Event()

        async def callback(n: int) -> None:
            calls.append(n)
            started.set()
            await release.wait()

        await store.add_tasks([self.task("once", utcnow(), callback="cb", kwargs={"n": 7})])
        async with self.running_worker(kind, store, {"cb": callback}):
            try:
                await asyncio.wait_for(started.wait(), self.wait_timeout)
                # G2: while the callback runs, the task is still stored (and claimed).
                assert await self.stored_ids(store, "once") == {"once"}, (
                    "a one-off task must stay stored while its callback runs (G2)"
                )
                assert (
                    await store.acquire_tasks(
                        worker_id="intruder", now=utcnow(), lease_until=utcnow() + HOUR, limit=9
                    )
                    == []
                ), "a running task could be claimed by another worker"
            finally:
                release.set()
            await self.wait_gone(store, "once")
        assert calls == [7], "the one-off callback must run exactly once, with its kwargs"

    @pytest.mark.parametrize("kind", WORKER_KINDS)
    @store_test
    async def test_a_recurring_task_advances_from_its_schedule_without_drift(
        self, store: DataStore, kind: str
    ) -> None:
        calls = 0

        async def callback() -> None:
            nonlocal calls
            calls += 1

        first = utcnow() - timedelta(milliseconds=10)
        await store.add_tasks(
            [self.task("rec", first, callback="cb", run_type="recurring", interval=HOUR)]
        )
        async with self.running_worker(kind, store, {"cb": callback}):
            await self.wait_for_run_at(store, "rec", first + HOUR)
        assert calls == 1, f"the recurring callback ran {calls} times for one due occurrence"

    @pytest.mark.parametrize("kind", WORKER_KINDS)
    @store_test
    async def test_coalesce_runs_a_late_task_once_and_skips_to_the_future(
        self, store: DataStore, kind: str
    ) -> None:
        calls = 0

        async def callback() -> None:
            nonlocal calls
            calls += 1

        first = utcnow() - timedelta(hours=3, minutes=30)
        await store.add_tasks(
            [self.task("late", first, callback="cb", run_type="recurring", interval=HOUR)]
        )
        async with self.running_worker(kind, store, {"cb": callback}):
            await self.wait_for_run_at(store, "late", first + 4 * HOUR)
        assert calls == 1, f"with coalesce, 4 missed occurrences must run once, not {calls} times"

    @pytest.mark.parametrize("kind", WORKER_KINDS)
    @store_test
    async def test_without_coalesce_every_missed_occurrence_runs(
        self, store: DataStore, kind: str
    ) -> None:
        calls = 0

        async def callback() -> None:
            nonlocal calls
            calls += 1

        first = utcnow() - timedelta(hours=2, minutes=30)
        await store.add_tasks(
            [
                self.task(
                    "late",
                    first,
                    callback="cb",
                    run_type="recurring",
                    interval=HOUR,
                    coalesce=False,
                )
            ]
        )
        async with self.running_worker(kind, store, {"cb": callback}):
            await self.wait_for_run_at(store, "late", first + 3 * HOUR)
        assert calls == 3, f"without coalesce, 3 missed occurrences must run 3 times, not {calls}"

    @pytest.mark.parametrize("kind", WORKER_KINDS)
    @store_test
    async def test_tasks_the_worker_cannot_run_stay_stored(
        self, store: DataStore, kind: str
    ) -> None:
        ran: list[str] = []

        async def callback(name: str) -> None:
            ran.append(name)

        now = utcnow()
        unknown = self.task("unknown", now - timedelta(seconds=2), callback="no-such-callback")
        misfit = self.task("misfit", now - timedelta(seconds=1), callback="cb", kwargs={"x": 1})
        paused = self.task("paused", now - timedelta(seconds=1), callback="cb", paused=True)
        await store.add_tasks([unknown, misfit, paused])
        await store.add_tasks([self.task("ok", now, callback="cb", kwargs={"name": "ok"})])
        async with self.running_worker(kind, store, {"cb": callback}):
            await self.wait_gone(store, "ok")
        assert ran == ["ok"], "only the runnable task's callback may run"
        for task in (unknown, misfit, paused):
            self.assert_same_task(await self.fetch_one(store, task.task_id), task)

    @pytest.mark.parametrize("kind", WORKER_KINDS)
    @store_test
    async def test_a_raising_callback_does_not_stop_the_worker(
        self, store: DataStore, kind: str
    ) -> None:
        ran: list[str] = []

        async def explode() -> None:
            ran.append("boom")
            raise RuntimeError("callback failure (expected by the test)")

        async def fine() -> None:
            ran.append("fine")

        await store.add_tasks([self.task("boom", utcnow(), callback="explode")])
        async with self.running_worker(kind, store, {"explode": explode, "fine": fine}) as worker:

            async def exploded() -> bool:
                return "boom" in ran

            await self.wait_until(exploded, "the raising callback ran")
            await store.add_tasks([self.task("after", utcnow(), callback="fine")])
            await worker.update_schedule()
            await self.wait_gone(store, "after")
        assert ran == ["boom", "fine"], "a raising callback must not stop the worker"
