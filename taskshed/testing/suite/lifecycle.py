"""start/shutdown, and what other store objects on the same URL see."""

from __future__ import annotations

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
        assert await self.stored_ids(store, "t") == {"t"}

    @store_test
    async def test_instances_on_one_url_share_tasks_and_claims(self, store: DataStore) -> None:
        if not self.shared_between_instances:
            pytest.skip("store objects on one URL do not share tasks (shared_between_instances)")
        other = await self.open_store()
        await store.add_tasks([self.task("t", group_id="g")])
        assert await self.stored_ids(other, "t") == {"t"}
        [claim] = await other.acquire_tasks(worker_id="o", now=T0, lease_until=T0 + HOUR, limit=1)
        assert (
            await store.acquire_tasks(worker_id="s", now=T0, lease_until=T0 + HOUR, limit=1) == []
        )
        assert await store.release_tasks([claim]) == {"t"}  # the token is valid on any instance
        await other.remove_group_tasks("g")
        assert await store.fetch_tasks(["t"]) == []

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
