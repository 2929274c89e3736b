"""The store's clock, siblings on other threads, naive times, pre-start checks, inconsistent claims."""

from __future__ import annotations

import asyncio
import threading
from datetime import datetime, timedelta, timezone
from typing import Literal

import pytest

from taskshed.claims import Completion
from taskshed.datastores.base import DataStore
from taskshed.models import TaskExecutionTime
from taskshed.testing.suite.base import HOUR, MINUTE, SECOND, T0, SuiteBase, store_test
from taskshed.testing.timezones import AWAY_FROM_UTC, local_timezone

Inconsistency = Literal["token_only", "lease_only"]


class ClockTests(SuiteBase):
    #: The store can hand out a sibling (a second store on the same data for another thread).
    supports_siblings: bool = True

    async def plant_inconsistent_claim(
        self, store: DataStore, task_id: str, kind: Inconsistency, lease_until: datetime
    ) -> None:
        """Give stored task ``task_id`` a claim token without a lease, or a lease without a token.

        Override in the suite subclass (write around the store's API); without
        an override the tests that need it are skipped.
        """
        pytest.skip("plant_inconsistent_claim is not overridden for this store")

    @store_test
    async def test_current_time_is_an_aware_utc_instant_near_now(self, store: DataStore) -> None:
        reading = await store.current_time()
        assert isinstance(reading, datetime) and reading.tzinfo is not None, (
            "current_time() must return an aware datetime"
        )
        assert reading.utcoffset() == timedelta(0), "current_time() must be in UTC"
        # The servers in a test run share this host's clock closely enough.
        drift = abs(reading - datetime.now(timezone.utc))
        assert drift < timedelta(minutes=5), f"current_time() is {drift} away from this host"

    @store_test
    async def test_naive_times_are_local_in_every_method(self, store: DataStore) -> None:
        with local_timezone(AWAY_FROM_UTC):
            naive = datetime(2041, 7, 1, 9, 15)  # 13:15 UTC in Santiago's winter, not 09:15
            instant = naive.astimezone(timezone.utc)
            assert instant.hour != 9, "the local zone was not changed"
            await store.add_tasks([self.task("t", instant)])
            assert [t.task_id for t in await store.fetch_due_tasks(naive)] == ["t"], (
                "fetch_due_tasks(naive) did not read the naive time as local"
            )
            early = naive - SECOND
            assert await store.fetch_due_tasks(early) == [], "naive read as UTC"
            assert (
                await store.acquire_tasks(worker_id="w", now=early, lease_until=naive, limit=9)
                == []
            ), "acquire_tasks(now=naive) read the naive time as UTC"
            [claim] = await store.acquire_tasks(
                worker_id="w", now=naive, lease_until=naive + timedelta(hours=1), limit=9
            )
            self.assert_same_instant(claim.lease_until, instant + HOUR, "naive lease_until")
            assert await store.extend_leases([claim], naive + timedelta(hours=2)) == {"t"}, (
                "extend_leases must take a naive lease_until as local time, and report the claim"
            )
            self.assert_same_instant(
                await store.fetch_next_wakeup(), instant + 2 * HOUR, "wake-up after a naive extend"
            )
            await store.complete_tasks([Completion("t", claim.token, naive + timedelta(days=1))])
            self.assert_same_instant(
                (await self.fetch_one(store, "t")).run_at,
                instant + timedelta(days=1),
                "naive next run",
            )
            await store.update_execution_times([TaskExecutionTime(task_id="t", run_at=naive)])
            self.assert_same_instant(
                (await self.fetch_one(store, "t")).run_at, instant, "naive re-time"
            )

    @store_test
    async def test_a_sibling_on_another_thread_sees_and_renews_the_same_claims(
        self, store: DataStore
    ) -> None:
        sibling = store.sibling()
        if sibling is None:
            if self.supports_siblings:
                pytest.fail(f"{store!r}.sibling() returned None (set supports_siblings = False)")
            pytest.skip("this store has no siblings")
        await store.add_tasks([self.task("t", T0 - MINUTE)])
        [claim] = await store.acquire_tasks(worker_id="w", now=T0, lease_until=T0 + MINUTE, limit=1)
        results: dict[str, object] = {}

        def elsewhere() -> None:
            async def run() -> None:
                await sibling.start()
                try:
                    results["seen"] = [t.task_id for t in await sibling.fetch_tasks(["t"])]
                    results["kept"] = await sibling.extend_leases([claim], T0 + HOUR)
                finally:
                    await sibling.shutdown()

            try:
                asyncio.run(run())
            except BaseException as exc:  # reported below, on the test's thread
                results["error"] = exc

        thread = threading.Thread(target=elsewhere)
        thread.start()
        await asyncio.to_thread(thread.join, self.test_timeout)
        assert "error" not in results, f"the sibling failed on its thread: {results.get('error')!r}"
        assert results == {"seen": ["t"], "kept": {"t"}}, f"the sibling saw {results!r}"
        at = T0 + 30 * MINUTE
        assert (
            await store.acquire_tasks(worker_id="x", now=at, lease_until=at + HOUR, limit=1) == []
        ), "the lease the sibling extended did not hold"
        # The original store is untouched by the sibling's shutdown.
        assert await self.stored_ids(store, "t") == {"t"}, (
            "the original store must keep working after its sibling shut down"
        )

    @store_test
    async def test_confirm_claims_keeps_only_claims_whose_task_is_still_runnable(
        self, store: DataStore
    ) -> None:
        await store.add_tasks(
            [
                self.task(n, T0 + SECOND)
                for n in ("kept", "paused", "removed", "retimed", "replaced")
            ]
        )
        claims = {
            c.task_id: c
            for c in await store.acquire_tasks(
                worker_id="w", now=T0 + SECOND, lease_until=T0 + MINUTE, limit=9
            )
        }
        assert len(claims) == 5, "all five due tasks must be claimed"
        await store.update_tasks_paused_status(["paused"], True)
        await store.remove_tasks(["removed"])
        await store.update_execution_times([TaskExecutionTime(task_id="retimed", run_at=T0)])
        await store.add_tasks([self.task("replaced", T0 + SECOND)])
        kept = await store.confirm_claims(list(claims.values()), T0 + HOUR)
        assert kept == {"kept"}, f"confirm_claims kept {sorted(kept)}, expected only 'kept'"
        # The kept claim is still the worker's: nobody else can take it while its lease runs,
        # and its completion is accepted.
        again = await store.acquire_tasks(
            worker_id="x", now=T0 + 2 * SECOND, lease_until=T0 + HOUR, limit=9
        )
        assert "kept" not in {c.task_id for c in again}, "a confirmed claim was taken over"
        done = await store.complete_tasks([Completion("kept", claims["kept"].token, None)])
        assert done == {"kept"}, "the completion of a confirmed claim was refused"

    @pytest.mark.parametrize("kind", ["token_only", "lease_only"])
    @store_test
    async def test_an_inconsistent_claim_counts_as_unclaimed(
        self, store: DataStore, kind: Inconsistency
    ) -> None:
        await store.add_tasks([self.task("odd", T0 - MINUTE), self.task("later", T0 + HOUR)])
        await self.plant_inconsistent_claim(store, "odd", kind, T0 + HOUR)
        self.assert_same_instant(
            await store.fetch_next_wakeup(), T0 - MINUTE, f"wake-up of a {kind} claim"
        )
        [task] = await store.fetch_due_tasks(T0)
        assert task.task_id == "odd", f"a {kind} claim must not hide its task from fetch_due_tasks"
        claims = await store.acquire_tasks(worker_id="w", now=T0, lease_until=T0 + HOUR, limit=9)
        assert [c.task_id for c in claims] == ["odd"], (
            f"a {kind} claim is due by the wake-up but not claimable (the worker would spin)"
        )
        assert await store.complete_tasks([Completion("odd", claims[0].token, None)]) == {"odd"}, (
            f"the claim taken over from a {kind} claim must complete"
        )
        self.assert_same_instant(await store.fetch_next_wakeup(), T0 + HOUR, "wake-up afterwards")
