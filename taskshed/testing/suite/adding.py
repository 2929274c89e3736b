"""add_tasks: storing, replacing, keeping, and group membership on replace."""

from __future__ import annotations

from datetime import timedelta, timezone

from taskshed.claims import Completion
from taskshed.datastores.base import DataStore
from taskshed.testing.suite.base import HOUR, MINUTE, T0, SuiteBase, store_test


class AddTests(SuiteBase):
    @store_test
    async def test_added_tasks_come_back_with_every_field(self, store: DataStore) -> None:
        tasks = [
            self.task("once"),
            self.task(
                "recurring",
                T0 + MINUTE,
                run_type="recurring",
                interval=timedelta(seconds=90, microseconds=500_000),
                kwargs={"a": 1, "b": [1, "x", None], "c": {"d": True}},
                group_id="g",
                coalesce=False,
            ),
            self.task("paused", T0 + HOUR, paused=True, paused_at=T0 - HOUR),
        ]
        await store.add_tasks(tasks)
        stored = {
            task.task_id: task for task in await store.fetch_tasks(["once", "recurring", "paused"])
        }
        assert set(stored) == {"once", "recurring", "paused"}, (
            "every task add_tasks stored must come back from fetch_tasks"
        )
        for task in tasks:
            self.assert_same_task(stored[task.task_id], task)
        assert all(task.run_at.tzinfo is not None for task in stored.values()), (
            "run_at must come back timezone-aware"
        )
        assert stored["recurring"].interval_seconds() == 90.5, (
            "an interval of 90.5 s must come back as 90.5 s"
        )

    @store_test
    async def test_replace_existing_overwrites_the_whole_task(self, store: DataStore) -> None:
        await store.add_tasks([self.task("t", kwargs={"old": 1}, group_id="g1", paused=True)])
        new = self.task(
            "t", T0 + HOUR, callback="other", kwargs={"new": 2}, run_type="recurring", interval=HOUR
        )
        await store.add_tasks([new], replace_existing=True)
        self.assert_same_task(await self.fetch_one(store, "t"), new)

    @store_test
    async def test_replace_is_the_default(self, store: DataStore) -> None:
        await store.add_tasks([self.task("t", kwargs={"v": 1})])
        await store.add_tasks([self.task("t", kwargs={"v": 2})])
        assert (await self.fetch_one(store, "t")).kwargs == {"v": 2}, (
            "add_tasks without replace_existing= must replace an existing task (the default)"
        )

    @store_test
    async def test_without_replace_existing_old_tasks_stay_and_new_ones_are_added(
        self, store: DataStore
    ) -> None:
        old = self.task("old", kwargs={"v": 1}, group_id="g")
        await store.add_tasks([old])
        await store.add_tasks(
            [self.task("old", T0 + HOUR, kwargs={"v": 2}, group_id="h"), self.task("new")],
            replace_existing=False,
        )
        self.assert_same_task(await self.fetch_one(store, "old"), old)
        assert await self.stored_ids(store, "old", "new") == {"old", "new"}, (
            "replace_existing=False must still add the new ids"
        )
        assert [t.task_id for t in await store.fetch_group_tasks("g")] == ["old"], (
            "replace_existing=False must leave the existing task in its group"
        )
        assert await store.fetch_group_tasks("h") == [], (
            "the ignored duplicate must not join its group"
        )

    @store_test
    async def test_replacing_moves_the_task_between_groups(self, store: DataStore) -> None:
        await store.add_tasks([self.task("t", group_id="first"), self.task("u", group_id="first")])
        await store.add_tasks([self.task("t", group_id="second")])
        assert [t.task_id for t in await store.fetch_group_tasks("first")] == ["u"], (
            "a replaced task must leave its old group"
        )
        assert [t.task_id for t in await store.fetch_group_tasks("second")] == ["t"], (
            "a replaced task must join its new group"
        )
        await store.add_tasks([self.task("t")])  # and out of any group
        assert await store.fetch_group_tasks("second") == [], (
            "a task replaced by one without a group must leave its group"
        )
        await store.remove_group_tasks("second")
        assert await self.stored_ids(store, "t") == {"t"}, (
            "removing a group the task has left must not remove the task"
        )

    @store_test
    async def test_replacing_drops_the_claim_on_the_old_task(self, store: DataStore) -> None:
        await store.add_tasks([self.task("t", kwargs={"v": 1})])
        [claim] = await store.acquire_tasks(worker_id="w1", now=T0, lease_until=T0 + HOUR, limit=10)
        await store.add_tasks([self.task("t", kwargs={"v": 2})])
        # The replacement is a new task: claimable at once, and the old claim is stale.
        [again] = await store.acquire_tasks(worker_id="w2", now=T0, lease_until=T0 + HOUR, limit=10)
        assert again.task.kwargs == {"v": 2}, "the claim must carry the replacement's kwargs"
        assert again.token != claim.token, "the replacement's claim must get a new token"
        assert await store.complete_tasks([Completion("t", claim.token, None)]) == set(), (
            "a completion with the replaced task's token must be stale"
        )
        assert (await self.fetch_one(store, "t")).kwargs == {"v": 2}, (
            "a stale completion must not delete the replacement"
        )

    @store_test
    async def test_a_later_duplicate_in_one_call_wins(self, store: DataStore) -> None:
        await store.add_tasks([self.task("t", kwargs={"v": 1}), self.task("t", kwargs={"v": 2})])
        stored = await store.fetch_tasks(["t"])
        assert [t.kwargs for t in stored] == [{"v": 2}], (
            "of two tasks with one id in one add_tasks call, the later must win"
        )

    @store_test
    async def test_adding_nothing_changes_nothing(self, store: DataStore) -> None:
        await store.add_tasks([self.task("t")])
        await store.add_tasks([])
        await store.add_tasks([], replace_existing=False)
        assert await self.stored_ids(store, "t") == {"t"}, "add_tasks([]) must change nothing"

    @store_test
    async def test_many_tasks_in_one_call(self, store: DataStore) -> None:
        ids = [f"bulk-{n}" for n in range(500)]
        await store.add_tasks(self.task(task_id, T0 + n * MINUTE) for n, task_id in enumerate(ids))
        assert await self.stored_ids(store, *ids) == set(ids), (
            "all 500 tasks of one add_tasks call must be stored"
        )
        due = await store.fetch_due_tasks(T0 + 1000 * HOUR)
        assert [t.task_id for t in due] == ids, (
            "fetch_due_tasks must return the 500 tasks earliest first"
        )

    @store_test
    async def test_returned_times_are_aware_utc(self, store: DataStore) -> None:
        await store.add_tasks([self.task("t", paused=True)])
        task = await self.fetch_one(store, "t")
        assert task.run_at.utcoffset() == timedelta(0), "run_at must come back in UTC"
        assert task.paused_at is not None and task.paused_at.utcoffset() == timedelta(0), (
            "paused_at must come back in UTC"
        )
        assert task.run_at.astimezone(timezone.utc) == task.run_at, "run_at must be aware UTC"
