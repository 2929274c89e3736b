"""Pause and resume, by id and by group, with the reference's paused_at rules (G3)."""

from __future__ import annotations

import pytest

from taskshed.claims import Completion
from taskshed.datastores.base import DataStore
from taskshed.errors import TaskNotFoundError
from taskshed.testing.suite.base import HOUR, MINUTE, T0, SuiteBase, store_test
from taskshed.timeutils import utcnow


class PauseTests(SuiteBase):
    @store_test
    async def test_pausing_stamps_paused_at_and_hides_the_task(self, store: DataStore) -> None:
        await store.add_tasks([self.task("t", T0 - MINUTE), self.task("other", T0 + HOUR)])
        before = utcnow()
        await store.update_tasks_paused_status(["t"], True)
        after = utcnow()
        task = await self.fetch_one(store, "t")
        assert task.paused
        assert task.paused_at is not None
        slack = self.time_resolution
        assert before - slack <= task.paused_at <= after + slack, "paused_at is not the pause time"
        self.assert_same_instant(task.run_at, T0 - MINUTE, "run_at of a paused task")
        assert [t.task_id for t in await store.fetch_due_tasks(T0 + HOUR)] == ["other"]
        assert (
            await store.acquire_tasks(worker_id="w", now=T0, lease_until=T0 + HOUR, limit=9) == []
        )
        self.assert_same_instant(await store.fetch_next_wakeup(), T0 + HOUR, "next wakeup")

    @store_test
    async def test_pausing_twice_keeps_the_first_paused_at(self, store: DataStore) -> None:
        await store.add_tasks([self.task("t"), self.task("g", group_id="grp")])
        await store.update_tasks_paused_status(["t"], True)
        await store.update_group_paused_status("grp", True)
        first_t = (await self.fetch_one(store, "t")).paused_at
        first_g = (await self.fetch_one(store, "g")).paused_at
        assert first_t is not None and first_g is not None
        await self.clock_past(max(first_t, first_g))
        await store.update_tasks_paused_status(["t", "g"], True)
        await store.update_group_paused_status("grp", True)
        self.assert_same_instant((await self.fetch_one(store, "t")).paused_at, first_t, "paused_at")
        self.assert_same_instant((await self.fetch_one(store, "g")).paused_at, first_g, "paused_at")

    @store_test
    async def test_a_task_added_paused_keeps_its_paused_at(self, store: DataStore) -> None:
        await store.add_tasks([self.task("t", paused=True, paused_at=T0 - HOUR)])
        await store.update_tasks_paused_status(["t"], True)
        task = await self.fetch_one(store, "t")
        assert task.paused
        self.assert_same_instant(task.paused_at, T0 - HOUR, "paused_at")

    @store_test
    async def test_resuming_clears_paused_at_and_keeps_run_at(self, store: DataStore) -> None:
        await store.add_tasks([self.task("t", T0 - MINUTE, paused=True)])
        await store.update_tasks_paused_status(["t"], False)
        task = await self.fetch_one(store, "t")
        assert not task.paused and task.paused_at is None
        self.assert_same_instant(task.run_at, T0 - MINUTE, "run_at after resume")
        claims = await store.acquire_tasks(worker_id="w", now=T0, lease_until=T0 + HOUR, limit=9)
        assert [c.task_id for c in claims] == ["t"]
        # Resuming a task that is not paused changes nothing.
        await store.update_tasks_paused_status(["t"], False)
        assert not (await self.fetch_one(store, "t")).paused

    @store_test
    async def test_pausing_an_unknown_id_raises_and_changes_nothing(self, store: DataStore) -> None:
        await store.add_tasks([self.task("a"), self.task("b", paused=True, paused_at=T0)])
        with pytest.raises(TaskNotFoundError):
            await store.update_tasks_paused_status(["a", "missing"], True)
        assert not (await self.fetch_one(store, "a")).paused
        with pytest.raises(TaskNotFoundError):
            await store.update_tasks_paused_status(["b", "missing"], False)
        assert (await self.fetch_one(store, "b")).paused

    @store_test
    async def test_group_pause_and_resume_touch_only_the_group(self, store: DataStore) -> None:
        await store.add_tasks(
            [
                self.task("g1", group_id="g"),
                self.task("g2", group_id="g"),
                self.task("h1", group_id="h"),
                self.task("loose"),
            ]
        )
        await store.update_group_paused_status("g", True)
        paused = {t.task_id: t.paused for t in await store.fetch_tasks(["g1", "g2", "h1", "loose"])}
        assert paused == {"g1": True, "g2": True, "h1": False, "loose": False}
        claims = await store.acquire_tasks(worker_id="w", now=T0, lease_until=T0 + HOUR, limit=9)
        assert {c.task_id for c in claims} == {"h1", "loose"}
        await store.update_group_paused_status("g", False)
        for task in await store.fetch_group_tasks("g"):
            assert not task.paused and task.paused_at is None
        await store.update_group_paused_status("no-such-group", True)  # no error

    @store_test
    async def test_a_pause_does_not_revoke_a_claim(self, store: DataStore) -> None:
        await store.add_tasks([self.task("t")])
        [claim] = await store.acquire_tasks(worker_id="w", now=T0, lease_until=T0 + HOUR, limit=1)
        await store.update_tasks_paused_status(["t"], True)
        assert await store.extend_leases([claim], T0 + 2 * HOUR) == {"t"}
        assert await store.complete_tasks([Completion("t", claim.token, None)]) == {"t"}
        assert await store.fetch_tasks(["t"]) == []
