"""remove_tasks, remove_group_tasks, remove_all_tasks: exactly what was asked, nothing more."""

from __future__ import annotations

from taskshed.claims import Completion
from taskshed.datastores.base import DataStore
from taskshed.testing.suite.base import HOUR, T0, SuiteBase, store_test


class RemoveTests(SuiteBase):
    @store_test
    async def test_remove_tasks_removes_only_those_ids(self, store: DataStore) -> None:
        await store.add_tasks(
            [self.task("a", group_id="g"), self.task("b", group_id="g"), self.task("c")]
        )
        await store.remove_tasks(["a", "c", "missing"])
        assert await self.stored_ids(store, "a", "b", "c") == {"b"}, (
            "remove_tasks must remove exactly the ids given (an unknown one is ignored)"
        )
        assert [t.task_id for t in await store.fetch_group_tasks("g")] == ["b"], (
            "a removed task must leave its group"
        )
        await store.remove_tasks([])
        assert await self.stored_ids(store, "b") == {"b"}, "remove_tasks([]) must remove nothing"

    @store_test
    async def test_remove_group_tasks_removes_only_the_group(self, store: DataStore) -> None:
        await store.add_tasks(
            [
                self.task("g1", group_id="g"),
                self.task("g2", group_id="g", paused=True),
                self.task("gg", group_id="gg"),
                self.task("loose"),
            ]
        )
        await store.remove_group_tasks("g")
        assert await self.stored_ids(store, "g1", "g2", "gg", "loose") == {"gg", "loose"}, (
            "remove_group_tasks('g') must remove the group's tasks (paused too) and nothing "
            "else: not group 'gg', not tasks without a group"
        )
        assert await store.fetch_group_tasks("g") == [], "a removed group must be empty"
        await store.remove_group_tasks("no-such-group")
        assert await self.stored_ids(store, "gg", "loose") == {"gg", "loose"}, (
            "removing an unknown group must remove nothing"
        )

    @store_test
    async def test_remove_all_tasks_empties_the_store(self, store: DataStore) -> None:
        await store.add_tasks(
            [self.task(f"t{n}", group_id="g" if n % 2 else None) for n in range(20)]
        )
        await store.remove_all_tasks()
        assert await store.fetch_due_tasks(T0 + HOUR * 1000) == [], (
            "remove_all_tasks must remove every task"
        )
        assert await store.fetch_group_tasks("g") == [], "remove_all_tasks must empty every group"
        assert await store.fetch_next_wakeup() is None, (
            "after remove_all_tasks there is no next wakeup"
        )
        await store.add_tasks([self.task("after")])  # still usable
        assert await self.stored_ids(store, "after") == {"after"}, (
            "the store must stay usable after remove_all_tasks"
        )

    @store_test
    async def test_a_removed_task_is_not_brought_back_by_its_claim(self, store: DataStore) -> None:
        await store.add_tasks(
            [self.task("once"), self.task("rec", run_type="recurring", interval=HOUR)]
        )
        claims = await store.acquire_tasks(worker_id="w", now=T0, lease_until=T0 + HOUR, limit=9)
        tokens = {c.task_id: c.token for c in claims}
        await store.remove_tasks(["once", "rec"])
        done = await store.complete_tasks(
            [Completion("once", tokens["once"], None), Completion("rec", tokens["rec"], T0 + HOUR)]
        )
        assert done == set(), "completing a removed task must report nothing"
        assert await store.extend_leases(claims, T0 + 2 * HOUR) == set(), (
            "extending the claims of removed tasks must report nothing"
        )
        assert await store.release_tasks(claims) == set(), (
            "releasing the claims of removed tasks must report nothing"
        )
        assert await self.stored_ids(store, "once", "rec") == set(), (
            "a removed task must not be written back by its old claim (complete, extend, release)"
        )
        assert await store.fetch_next_wakeup() is None, (
            "no wakeup may come from a removed task's claim"
        )
