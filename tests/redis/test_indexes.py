"""The indexes of ours (routing, listing, failed, paused, holders, workers) against the real Redis."""

from __future__ import annotations

from datetime import timedelta

import pytest
import redis.asyncio as aioredis
import taskshed_redis.datastore as datastore_module
from taskshed_redis import RedisDataStore
from taskshed_redis.config import RedisConfig

from taskshed.claims import Completion
from taskshed.listing import TaskQuery
from taskshed.models import Task, TaskExecutionTime
from taskshed.timeutils import to_epoch_seconds
from taskshed.worker_info import WorkerInfo
from tests.redis.helpers import LEASE, SECOND, T0, Raw, acquire, check_layout, once
from tests.redis.test_reference_layout import write_like_0_10

pytestmark = pytest.mark.redis


async def claim(store: RedisDataStore, callbacks: set[str], limit: int = 10) -> dict:
    claims = await store.acquire_tasks(
        worker_id="w1", now=T0, lease_until=T0 + LEASE, limit=limit, callbacks=callbacks
    )
    return {c.task_id: c for c in claims}


async def test_every_write_keeps_the_indexes_in_step(store: RedisDataStore, raw: Raw) -> None:
    async def consistent(step: str) -> None:
        assert await check_layout(raw, store) == [], step

    await store.add_tasks(
        [
            once("a1", callback="a", group_id="g"),
            once("a2", T0 - SECOND, callback="a"),
            once("b1", callback="b", group_id="g"),
            once("b2", callback="b", paused=True),
        ]
    )
    await consistent("add")
    held = await claim(store, {"a"})
    assert set(held) == {"a1", "a2"}
    await consistent("acquire by callback")
    await store.update_tasks_paused_status(["a1", "b1"], True)
    await consistent("pause")
    await store.update_group_paused_status("g", False)
    await consistent("resume a group")
    failure = Completion("a1", held["a1"].token, None, attempts=3, last_error="E", failed_at=T0)
    assert await store.complete_tasks([failure]) == {"a1"}
    await consistent("fail")
    await store.update_tasks_paused_status(["a1"], True)
    await consistent("pausing a failed task")
    assert await store.retry_tasks(["a1"], T0 + SECOND) == {"a1"}
    await consistent("retry")
    assert await store.confirm_claims([held["a2"]], T0 + 2 * LEASE) == {"a2"}
    await consistent("confirm")
    assert await store.release_tasks([held["a2"]]) == {"a2"}
    await consistent("release")
    await store.add_tasks([once("a2", callback="b", group_id="h")])
    await consistent("replace with another callback and group")
    await store.update_execution_times([TaskExecutionTime(task_id="b1", run_at=T0 + LEASE)])
    await consistent("re-time")
    assert await store.remove_tasks(["b2", "nope"]) == {"b2"}
    await consistent("remove")
    assert await store.remove_group_tasks("g") == 2
    await consistent("remove a group")
    await store.remove_all_tasks()
    await consistent("remove all")
    assert [key async for key in raw.scan_iter(match=f"{store.keys.base}*")] == []


async def test_a_filtered_claim_never_reads_other_callbacks_tasks(
    store: RedisDataStore, raw: Raw
) -> None:
    # Other callbacks' due entries whose hashes are gone: a claim that looked at
    # them would set them aside (their schedule score would move).
    others = [once(f"o{n}", T0 - SECOND, callback="other") for n in range(300)]
    await store.add_tasks([*others, once("m", callback="mine")])
    await raw.delete(*(store.keys.task(t.task_id) for t in others))
    await raw.zrem(store.keys.runs, *(t.task_id for t in others))  # keep the sizes equal
    await raw.zrem(store.keys.queue, "m")
    await raw.zadd(store.keys.queue, {"m": to_epoch_seconds(T0)})
    await raw.zadd(store.keys.runs, {"m": to_epoch_seconds(T0)})
    before = await raw.zrange(store.keys.queue, 0, -1, withscores=True)
    assert set(await claim(store, {"mine"}, limit=5)) == {"m"}
    assert await store.fetch_next_wakeup(callbacks={"mine"}) == T0 + LEASE
    after = dict(await raw.zrange(store.keys.queue, 0, -1, withscores=True))
    assert {k: v for k, v in before if k != "m"} == {k: v for k, v in after.items() if k != "m"}


async def test_tasks_written_by_0_10_are_adopted_into_the_indexes(
    store: RedisDataStore, raw: Raw
) -> None:
    await store.add_tasks([once("ours", callback="mine")])
    for n in range(3):
        task = Task(callback="mine", run_at=T0 - n * SECOND, task_id=f"old{n}", group_id="g")
        await write_like_0_10(raw, store.keys.base, task)
    # 0.10 removes a task of ours its own way: hash, schedule entry, group member.
    await raw.delete(store.keys.task("ours"))
    await raw.zrem(store.keys.queue, "ours")
    assert await store.count_tasks(TaskQuery(callback="mine")) == 3
    page = await store.list_tasks(TaskQuery(limit=2))
    assert [t.task_id for t in page.tasks] == ["old2", "old1"]
    assert await check_layout(raw, store) == []
    assert set(await claim(store, {"mine"})) == {"old0", "old1", "old2"}
    assert await check_layout(raw, store) == []


async def test_pages_continue_across_ties_and_bounded_script_calls(
    store: RedisDataStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every task at the same instant; one in 37 unpaused, so most script calls
    # run out of their reading budget before the page is full.
    monkeypatch.setattr(datastore_module, "_LIST_BUDGET", 20)
    tasks = [once(f"t{n:04d}", paused=n % 37 != 0) for n in range(600)]
    await store.add_tasks(tasks)
    expected = sorted(t.task_id for t in tasks if not t.paused)
    seen: list[str] = []
    query = TaskQuery(state="due", now=T0, limit=4)
    while True:
        page = await store.list_tasks(query)
        seen += [t.task_id for t in page.tasks]
        if page.next_cursor is None:
            break
        query = TaskQuery(state="due", now=T0, limit=4, after=page.next_cursor)
    assert seen == expected
    assert await store.count_tasks(TaskQuery(state="due", now=T0)) == len(expected)
    assert await store.count_tasks(TaskQuery(state="due", now=T0), limit=5) == 5
    assert await store.count_tasks(TaskQuery(state="paused"), limit=7) == 7


async def test_large_groups_pause_and_go_in_batches(store: RedisDataStore, raw: Raw) -> None:
    size = 1234  # more than two batches, and more than one script reads of a set
    await store.add_tasks([once(f"t{n}", group_id="g", callback=f"cb{n % 2}") for n in range(size)])
    members = await store.fetch_group_tasks("g")
    assert [t.task_id for t in members] == sorted(f"t{n}" for n in range(size))
    assert await store.update_group_paused_status("g", True) == size
    assert await store.count_tasks(TaskQuery(state="paused")) == size
    assert await store.fetch_next_wakeup() is None
    assert await store.update_group_paused_status("g", False) == size
    await acquire(store, limit=3)
    assert await check_layout(raw, store) == []
    await store.remove_all_tasks()
    assert [key async for key in raw.scan_iter(match=f"{store.keys.base}*")] == []


async def test_removing_a_large_group_reports_every_task(store: RedisDataStore, raw: Raw) -> None:
    await store.add_tasks([once(f"t{n}", group_id="g") for n in range(1100)] + [once("x")])
    assert await store.remove_group_tasks("g") == 1100
    assert [t.task_id for t in (await store.list_tasks(TaskQuery())).tasks] == ["x"]
    assert await check_layout(raw, store) == []


async def test_the_worker_registry_expires_records_on_the_server(
    store: RedisDataStore, raw: Raw
) -> None:
    def info(worker_id: str, expires: timedelta) -> WorkerInfo:
        return WorkerInfo(
            worker_id=worker_id,
            host="h",
            pid=1,
            started_at=T0,
            heartbeat_at=T0,
            expires_at=T0 + expires,
            callbacks=("a", "b"),
        )

    await store.register_worker(info("w2", timedelta(seconds=10)))
    await store.register_worker(info("w1", timedelta(seconds=30)))
    assert [w.worker_id for w in await store.fetch_workers(T0)] == ["w1", "w2"]
    [first] = [w for w in await store.fetch_workers(T0) if w.worker_id == "w1"]
    assert first == info("w1", timedelta(seconds=30))
    assert [w.worker_id for w in await store.fetch_workers(T0 + 10 * SECOND)] == ["w1"]
    assert await raw.hkeys(store.keys.workers) == ["w1"]  # the expired record is gone
    await store.remove_worker("w1")
    assert await store.fetch_workers(T0) == []
    assert not await raw.exists(store.keys.workers, store.keys.worker_expiry)


async def test_current_time_is_the_servers(store: RedisDataStore, raw: Raw) -> None:
    seconds, micros = await raw.time()
    reading = await store.current_time()
    assert timedelta(0) <= reading - T0.fromtimestamp(seconds + micros / 1e6, T0.tzinfo)
    assert reading - T0.fromtimestamp(seconds + micros / 1e6, T0.tzinfo) < timedelta(seconds=5)


async def test_a_sibling_of_an_injected_client_has_its_own_connections(
    redis_config: RedisConfig, prefix: str, raw: Raw
) -> None:
    client = aioredis.Redis(**redis_config.client_kwargs())
    store = RedisDataStore(client=client, prefix=prefix)
    await store.start()
    twin = store.sibling()
    assert twin is not None and twin.keys == store.keys
    await twin.start()
    try:
        assert twin.client is not client
        await store.add_tasks([once("a")])
        assert [t.task_id for t in await twin.fetch_tasks(["a"])] == ["a"]
    finally:
        await twin.shutdown()
        await store.shutdown()
    assert await client.ping()  # the injected client is the caller's: still open
    await client.aclose()


async def test_filtered_claims_go_on_while_another_program_keeps_writing(
    store: RedisDataStore, raw: Raw, monkeypatch: pytest.MonkeyPatch
) -> None:
    await store.add_tasks([once("ours", callback="mine")])
    await write_like_0_10(raw, store.keys.base, Task(callback="mine", run_at=T0, task_id="old"))

    async def never_catches_up() -> None:
        raise datastore_module._StillAdopting

    monkeypatch.setattr(store, "_adopt", never_catches_up)
    # The indexes disagree with the schedule and can't be put right: the
    # filtered calls use them as they are (the unadopted task waits).
    assert await store.fetch_next_wakeup(callbacks={"mine"}) == T0
    assert set(await claim(store, {"mine"})) == {"ours"}


def test_a_sibling_keeps_every_option(redis_config: RedisConfig) -> None:
    store = RedisDataStore(redis_config, prefix="sib-opts", hash_tag=True, allow_eviction=True)
    twin = store.sibling()
    assert twin is not None and twin is not store
    assert (twin.config, twin.keys, twin.allow_eviction, twin.serializer) == (
        store.config,
        store.keys,
        True,
        store.serializer,
    )


async def test_a_batch_of_new_tasks_is_indexed_like_one_task_at_a_time(
    store: RedisDataStore, raw: Raw
) -> None:
    # New plain tasks are indexed in bulk (every index written once per batch, in
    # slices); paused and failed ones, and replacements, one by one. Leftovers under
    # a new id (a 0.10 process removed a task of ours: its hash and schedule entry
    # go, our indexes stay) are cleared as a one-by-one add clears them.
    keys = store.keys
    await raw.zadd(keys.claims, {"n0": 1.0})
    await raw.hset(keys.holders, "n0", "someone")
    await raw.zadd(keys.failed, {"n1": 1.0})
    await raw.zadd(keys.paused, {"n2": 1.0})
    tasks = [
        once(f"n{i}", T0 + i * SECOND, callback=f"cb{i % 3}", group_id=f"g{i % 2}")
        for i in range(2600)  # more than one slice of every bulk write
    ]
    tasks += [
        once("p", callback="cb0", paused=True),
        once("f", callback="cb1", failed_at=T0, attempts=3, last_error="E"),
    ]
    await store.add_tasks(tasks)
    assert await check_layout(raw, store) == []
    assert await raw.zcard(keys.due("cb1")) == sum(1 for i in range(2600) if i % 3 == 1)
    assert await raw.zscore(keys.queue, "n7") == to_epoch_seconds(T0 + 7 * SECOND)
    assert await raw.scard(keys.group("g1")) == 1300
    await store.add_tasks([once("n5", callback="other")])  # a replacement: one by one
    assert await check_layout(raw, store) == []
    # The due index scores are the run times: at T0 + 10 s, cb2 has n2 and n8 due (n5
    # moved to another callback).
    claims = await store.acquire_tasks(
        worker_id="w1", now=T0 + 10 * SECOND, lease_until=T0 + LEASE, limit=10, callbacks={"cb2"}
    )
    assert sorted(c.task_id for c in claims) == ["n2", "n8"]
    assert await check_layout(raw, store) == []
