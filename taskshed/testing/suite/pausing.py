"""Pause and resume, by id and by group, with the reference's paused_at rules (G3)."""

from __future__ import annotations

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
        assert task.paused, "update_tasks_paused_status(..., True) must pause the task"
        assert task.paused_at is not None, "pausing must stamp paused_at"
        slack = self.time_resolution
        assert before - slack <= task.paused_at <= after + slack, "paused_at is not the pause time"
        self.assert_same_instant(task.run_at, T0 - MINUTE, "run_at of a paused task")
        assert [t.task_id for t in await store.fetch_due_tasks(T0 + HOUR)] == ["other"], (
            "a paused task must not be due"
        )
        assert (
            await store.acquire_tasks(worker_id="w", now=T0, lease_until=T0 + HOUR, limit=9) == []
        ), "a paused task must not be claimed"
        self.assert_same_instant(await store.fetch_next_wakeup(), T0 + HOUR, "next wakeup")

    @store_test
    async def test_pausing_twice_keeps_the_first_paused_at(self, store: DataStore) -> None:
        await store.add_tasks([self.task("t"), self.task("g", group_id="grp")])
        await store.update_tasks_paused_status(["t"], True)
        await store.update_group_paused_status("grp", True)
        first_t = (await self.fetch_one(store, "t")).paused_at
        first_g = (await self.fetch_one(store, "g")).paused_at
        assert first_t is not None and first_g is not None, (
            "pausing by id and by group must stamp paused_at"
        )
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
        assert task.paused, "a task added paused must stay paused when paused again"
        self.assert_same_instant(
            task.paused_at, T0 - HOUR, "paused_at of a task added paused, after pausing it again"
        )

    @store_test
    async def test_resuming_clears_paused_at_and_keeps_run_at(self, store: DataStore) -> None:
        await store.add_tasks([self.task("t", T0 - MINUTE, paused=True)])
        await store.update_tasks_paused_status(["t"], False)
        task = await self.fetch_one(store, "t")
        assert not task.paused and task.paused_at is None, (
            "resuming must clear paused and paused_at"
        )
        self.assert_same_instant(task.run_at, T0 - MINUTE, "run_at after resume")
        claims = await store.acquire_tasks(worker_id="w", now=T0, lease_until=T0 + HOUR, limit=9)
        assert [c.task_id for c in claims] == ["t"], "a resumed due task must be claimable"
        # Resuming a task that is not paused changes nothing.
        await store.update_tasks_paused_status(["t"], False)
        assert not (await self.fetch_one(store, "t")).paused, (
            "resuming a task that is not paused must leave it unpaused"
        )

    @store_test
    async def test_pausing_skips_unknown_ids_and_changes_the_rest(self, store: DataStore) -> None:
        """TaskShed 0.10's rule: a task removed meanwhile must not block a batch."""
        await store.add_tasks([self.task("a"), self.task("b", paused=True, paused_at=T0)])
        found = await store.update_tasks_paused_status(["a", "missing"], True)
        assert found == {"a"}, f"paused ids reported as {found!r}, expected {{'a'}}"
        assert (await self.fetch_one(store, "a")).paused, (
            "a batch with an unknown id paused nothing"
        )
        found = await store.update_tasks_paused_status(["missing", "b"], False)
        assert found == {"b"}, f"resumed ids reported as {found!r}, expected {{'b'}}"
        assert not (await self.fetch_one(store, "b")).paused, (
            "a batch with an unknown id resumed nothing"
        )
        assert await store.update_tasks_paused_status(["missing"], True) == set(), (
            "pausing only unknown ids must report none found"
        )

    @store_test
    async def test_strict_pausing_of_an_unknown_id_raises_and_changes_nothing(
        self, store: DataStore
    ) -> None:
        await store.add_tasks([self.task("a"), self.task("b", paused=True, paused_at=T0)])
        with self.raises(TaskNotFoundError, "a strict pause of an unknown id"):
            await store.update_tasks_paused_status(["a", "missing"], True, strict=True)
        assert not (await self.fetch_one(store, "a")).paused, (
            "a strict pause refused for an unknown id must change nothing (a was paused)"
        )
        with self.raises(TaskNotFoundError, "a strict resume of an unknown id"):
            await store.update_tasks_paused_status(["b", "missing"], False, strict=True)
        assert (await self.fetch_one(store, "b")).paused, (
            "a strict resume refused for an unknown id must change nothing (b was resumed)"
        )

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
        assert paused == {"g1": True, "g2": True, "h1": False, "loose": False}, (
            "update_group_paused_status must pause exactly the group's tasks"
        )
        claims = await store.acquire_tasks(worker_id="w", now=T0, lease_until=T0 + HOUR, limit=9)
        assert {c.task_id for c in claims} == {"h1", "loose"}, (
            "only the tasks outside the paused group must be claimable"
        )
        await store.update_group_paused_status("g", False)
        for task in await store.fetch_group_tasks("g"):
            assert not task.paused and task.paused_at is None, (
                f"resuming the group must clear paused and paused_at of {task.task_id!r}"
            )
        await store.update_group_paused_status("no-such-group", True)  # no error

    @store_test
    async def test_a_pause_does_not_revoke_a_claim(self, store: DataStore) -> None:
        await store.add_tasks([self.task("t")])
        [claim] = await store.acquire_tasks(worker_id="w", now=T0, lease_until=T0 + HOUR, limit=1)
        await store.update_tasks_paused_status(["t"], True)
        assert await store.extend_leases([claim], T0 + 2 * HOUR) == {"t"}, (
            "pausing a claimed task must not revoke the claim: its lease can be extended"
        )
        assert await store.complete_tasks([Completion("t", claim.token, None)]) == {"t"}, (
            "pausing a claimed task must not revoke the claim: it can be completed"
        )
        assert await store.fetch_tasks(["t"]) == [], "the completed one-off must be deleted"
