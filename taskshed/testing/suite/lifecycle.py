"""start/shutdown, shutdown while calls are in flight, and what other store objects on the same URL see."""

from __future__ import annotations

import asyncio

import pytest

from taskshed.datastores.base import DataStore
from taskshed.testing.suite.base import HOUR, T0, SuiteBase, store_test


class LifecycleTests(SuiteBase):
    @store_test
    async def test_start_and_shutdown_may_be_repeated(self, store: DataStore) -> None:
        await store.start()  # already started by the suite
        await store.add_tasks([self.task("t")])
        other = await self.open_store()
        await other.start()
        await other.shutdown()
        await other.shutdown()
        assert await self.stored_ids(store, "t") == {"t"}, (
            "a second start() must be a no-op, and shutting down another store object "
            "(twice) must not disturb this one"
        )

    @store_test
    async def test_instances_on_one_url_share_tasks_and_claims(self, store: DataStore) -> None:
        if not self.shared_between_instances:
            pytest.skip("store objects on one URL do not share tasks (shared_between_instances)")
        other = await self.open_store()
        await store.add_tasks([self.task("t", group_id="g")])
        assert await self.stored_ids(other, "t") == {"t"}, (
            "a task added through one store object must be seen by another on the same URL"
        )
        [claim] = await other.acquire_tasks(worker_id="o", now=T0, lease_until=T0 + HOUR, limit=1)
        assert (
            await store.acquire_tasks(worker_id="s", now=T0, lease_until=T0 + HOUR, limit=1) == []
        ), "a claim taken through one store object must exclude claims through another"
        assert await store.release_tasks([claim]) == {"t"}, (
            "a claim's token must be valid on any store object on the same URL"
        )
        await other.remove_group_tasks("g")
        assert await store.fetch_tasks(["t"]) == [], (
            "a removal through one store object must be seen by another"
        )

    @store_test
    async def test_tasks_survive_shutdown(self, store: DataStore) -> None:
        if not self.persistent:
            pytest.skip("the store keeps nothing after shutdown (persistent = False)")
        first = await self.open_store()
        task = self.task("kept", kwargs={"v": [1, 2]}, group_id="g", paused=True)
        await first.add_tasks([task])
        await first.shutdown()
        second = await self.open_store()
        self.assert_same_task(await self.fetch_one(second, "kept"), task)

    @store_test
    async def test_shutdown_while_calls_are_in_flight(self, store: DataStore) -> None:
        """shutdown() may run while other calls are in flight: it returns, and every call
        either completes or raises an exception; no write is left half-done."""
        victim = await self.open_store() if self.shared_between_instances else store
        batches = 12
        calls: list[asyncio.Task[object]] = []
        for n in range(batches):
            batch = [self.task(f"b{n}-{i}", T0 - HOUR, group_id=f"batch{n}") for i in range(10)]
            calls.append(asyncio.ensure_future(victim.add_tasks(batch)))
            calls.append(asyncio.ensure_future(victim.fetch_due_tasks(T0)))
            calls.append(
                asyncio.ensure_future(
                    victim.acquire_tasks(worker_id=f"w{n}", now=T0, lease_until=T0 + HOUR, limit=5)
                )
            )
        for _ in range(3):
            await asyncio.sleep(0)  # let the calls get under way
        await victim.shutdown()
        done, pending = await asyncio.wait(calls, timeout=self.wait_timeout)
        assert not pending, (
            f"{len(pending)} call(s) still hung {self.wait_timeout} s after shutdown(); "
            "a call in flight at shutdown must complete or raise"
        )
        for call in done:
            assert not call.cancelled(), (
                "a call in flight at shutdown was cancelled; it must complete or raise an "
                "exception (ideally DataStoreError), never hand its caller a CancelledError"
            )
            call.exception()  # any exception is allowed: retrieve it so none is logged
        if victim is store:
            await store.start()  # the only way to look at a store no other object shares
        for n in range(batches):
            stored = len(await store.fetch_group_tasks(f"batch{n}"))
            assert stored in (0, 10), (
                f"add_tasks interrupted by shutdown() left {stored} of its 10 tasks: "
                "a write must be all or nothing"
            )
