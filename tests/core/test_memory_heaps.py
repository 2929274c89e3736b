"""The in-memory store's schedule: what a finished claim leaves behind.

Each callback has a heap of unclaimed tasks (by run_at) and one of claims (by
the end of their lease), both cleaned lazily. A finished claim's item must not
linger where every wake-up look-up walks past it: with a million tasks stored
that walk was most of a look-up's time (docs/benchmarks.md, the million case).
"""

from __future__ import annotations

from datetime import timedelta

from taskshed.claims import Completion
from taskshed.datastores import InMemoryDataStore
from taskshed.models import Task
from taskshed.timeutils import utcnow


async def _claim(store: InMemoryDataStore, n: int, lease: timedelta) -> list:
    now = utcnow()
    return await store.acquire_tasks(
        worker_id="w", now=now, lease_until=now + lease, limit=n, callbacks={"job"}
    )


async def test_finished_claims_leave_nothing_for_the_wake_up_to_walk() -> None:
    store = InMemoryDataStore()
    later = utcnow() + timedelta(days=1)
    await store.add_tasks(
        [
            Task(callback="job", run_at=later + timedelta(seconds=i), task_id=f"bg{i}")
            for i in range(200)
        ]
    )
    due = utcnow() - timedelta(seconds=1)
    await store.add_tasks([Task(callback="job", run_at=due, task_id=f"d{i}") for i in range(50)])
    claims = await _claim(store, 50, timedelta(minutes=1))
    assert len(claims) == 50
    state = store._state
    # Claims are kept apart from the tasks stored: their items go stale soon.
    assert (len(state.heaps["job"]), len(state.leases["job"])) == (200, 50)
    assert await store.complete_tasks([Completion(c.task_id, c.token, None) for c in claims]) == {
        c.task_id for c in claims
    }
    # Every item left is a live one: the 200 stored tasks, none of the 50 finished claims.
    assert len(state.heaps["job"]) == 200, len(state.heaps["job"])
    assert state.leases["job"] == [], state.leases["job"][:3]
    assert await store.fetch_next_wakeup(callbacks={"job"}) == later


async def test_a_lapsed_lease_is_claimed_again_and_a_live_one_is_not() -> None:
    store = InMemoryDataStore()
    due = utcnow() - timedelta(seconds=1)
    await store.add_tasks([Task(callback="job", run_at=due, task_id=f"t{i}") for i in range(4)])
    short = await _claim(store, 2, timedelta(milliseconds=-1))  # a lease already over
    long = await _claim(store, 2, timedelta(minutes=5))
    assert {c.task_id for c in short} | {c.task_id for c in long} == {"t0", "t1", "t2", "t3"}
    again = await _claim(store, 4, timedelta(minutes=5))
    assert {c.task_id for c in again} == {c.task_id for c in short}
    # Claimed ones wake nothing before their lease ends.
    wakeup = await store.fetch_next_wakeup(callbacks={"job"})
    assert wakeup is not None and wakeup > utcnow() + timedelta(minutes=4)
