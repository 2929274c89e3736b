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
        assert [c.task_id for c in first] == ["t4", "t3"], (
            "acquire_tasks must claim the earliest due tasks first, at most `limit` of them"
        )
        rest = await store.acquire_tasks(worker_id="w", now=T0, lease_until=T0 + HOUR, limit=10)
        assert [c.task_id for c in rest] == ["t2", "t1", "t0"], (
            "acquire_tasks must claim the remaining due tasks (run_at <= now, t0 exactly at now), "
            "earliest first, and never a future or paused one"
        )
        assert (
            await store.acquire_tasks(worker_id="w", now=T0, lease_until=T0 + HOUR, limit=10) == []
        ), "tasks whose lease still holds must not be claimed again"

    @store_test
    async def test_a_claim_carries_the_task_a_token_and_the_lease(self, store: DataStore) -> None:
        task = self.task(
            "t", kwargs={"x": [1, 2]}, run_type="recurring", interval=HOUR, group_id="g"
        )
        await store.add_tasks([task])
        [claim] = await store.acquire_tasks(worker_id="w", now=T0, lease_until=T0 + MINUTE, limit=1)
        self.assert_same_task(claim.task, task)
        assert isinstance(claim.token, str) and claim.token, (
            f"a claim's token must be a non-empty str, not {claim.token!r}"
        )
        self.assert_same_instant(claim.lease_until, T0 + MINUTE, "the claim's lease_until")

    @store_test
    async def test_acquire_with_a_zero_limit_claims_nothing(self, store: DataStore) -> None:
        await store.add_tasks([self.task("t")])
        assert (
            await store.acquire_tasks(worker_id="w", now=T0, lease_until=T0 + HOUR, limit=0) == []
        ), "acquire_tasks(limit=0) must claim nothing"
        claims = await store.acquire_tasks(worker_id="w", now=T0, lease_until=T0 + HOUR, limit=1)
        assert [c.task_id for c in claims] == ["t"], (
            "after acquire_tasks(limit=0) the task must still be claimable"
        )

    @store_test
    async def test_paused_tasks_are_never_claimed(self, store: DataStore) -> None:
        await store.add_tasks(
            [self.task("p", T0 - HOUR, paused=True), self.task("g", group_id="x")]
        )
        await store.update_group_paused_status("x", True)
        later = T0 + 1000 * HOUR
        assert (
            await store.acquire_tasks(worker_id="w", now=later, lease_until=later, limit=9) == []
        ), "paused tasks (by id or by group) must never be claimed"

    @store_test
    async def test_a_held_lease_excludes_other_workers(self, store: DataStore) -> None:
        await store.add_tasks([self.task("t")])
        [claim] = await store.acquire_tasks(worker_id="a", now=T0, lease_until=T0 + MINUTE, limit=1)
        almost = T0 + MINUTE - SECOND
        assert (
            await store.acquire_tasks(worker_id="b", now=almost, lease_until=T0 + HOUR, limit=9)
            == []
        ), "a task must not be claimed by another worker while its lease holds (G1)"
        # Once the lease has passed (lease_until <= now) the task is claimable again.
        later = T0 + MINUTE
        again = await store.acquire_tasks(worker_id="b", now=later, lease_until=T0 + HOUR, limit=9)
        assert [c.task_id for c in again] == ["t"], (
            "a task must be claimable again at now == lease_until (an expired lease is free)"
        )
        assert again[0].token != claim.token, "a new claim must get a new token"

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
        assert {k: n for k, n in counts.items() if n > 1} == {}, (
            "concurrent acquire_tasks calls claimed a task twice (G1: claims must be atomic)"
        )
        assert set(counts) == set(ids), (
            "12 concurrent acquire_tasks calls of up to 7 each must claim all 60 due tasks"
        )
        assert all(len(claims) <= 7 for claims in results), (
            "acquire_tasks returned more claims than its limit"
        )

    @store_test
    async def test_completing_a_one_off_task_removes_it(self, store: DataStore) -> None:
        await store.add_tasks([self.task("t", T0 - MINUTE, group_id="g"), self.task("other")])
        [claim] = await store.acquire_tasks(worker_id="w", now=T0, lease_until=T0 + HOUR, limit=1)
        assert claim.task_id == "t", "acquire_tasks must claim the earliest due task first"
        assert await store.complete_tasks([Completion("t", claim.token, None)]) == {"t"}, (
            "complete_tasks must report the id whose token held"
        )
        assert await self.stored_ids(store, "t", "other") == {"other"}, (
            "completing a one-off task (next_run_at None) must delete it, and only it"
        )
        assert await store.fetch_group_tasks("g") == [], (
            "a completed one-off task must leave its group"
        )

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
        assert await store.complete_tasks([Completion("r", claim.token, T0 + HOUR)]) == {"r"}, (
            "complete_tasks must report the id whose token held"
        )
        task = await self.fetch_one(store, "r")
        self.assert_same_instant(task.run_at, T0 + HOUR, "a completed recurring task's next run_at")
        assert task.kwargs == {"k": 1} and task.run_type == "recurring", (
            "completing a recurring task must keep its kwargs and run_type"
        )
        early = T0 + HOUR - SECOND
        assert (
            await store.acquire_tasks(worker_id="w", now=early, lease_until=T0 + 9 * HOUR, limit=1)
            == []
        ), "a completed recurring task must not be claimable before its next run_at"
        # The old lease (9 hours) no longer holds it: the claim was cleared.
        self.assert_same_instant(await store.fetch_next_wakeup(), T0 + HOUR, "next wakeup")
        [next_claim] = await store.acquire_tasks(
            worker_id="w", now=T0 + HOUR, lease_until=T0 + 2 * HOUR, limit=1
        )
        assert next_claim.task_id == "r", "the recurring task must be claimable at its next run_at"
        # The first claim's token is spent.
        assert await store.complete_tasks([Completion("r", claim.token, T0 + 5 * HOUR)]) == set(), (
            "a token already used by a completion must be stale (G2)"
        )

    @store_test
    async def test_a_stale_completion_after_takeover_changes_nothing(
        self, store: DataStore
    ) -> None:
        await store.add_tasks(
            [self.task("once"), self.task("rec", run_type="recurring", interval=HOUR)]
        )
        old = await store.acquire_tasks(worker_id="dead", now=T0, lease_until=T0 + MINUTE, limit=9)
        assert len(old) == 2, "both due tasks must be claimed"
        taken = T0 + 2 * MINUTE
        new = await store.acquire_tasks(
            worker_id="new", now=taken, lease_until=taken + HOUR, limit=9
        )
        assert {c.task_id for c in new} == {"once", "rec"}, (
            "tasks whose lease has passed must be claimable by another worker"
        )
        stale = {c.task_id: c.token for c in old}
        done = await store.complete_tasks(
            [
                Completion("once", stale["once"], None),
                Completion("rec", stale["rec"], T0 + 5 * HOUR),
            ]
        )
        assert done == set(), (
            "a completion by a worker whose lease was taken over must be stale (G2 fencing)"
        )
        assert await self.stored_ids(store, "once", "rec") == {"once", "rec"}, (
            "a stale completion must not delete the task"
        )
        self.assert_same_instant(
            (await self.fetch_one(store, "rec")).run_at, T0, "rec's run_at after a stale completion"
        )
        # The new holder is undisturbed: its lease holds and it completes normally.
        assert (
            await store.acquire_tasks(worker_id="x", now=taken, lease_until=taken + HOUR, limit=9)
            == []
        ), "a stale completion must not clear the new holder's claim"
        fresh = {c.task_id: c.token for c in new}
        assert await store.complete_tasks(
            [Completion("once", fresh["once"], None), Completion("rec", fresh["rec"], T0 + HOUR)]
        ) == {"once", "rec"}, "the new holder's completions must apply"
        assert await self.stored_ids(store, "once", "rec") == {"rec"}, (
            "the new holder's completion must delete the one-off and keep the recurring task"
        )

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
        assert done == {"a"}, (
            "complete_tasks must return exactly the ids whose token held (not a wrong token, "
            "not an unknown id)"
        )
        assert await self.stored_ids(store, "a", "b", "missing") == {"b"}, (
            "a completion with a wrong token must change nothing"
        )
        assert await store.complete_tasks([]) == set(), "complete_tasks([]) must return set()"

    @store_test
    async def test_of_two_completions_of_one_claim_the_first_applies(
        self, store: DataStore
    ) -> None:
        await store.add_tasks(
            [
                self.task("r", run_type="recurring", interval=HOUR),
                self.task("s", run_type="recurring", interval=HOUR),
            ]
        )
        claims = await store.acquire_tasks(worker_id="w", now=T0, lease_until=T0 + HOUR, limit=9)
        tokens = {c.task_id: c.token for c in claims}
        done = await store.complete_tasks(
            [
                Completion("r", tokens["r"], T0 + HOUR),  # moves r
                Completion("r", tokens["r"], None),  # would delete it: the claim is spent
                Completion("s", tokens["s"], None),  # deletes s
                Completion("s", tokens["s"], T0 + HOUR),  # would move it: nothing left to move
            ]
        )
        assert done == {"r", "s"}, f"complete_tasks returned {done}"
        assert await self.stored_ids(store, "r", "s") == {"r"}, (
            "of two completions with one claim's token, the first must apply and the "
            "second change nothing"
        )
        self.assert_same_instant((await self.fetch_one(store, "r")).run_at, T0 + HOUR, "r's run_at")

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
        assert done == set(), "update_execution_times must make the claims' tokens stale"
        for task_id in ("t", "r"):
            task = await self.fetch_one(store, task_id)
            self.assert_same_instant(task.run_at, T0 + MINUTE, f"run_at of {task_id}")
        # Re-timing drops the claim: the tasks are claimable when next due.
        later = T0 + MINUTE
        again = await store.acquire_tasks(
            worker_id="w2", now=later, lease_until=later + HOUR, limit=9
        )
        assert {c.task_id for c in again} == {"t", "r"}, (
            "update_execution_times must drop the claims: re-timed tasks are claimable when due"
        )

    @store_test
    async def test_extend_moves_the_lease_of_held_claims_only(self, store: DataStore) -> None:
        await store.add_tasks([self.task("t"), self.task("u")])
        claims = await store.acquire_tasks(worker_id="a", now=T0, lease_until=T0 + MINUTE, limit=2)
        by_id = {c.task_id: c for c in claims}
        assert await store.extend_leases([by_id["t"]], T0 + HOUR) == {"t"}, (
            "extend_leases must report the held claim it extended"
        )
        at = T0 + 30 * MINUTE
        taken = await store.acquire_tasks(worker_id="b", now=at, lease_until=at + HOUR, limit=9)
        assert [c.task_id for c in taken] == ["u"], (
            "an extended lease must keep its task from other workers; an unextended, expired "
            "one must not"
        )
        # a's claim on u is stale now: extending it fails and leaves b's lease alone.
        assert await store.extend_leases([by_id["u"]], T0 + 10 * HOUR) == set(), (
            "extending a claim whose task was taken over must fail (stale token)"
        )
        after_b = at + HOUR
        again = await store.acquire_tasks(
            worker_id="c", now=after_b, lease_until=after_b + HOUR, limit=9
        )
        assert {c.task_id for c in again} == {"t", "u"}, (
            "a stale extend_leases must not move the new holder's lease"
        )
        self.assert_same_instant(
            (await store.fetch_tasks(["t"]))[0].run_at, T0, "extending must not move run_at"
        )

    @store_test
    async def test_release_frees_held_claims_at_once(self, store: DataStore) -> None:
        await store.add_tasks([self.task("t")])
        [claim] = await store.acquire_tasks(worker_id="a", now=T0, lease_until=T0 + HOUR, limit=1)
        assert await store.release_tasks([claim]) == {"t"}, (
            "release_tasks must report the held claim it released"
        )
        self.assert_same_instant(await store.fetch_next_wakeup(), T0, "next wakeup after release")
        again = await store.acquire_tasks(worker_id="b", now=T0, lease_until=T0 + HOUR, limit=1)
        assert [c.task_id for c in again] == ["t"], "a released task must be claimable at once"
        # The released claim is stale: releasing or completing it again does nothing.
        assert await store.release_tasks([claim]) == set(), "a released claim must be stale"
        assert await store.complete_tasks([Completion("t", claim.token, None)]) == set(), (
            "a completion with a released claim's token must be stale"
        )
        assert (
            await store.acquire_tasks(worker_id="c", now=T0, lease_until=T0 + HOUR, limit=1) == []
        ), "a stale release must not free the new holder's claim"
        assert await self.stored_ids(store, "t") == {"t"}, (
            "a stale completion must not delete the task"
        )
