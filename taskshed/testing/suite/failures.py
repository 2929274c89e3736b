"""Failed tasks: kept, never claimed, left alone by pause/resume, re-queued by retry_tasks."""

from __future__ import annotations

from taskshed.claims import Claim, Completion
from taskshed.datastores.base import DataStore
from taskshed.testing.suite.base import HOUR, MINUTE, T0, SuiteBase, store_test


class FailedTaskTests(SuiteBase):
    async def fail(self, store: DataStore, *task_ids: str, attempts: int = 3) -> list[Claim]:
        """Claim the due tasks ``task_ids`` and complete them as failed after ``attempts`` attempts."""
        claims = await store.acquire_tasks(worker_id="w", now=T0, lease_until=T0 + HOUR, limit=50)
        mine = [c for c in claims if c.task_id in task_ids]
        assert {c.task_id for c in mine} == set(task_ids), f"could not claim {task_ids}"
        await store.release_tasks([c for c in claims if c.task_id not in task_ids])
        applied = await store.complete_tasks(
            [
                Completion(
                    claim.task_id,
                    claim.token,
                    None,
                    attempts=attempts,
                    last_error="RuntimeError: kaput",
                    last_run_at=T0,
                    failed_at=T0 + MINUTE,
                )
                for claim in mine
            ]
        )
        assert applied == set(task_ids), f"failing {task_ids} was not applied"
        return mine

    @store_test
    async def test_a_failed_task_is_kept_and_never_claimed(self, store: DataStore) -> None:
        await store.add_tasks([self.task("f", T0 - MINUTE, group_id="g"), self.task("ok", T0)])
        await self.fail(store, "f")
        task = await self.fetch_one(store, "f")
        assert task.failed_at is not None, "a failed one-off was not kept as failed"
        self.assert_same_instant(task.failed_at, T0 + MINUTE, "failed_at")
        assert task.attempts == 3 and task.last_error == "RuntimeError: kaput", (
            "a failed task must keep the attempts and last_error of its failing completion"
        )
        assert task.paused is False, "a failed task must read paused=False"
        assert task.claimed_by is None, "a failed task still reads as claimed"
        await store.remove_tasks(["ok"])
        later = T0 + 1000 * HOUR
        assert (
            await store.acquire_tasks(worker_id="w2", now=later, lease_until=later + HOUR, limit=9)
            == []
        ), "a failed task was claimed"
        assert await store.fetch_next_wakeup() is None, "a failed task counts for the wake-up"
        assert [t.task_id for t in await store.fetch_due_tasks(later)] == [], (
            "fetch_due_tasks returned a failed task"
        )
        assert [t.task_id for t in await store.fetch_group_tasks("g")] == ["f"], (
            "a failed task must stay in its group"
        )

    @store_test
    async def test_pause_and_resume_leave_failed_tasks_alone(self, store: DataStore) -> None:
        await store.add_tasks([self.task("f", T0 - MINUTE, group_id="g")])
        await self.fail(store, "f")
        await store.update_tasks_paused_status(["f"], True)
        await store.update_group_paused_status("g", True)
        await store.update_tasks_paused_status(["f"], False)
        await store.update_group_paused_status("g", False)
        task = await self.fetch_one(store, "f")
        assert task.failed_at is not None, "pause/resume cleared the failure"
        later = T0 + 1000 * HOUR
        assert (
            await store.acquire_tasks(worker_id="w", now=later, lease_until=later, limit=9) == []
        ), "resuming made a failed task claimable"

    @store_test
    async def test_retry_requeues_only_failed_tasks(self, store: DataStore) -> None:
        await store.add_tasks([self.task("f", T0 - MINUTE), self.task("ok", T0 + HOUR)])
        await self.fail(store, "f")
        retried = await store.retry_tasks(["f", "ok", "missing"], T0 + 2 * MINUTE)
        assert retried == {"f"}, f"retry_tasks reported {retried!r}, expected {{'f'}}"
        task = await self.fetch_one(store, "f")
        assert task.failed_at is None and task.attempts == 0, "retry kept the failure"
        assert task.last_error == "RuntimeError: kaput", "retry dropped last_error (it is kept)"
        self.assert_same_instant(task.run_at, T0 + 2 * MINUTE, "run_at after retry")
        self.assert_same_instant(
            (await self.fetch_one(store, "ok")).run_at, T0 + HOUR, "an unfailed task was moved"
        )
        at = T0 + 2 * MINUTE
        claims = await store.acquire_tasks(worker_id="w", now=at, lease_until=at + HOUR, limit=9)
        assert [c.task_id for c in claims] == ["f"], "a retried task is not claimable"

    @store_test
    async def test_removers_delete_failed_tasks(self, store: DataStore) -> None:
        await store.add_tasks(
            [self.task("a", T0 - MINUTE, group_id="g"), self.task("b", T0 - MINUTE, group_id="g")]
        )
        await self.fail(store, "a", "b")
        assert await store.remove_tasks(["a"]) == {"a"}, "remove_tasks must remove a failed task"
        assert await store.remove_group_tasks("g") == 1, (
            "remove_group_tasks must remove (and count) a failed task of the group"
        )
        assert await self.stored_ids(store, "a", "b") == set(), "failed tasks were left stored"

    @store_test
    async def test_completions_are_fenced_per_task_and_token_pair(self, store: DataStore) -> None:
        await store.add_tasks([self.task("r", T0, run_type="recurring", interval=HOUR)])
        [old] = await store.acquire_tasks(worker_id="a", now=T0, lease_until=T0 + MINUTE, limit=1)
        later = T0 + 2 * MINUTE
        [new] = await store.acquire_tasks(
            worker_id="b", now=later, lease_until=later + HOUR, limit=1
        )
        # The stale completion comes first in the batch, the current one second: only the
        # current one may apply (a check per task id alone would apply both).
        applied = await store.complete_tasks(
            [
                Completion("r", old.token, None),  # would delete the task
                Completion("r", new.token, T0 + HOUR),
            ]
        )
        assert applied == {"r"}, "only the current holder's completion may apply"
        task = await self.fetch_one(store, "r")  # fails if the stale completion deleted it
        self.assert_same_instant(task.run_at, T0 + HOUR, "run_at after the current completion")
        await store.add_tasks([self.task("s", T0, run_type="recurring", interval=HOUR)])
        [old] = await store.acquire_tasks(worker_id="a", now=T0, lease_until=T0 + MINUTE, limit=1)
        [new] = await store.acquire_tasks(
            worker_id="b", now=later, lease_until=later + HOUR, limit=1
        )
        applied = await store.complete_tasks(
            [Completion("s", new.token, T0 + HOUR), Completion("s", old.token, None)]
        )
        assert await self.stored_ids(store, "s") == {"s"}, "a stale completion deleted the task"
