"""acquire, complete, extend and release: leases and fencing tokens (G1, G2 in one process)."""

from __future__ import annotations

import asyncio
from collections import Counter

from taskshed.claims import Completion
from taskshed.datastores.base import DataStore
from taskshed.models import TaskExecutionTime
from taskshed.testing.suite.base import HOUR, MINUTE, SECOND, T0, SuiteBase, store_test


class ClaimTests(SuiteBase):
    @store_test
    async def test_acquire_takes_due_tasks_earliest_first_up_to_limit(
        self, store: DataStore
    ) -> None:
        await store.add_tasks(
            [self.task(f"t{n}", T0 - n * MINUTE) for n in range(5)]
            + [self.task("future", T0 + SECOND), self.task("paused", T0 - HOUR, paused=True)]
        )
        first = await store.acquire_tasks(worker_id="w", now=T0, lease_until=T0 + HOUR, limit=2)
        assert [c.task_id for c in first] == ["t4", "t3"]
        rest = await store.acquire_tasks(worker_id="w", now=T0, lease_until=T0 + HOUR, limit=10)
        assert [c.task_id for c in rest] == ["t2", "t1", "t0"]  # t0 is due exactly at now
        assert (
            await store.acquire_tasks(worker_id="w", now=T0, lease_until=T0 + HOUR, limit=10) == []
        )

    @store_test
    async def test_a_claim_carries_the_task_a_token_and_the_lease(self, store: DataStore) -> None:
        task = self.task(
            "t", kwargs={"x": [1, 2]}, run_type="recurring", interval=HOUR, group_id="g"
        )
        await store.add_tasks([task])
        [claim] = await store.acquire_tasks(worker_id="w", now=T0, lease_until=T0 + MINUTE, limit=1)
        self.assert_same_task(claim.task, task)
        assert isinstance(claim.token, str) and claim.token
        self.assert_same_instant(claim.lease_until, T0 + MINUTE, "lease_until")

    @store_test
    async def test_acquire_with_a_zero_limit_claims_nothing(self, store: DataStore) -> None:
        await store.add_tasks([self.task("t")])
        assert (
            await store.acquire_tasks(worker_id="w", now=T0, lease_until=T0 + HOUR, limit=0) == []
        )
        claims = await store.acquire_tasks(worker_id="w", now=T0, lease_until=T0 + HOUR, limit=1)
        assert [c.task_id for c in claims] == ["t"]

    @store_test
    async def test_paused_tasks_are_never_claimed(self, store: DataStore) -> None:
        await store.add_tasks(
            [self.task("p", T0 - HOUR, paused=True), self.task("g", group_id="x")]
        )
        await store.update_group_paused_status("x", True)
        later = T0 + 1000 * HOUR
        assert await store.acquire_tasks(worker_id="w", now=later, lease_until=later, limit=9) == []

    @store_test
    async def test_a_held_lease_excludes_other_workers(self, store: DataStore) -> None:
        await store.add_tasks([self.task("t")])
        [claim] = await store.acquire_tasks(worker_id="a", now=T0, lease_until=T0 + MINUTE, limit=1)
        almost = T0 + MINUTE - SECOND
        assert (
            await store.acquire_tasks(worker_id="b", now=almost, lease_until=T0 + HOUR, limit=9)
            == []
        )
        # Once the lease has passed the task is claimable again, with a new token.
        later = T0 + MINUTE
        [again] = await store.acquire_tasks(
            worker_id="b", now=later, lease_until=T0 + HOUR, limit=9
        )
        assert again.task_id == "t" and again.token != claim.token

    @store_test
    async def test_concurrent_acquires_never_share_a_task(self, store: DataStore) -> None:
        ids = [f"t{n:03d}" for n in range(60)]
        await store.add_tasks(self.task(task_id, T0 - n * SECOND) for n, task_id in enumerate(ids))
        if self.shared_between_instances:
            stores = [store, *[await self.open_store() for _ in range(4)]]
        else:
            stores = [store]
        calls = [
            stores[n % len(stores)].acquire_tasks(
                worker_id=f"w{n}", now=T0, lease_until=T0 + HOUR, limit=7
            )
            for n in range(12)
        ]
        results = await asyncio.gather(*calls)
        counts = Counter(claim.task_id for claims in results for claim in claims)
        assert {k: n for k, n in counts.items() if n > 1} == {}, "a task was claimed twice"
        assert set(counts) == set(ids)
        assert all(len(claims) <= 7 for claims in results)

    @store_test
    async def test_completing_a_one_off_task_removes_it(self, store: DataStore) -> None:
        await store.add_tasks([self.task("t", T0 - MINUTE, group_id="g"), self.task("other")])
        [claim] = await store.acquire_tasks(worker_id="w", now=T0, lease_until=T0 + HOUR, limit=1)
        assert claim.task_id == "t"
        assert await store.complete_tasks([Completion("t", claim.token, None)]) == {"t"}
        assert await self.stored_ids(store, "t", "other") == {"other"}
        assert await store.fetch_group_tasks("g") == []

    @store_test
    async def test_completing_a_recurring_task_moves_it_and_frees_it(
        self, store: DataStore
    ) -> None:
        await store.add_tasks(
            [self.task("r", run_type="recurring", interval=HOUR, kwargs={"k": 1})]
        )
        [claim] = await store.acquire_tasks(
            worker_id="w", now=T0, lease_until=T0 + 9 * HOUR, limit=1
        )
        assert await store.complete_tasks([Completion("r", claim.token, T0 + HOUR)]) == {"r"}
        task = await self.fetch_one(store, "r")
        self.assert_same_instant(task.run_at, T0 + HOUR, "next run_at")
        assert task.kwargs == {"k": 1} and task.run_type == "recurring"
        early = T0 + HOUR - SECOND
        assert (
            await store.acquire_tasks(worker_id="w", now=early, lease_until=T0 + 9 * HOUR, limit=1)
            == []
        )
        # The old lease (9 hours) no longer holds it: the claim was cleared.
        self.assert_same_instant(await store.fetch_next_wakeup(), T0 + HOUR, "next wakeup")
        [next_claim] = await store.acquire_tasks(
            worker_id="w", now=T0 + HOUR, lease_until=T0 + 2 * HOUR, limit=1
        )
        assert next_claim.task_id == "r"
        # The first claim's token is spent.
        assert await store.complete_tasks([Completion("r", claim.token, T0 + 5 * HOUR)]) == set()

    @store_test
    async def test_a_stale_completion_after_takeover_changes_nothing(
        self, store: DataStore
    ) -> None:
        await store.add_tasks(
            [self.task("once"), self.task("rec", run_type="recurring", interval=HOUR)]
        )
        old = await store.acquire_tasks(worker_id="dead", now=T0, lease_until=T0 + MINUTE, limit=9)
        assert len(old) == 2
        taken = T0 + 2 * MINUTE
        new = await store.acquire_tasks(
            worker_id="new", now=taken, lease_until=taken + HOUR, limit=9
        )
        assert {c.task_id for c in new} == {"once", "rec"}
        stale = {c.task_id: c.token for c in old}
        done = await store.complete_tasks(
            [
                Completion("once", stale["once"], None),
                Completion("rec", stale["rec"], T0 + 5 * HOUR),
            ]
        )
        assert done == set()
        assert await self.stored_ids(store, "once", "rec") == {"once", "rec"}
        self.assert_same_instant((await self.fetch_one(store, "rec")).run_at, T0, "run_at of rec")
        # The new holder is undisturbed: its lease holds and it completes normally.
        assert (
            await store.acquire_tasks(worker_id="x", now=taken, lease_until=taken + HOUR, limit=9)
            == []
        )
        fresh = {c.task_id: c.token for c in new}
        assert await store.complete_tasks(
            [Completion("once", fresh["once"], None), Completion("rec", fresh["rec"], T0 + HOUR)]
        ) == {"once", "rec"}
        assert await self.stored_ids(store, "once", "rec") == {"rec"}

    @store_test
    async def test_complete_reports_only_the_tokens_that_held(self, store: DataStore) -> None:
        await store.add_tasks([self.task("a"), self.task("b")])
        claims = {
            c.task_id: c
            for c in await store.acquire_tasks(
                worker_id="w", now=T0, lease_until=T0 + HOUR, limit=2
            )
        }
        done = await store.complete_tasks(
            [
                Completion("a", claims["a"].token, None),
                Completion("b", "not-the-token", None),
                Completion("missing", claims["a"].token, None),
            ]
        )
        assert done == {"a"}
        assert await self.stored_ids(store, "a", "b", "missing") == {"b"}
        assert await store.complete_tasks([]) == set()

    @store_test
    async def test_a_completion_after_update_time_is_stale(self, store: DataStore) -> None:
        await store.add_tasks([self.task("t"), self.task("r", run_type="recurring", interval=HOUR)])
        claims = await store.acquire_tasks(worker_id="w", now=T0, lease_until=T0 + HOUR, limit=9)
        tokens = {c.task_id: c.token for c in claims}
        await store.update_execution_times(
            [
                TaskExecutionTime(task_id="t", run_at=T0 + MINUTE),
                TaskExecutionTime(task_id="r", run_at=T0 + MINUTE),
            ]
        )
        done = await store.complete_tasks(
            [Completion("t", tokens["t"], None), Completion("r", tokens["r"], T0 + HOUR)]
        )
        assert done == set()
        for task_id in ("t", "r"):
            task = await self.fetch_one(store, task_id)
            self.assert_same_instant(task.run_at, T0 + MINUTE, f"run_at of {task_id}")
        # Re-timing drops the claim: the tasks are claimable when next due.
        later = T0 + MINUTE
        again = await store.acquire_tasks(
            worker_id="w2", now=later, lease_until=later + HOUR, limit=9
        )
        assert {c.task_id for c in again} == {"t", "r"}

    @store_test
    async def test_extend_moves_the_lease_of_held_claims_only(self, store: DataStore) -> None:
        await store.add_tasks([self.task("t"), self.task("u")])
        claims = await store.acquire_tasks(worker_id="a", now=T0, lease_until=T0 + MINUTE, limit=2)
        by_id = {c.task_id: c for c in claims}
        assert await store.extend_leases([by_id["t"]], T0 + HOUR) == {"t"}
        at = T0 + 30 * MINUTE
        taken = await store.acquire_tasks(worker_id="b", now=at, lease_until=at + HOUR, limit=9)
        assert [c.task_id for c in taken] == ["u"]  # t's lease was extended, u's was not
        # a's claim on u is stale now: extending it fails and leaves b's lease alone.
        assert await store.extend_leases([by_id["u"]], T0 + 10 * HOUR) == set()
        after_b = at + HOUR
        again = await store.acquire_tasks(
            worker_id="c", now=after_b, lease_until=after_b + HOUR, limit=9
        )
        assert {c.task_id for c in again} == {"t", "u"}
        self.assert_same_instant(
            (await store.fetch_tasks(["t"]))[0].run_at, T0, "extending must not move run_at"
        )

    @store_test
    async def test_release_frees_held_claims_at_once(self, store: DataStore) -> None:
        await store.add_tasks([self.task("t")])
        [claim] = await store.acquire_tasks(worker_id="a", now=T0, lease_until=T0 + HOUR, limit=1)
        assert await store.release_tasks([claim]) == {"t"}
        self.assert_same_instant(await store.fetch_next_wakeup(), T0, "next wakeup after release")
        [again] = await store.acquire_tasks(worker_id="b", now=T0, lease_until=T0 + HOUR, limit=1)
        assert again.task_id == "t"
        # The released claim is stale: releasing or completing it again does nothing.
        assert await store.release_tasks([claim]) == set()
        assert await store.complete_tasks([Completion("t", claim.token, None)]) == set()
        assert (
            await store.acquire_tasks(worker_id="c", now=T0, lease_until=T0 + HOUR, limit=1) == []
        )
        assert await self.stored_ids(store, "t") == {"t"}
