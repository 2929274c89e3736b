"""fetch_tasks, fetch_group_tasks, fetch_due_tasks and fetch_next_wakeup, and their result order."""

from __future__ import annotations

from taskshed.datastores.base import DataStore
from taskshed.testing.suite.base import HOUR, MINUTE, SECOND, T0, SuiteBase, store_test


class ReadTests(SuiteBase):
    @store_test
    async def test_fetch_tasks_skips_unknown_ids(self, store: DataStore) -> None:
        await store.add_tasks([self.task("a"), self.task("b"), self.task("c")])
        assert await self.stored_ids(store, "a", "c", "missing") == {"a", "c"}, (
            "fetch_tasks must return exactly the stored tasks among the ids asked for"
        )
        assert await store.fetch_tasks(["missing"]) == [], (
            "fetch_tasks must skip an unknown id, not fail"
        )
        assert await store.fetch_tasks([]) == [], "fetch_tasks([]) must return []"

    @store_test
    async def test_fetch_tasks_returns_them_in_the_order_asked_for(self, store: DataStore) -> None:
        # Stored in another order, with run_at and ids that sort in yet other orders.
        await store.add_tasks(
            [
                self.task("m", T0 + HOUR),
                self.task("z", T0 - HOUR),
                self.task("a", T0),
                self.task("q", T0 + MINUTE),
            ]
        )
        asked = ["q", "missing", "z", "a", "m", "z"]
        found = [t.task_id for t in await store.fetch_tasks(asked)]
        assert found == ["q", "z", "a", "m"], (
            "fetch_tasks must return tasks in the order of the ids asked for, each once, "
            "unknown ids skipped"
        )

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
        assert {t.task_id for t in await store.fetch_group_tasks("a")} == {"a1", "a2"}, (
            "fetch_group_tasks must return every task of the group, paused ones included"
        )
        assert {t.task_id for t in await store.fetch_group_tasks("b")} == {"b1"}, (
            "fetch_group_tasks must return only the group's tasks"
        )
        assert await store.fetch_group_tasks("nobody") == [], (
            "fetch_group_tasks of an unknown group must return []"
        )

    @store_test
    async def test_fetch_group_tasks_is_earliest_first_then_by_id(self, store: DataStore) -> None:
        await store.add_tasks(
            [
                self.task("late", T0 + HOUR, group_id="g"),
                self.task("tie-b", T0, group_id="g"),
                self.task("early", T0 - HOUR, group_id="g", paused=True),
                self.task("tie-a", T0, group_id="g"),
                self.task("middle", T0 + MINUTE, group_id="g"),
            ]
        )
        found = [t.task_id for t in await store.fetch_group_tasks("g")]
        assert found == ["early", "tie-a", "tie-b", "middle", "late"], (
            "fetch_group_tasks must return the group earliest run_at first, equal run_at by task id"
        )

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
        assert [t.task_id for t in due] == ["early", "late", "exactly-now"], (
            "fetch_due_tasks(dt) must return unpaused tasks with run_at <= dt, earliest first"
        )

    @store_test
    async def test_fetch_due_tasks_includes_claimed_tasks_and_claims_nothing(
        self, store: DataStore
    ) -> None:
        await store.add_tasks([self.task("claimed", T0 - MINUTE), self.task("free", T0)])
        await store.acquire_tasks(worker_id="w", now=T0 - MINUTE, lease_until=T0 + HOUR, limit=1)
        assert [t.task_id for t in await store.fetch_due_tasks(T0)] == ["claimed", "free"], (
            "fetch_due_tasks must include claimed tasks"
        )
        claims = await store.acquire_tasks(worker_id="w", now=T0, lease_until=T0 + HOUR, limit=5)
        assert [c.task_id for c in claims] == ["free"], (
            "fetch_due_tasks must claim nothing: the free task must still be claimable"
        )

    @store_test
    async def test_next_wakeup_is_none_without_unpaused_tasks(self, store: DataStore) -> None:
        assert await store.fetch_next_wakeup() is None, "an empty store has no next wakeup"
        await store.add_tasks([self.task("paused", T0 - HOUR, paused=True)])
        assert await store.fetch_next_wakeup() is None, "a paused task must not wake a worker"

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
        self.assert_same_instant(
            await store.fetch_next_wakeup(),
            T0 + 5 * MINUTE,
            "next wakeup (a claimed task's lease end)",
        )
        # An unclaimed task due before that lease ends wakes the worker first.
        await store.add_tasks([self.task("other", T0 + 2 * MINUTE)])
        self.assert_same_instant(
            await store.fetch_next_wakeup(), T0 + 2 * MINUTE, "next wakeup (an earlier free task)"
        )

    @store_test
    async def test_next_wakeup_follows_changes(self, store: DataStore) -> None:
        await store.add_tasks([self.task("a", T0 + MINUTE), self.task("b", T0 + HOUR)])
        await store.update_tasks_paused_status(["a"], True)
        self.assert_same_instant(await store.fetch_next_wakeup(), T0 + HOUR, "after pausing a")
        await store.update_tasks_paused_status(["a"], False)
        self.assert_same_instant(await store.fetch_next_wakeup(), T0 + MINUTE, "after resuming a")
        await store.remove_tasks(["a"])
        self.assert_same_instant(await store.fetch_next_wakeup(), T0 + HOUR, "after removing a")
