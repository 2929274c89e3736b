"""fetch_tasks, fetch_group_tasks, fetch_due_tasks and fetch_next_wakeup."""

from __future__ import annotations

from taskshed.datastores.base import DataStore
from taskshed.testing.suite.base import HOUR, MINUTE, SECOND, T0, SuiteBase, store_test


class ReadTests(SuiteBase):
    @store_test
    async def test_fetch_tasks_skips_unknown_ids(self, store: DataStore) -> None:
        await store.add_tasks([self.task("a"), self.task("b"), self.task("c")])
        assert await self.stored_ids(store, "a", "c", "missing") == {"a", "c"}
        assert await store.fetch_tasks(["missing"]) == []
        assert await store.fetch_tasks([]) == []

    @store_test
    async def test_fetch_group_tasks_returns_exactly_the_group(self, store: DataStore) -> None:
        await store.add_tasks(
            [
                self.task("a1", group_id="a"),
                self.task("a2", group_id="a", paused=True),
                self.task("b1", group_id="b"),
                self.task("none"),
            ]
        )
        assert {t.task_id for t in await store.fetch_group_tasks("a")} == {"a1", "a2"}
        assert {t.task_id for t in await store.fetch_group_tasks("b")} == {"b1"}
        assert await store.fetch_group_tasks("nobody") == []

    @store_test
    async def test_fetch_due_tasks_is_unpaused_due_earliest_first(self, store: DataStore) -> None:
        await store.add_tasks(
            [
                self.task("late", T0 - SECOND),
                self.task("early", T0 - HOUR),
                self.task("exactly-now", T0),
                self.task("future", T0 + SECOND),
                self.task("paused", T0 - 2 * HOUR, paused=True),
            ]
        )
        due = await store.fetch_due_tasks(T0)
        assert [t.task_id for t in due] == ["early", "late", "exactly-now"]

    @store_test
    async def test_fetch_due_tasks_includes_claimed_tasks_and_claims_nothing(
        self, store: DataStore
    ) -> None:
        await store.add_tasks([self.task("claimed", T0 - MINUTE), self.task("free", T0)])
        await store.acquire_tasks(worker_id="w", now=T0 - MINUTE, lease_until=T0 + HOUR, limit=1)
        assert [t.task_id for t in await store.fetch_due_tasks(T0)] == ["claimed", "free"]
        claims = await store.acquire_tasks(worker_id="w", now=T0, lease_until=T0 + HOUR, limit=5)
        assert [c.task_id for c in claims] == ["free"]

    @store_test
    async def test_next_wakeup_is_none_without_unpaused_tasks(self, store: DataStore) -> None:
        assert await store.fetch_next_wakeup() is None
        await store.add_tasks([self.task("paused", T0 - HOUR, paused=True)])
        assert await store.fetch_next_wakeup() is None

    @store_test
    async def test_next_wakeup_is_the_earliest_unpaused_run_at(self, store: DataStore) -> None:
        await store.add_tasks(
            [
                self.task("later", T0 + HOUR),
                self.task("sooner", T0 + MINUTE),
                self.task("paused", T0 - HOUR, paused=True),
            ]
        )
        self.assert_same_instant(await store.fetch_next_wakeup(), T0 + MINUTE, "next wakeup")

    @store_test
    async def test_next_wakeup_of_a_claimed_task_is_its_lease_end(self, store: DataStore) -> None:
        await store.add_tasks([self.task("claimed", T0 - MINUTE), self.task("other", T0 + HOUR)])
        await store.acquire_tasks(worker_id="w", now=T0, lease_until=T0 + 5 * MINUTE, limit=1)
        self.assert_same_instant(await store.fetch_next_wakeup(), T0 + 5 * MINUTE, "next wakeup")
        # An unclaimed task due before that lease ends wakes the worker first.
        await store.add_tasks([self.task("other", T0 + 2 * MINUTE)])
        self.assert_same_instant(await store.fetch_next_wakeup(), T0 + 2 * MINUTE, "next wakeup")

    @store_test
    async def test_next_wakeup_follows_changes(self, store: DataStore) -> None:
        await store.add_tasks([self.task("a", T0 + MINUTE), self.task("b", T0 + HOUR)])
        await store.update_tasks_paused_status(["a"], True)
        self.assert_same_instant(await store.fetch_next_wakeup(), T0 + HOUR, "after pausing a")
        await store.update_tasks_paused_status(["a"], False)
        self.assert_same_instant(await store.fetch_next_wakeup(), T0 + MINUTE, "after resuming a")
        await store.remove_tasks(["a"])
        self.assert_same_instant(await store.fetch_next_wakeup(), T0 + HOUR, "after removing a")
