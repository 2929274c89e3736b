"""Each store operation against the real Redis: what it writes, and that it is one script."""

from __future__ import annotations

import logging
import math
from datetime import timedelta
from typing import Any

import pytest
import redis.asyncio as aioredis
from taskshed_redis import RedisDataStore
from taskshed_redis.config import RedisConfig

from taskshed.claims import SET_ASIDE_FOR, Completion
from taskshed.errors import DataStoreNotStartedError, TaskNotFoundError
from taskshed.models import TaskExecutionTime
from taskshed.timeutils import to_epoch_seconds
from tests.redis.helpers import (
    LEASE,
    SECOND,
    T0,
    Raw,
    acquire,
    check_layout,
    every,
    once,
    without_call_ids,
)

pytestmark = pytest.mark.redis


# ---------------------------------------------------------------- adding


async def test_add_writes_the_reference_fields(store: RedisDataStore, raw: Raw) -> None:
    await store.add_tasks(
        [every("r1", interval=timedelta(seconds=90), group_id="g", kwargs={"a": [1, "x"]})]
    )
    fields = await raw.hgetall(store.keys.task("r1"))
    assert fields == {
        "task_id": "r1",
        "run_at": repr(T0.timestamp()),
        "paused": "0",
        "callback": "cb",
        "kwargs": '{"a":[1,"x"]}',
        "run_type": "recurring",
        "interval": "90.0",
        "group_id": "g",
        "coalesce": "1",
        "paused_at": "",
    }
    assert await raw.zscore(store.keys.queue, "r1") == T0.timestamp()
    assert await raw.smembers(store.keys.group("g")) == {"r1"}
    assert await check_layout(raw, store) == []


async def test_times_round_trip_to_the_microsecond(store: RedisDataStore) -> None:
    at = T0 + timedelta(microseconds=123457)
    await store.add_tasks([once("t", at)])
    [task] = await store.fetch_tasks(["t"])
    assert task.run_at == at
    assert await store.fetch_next_wakeup() == at


async def test_add_without_replace_never_overwrites(store: RedisDataStore, raw: Raw) -> None:
    await store.add_tasks([once("old", group_id="g1", kwargs={"v": 1})])
    claims = await acquire(store)
    await store.add_tasks(
        [once("old", T0 + SECOND, group_id="g2", kwargs={"v": 2}), once("new")],
        replace_existing=False,
    )
    tasks = {t.task_id: t for t in await store.fetch_tasks(["old", "new"])}
    assert tasks["old"].kwargs == {"v": 1} and tasks["old"].group_id == "g1"
    assert "new" in tasks
    # the claim on the untouched task still holds
    assert await store.extend_leases([claims["old"]], T0 + LEASE * 2) == {"old"}
    assert not await raw.exists(store.keys.group("g2"))
    assert await check_layout(raw, store) == []


async def test_replacing_moves_the_task_between_groups(store: RedisDataStore, raw: Raw) -> None:
    await store.add_tasks([once("t", group_id="g1"), once("u", group_id="g1")])
    await store.add_tasks([once("t", group_id="g2")])
    assert await raw.smembers(store.keys.group("g1")) == {"u"}
    assert await raw.smembers(store.keys.group("g2")) == {"t"}
    await store.add_tasks([once("u")])
    assert not await raw.exists(store.keys.group("g1"))
    assert [t.task_id for t in await store.fetch_group_tasks("g2")] == ["t"]
    assert await check_layout(raw, store) == []


async def test_replacing_drops_the_claim(store: RedisDataStore, raw: Raw) -> None:
    await store.add_tasks([once("t")])
    claim = (await acquire(store))["t"]
    await store.add_tasks([once("t", T0 - SECOND)])
    assert await raw.hget(store.keys.task("t"), "claim_token") is None
    assert await store.complete_tasks([Completion("t", claim.token, None)]) == set()
    assert [t.task_id for t in await store.fetch_tasks(["t"])] == ["t"]
    assert set(await acquire(store)) == {"t"}


class CountingRedis(aioredis.Redis):
    """A real client that counts the commands it sends."""

    sent: list[Any]

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        self.sent.append(args[0])
        return await super().execute_command(*args, **options)


async def test_adding_500_tasks_is_one_round_trip(
    redis_config: RedisConfig, prefix: str, raw: Raw
) -> None:
    client = CountingRedis(**redis_config.client_kwargs())
    client.sent = []
    store = RedisDataStore(client=client, prefix=prefix)
    await store.start()
    try:
        await store.add_tasks([once("warm-up")])  # loads the script on the server
        client.sent.clear()
        await store.add_tasks(
            [once(f"t{i}", T0 + i * SECOND, group_id=f"g{i % 7}") for i in range(500)]
        )
        assert client.sent == ["EVALSHA"]
        assert await raw.zcard(store.keys.queue) == 501
        assert await check_layout(raw, store) == []
    finally:
        await store.shutdown()
        await client.aclose()


# ---------------------------------------------------------------- updating


async def test_update_execution_times_moves_run_at_and_drops_claims(
    store: RedisDataStore, raw: Raw
) -> None:
    await store.add_tasks([once("a"), once("b")])
    claim = (await acquire(store))["a"]
    later = T0 + timedelta(hours=1, microseconds=5)
    await store.update_execution_times([TaskExecutionTime(task_id="a", run_at=later)])
    [task] = await store.fetch_tasks(["a"])
    assert task.run_at == later
    assert await raw.zscore(store.keys.queue, "a") == to_epoch_seconds(later)
    assert await store.complete_tasks([Completion("a", claim.token, None)]) == set()
    assert await check_layout(raw, store) == []


async def test_update_execution_times_of_an_unknown_id_changes_nothing(
    store: RedisDataStore,
) -> None:
    await store.add_tasks([once("a")])
    with pytest.raises(TaskNotFoundError):
        await store.update_execution_times(
            [
                TaskExecutionTime(task_id="a", run_at=T0 + SECOND),
                TaskExecutionTime(task_id="nope", run_at=T0),
            ]
        )
    [task] = await store.fetch_tasks(["a"])
    assert task.run_at == T0


async def test_pause_and_resume_by_id(store: RedisDataStore, raw: Raw) -> None:
    await store.add_tasks([once("a"), once("b")])
    await store.update_tasks_paused_status(["a"], True)
    assert await raw.zscore(store.keys.queue, "a") == math.inf
    [paused] = await store.fetch_tasks(["a"])
    assert paused.paused and paused.paused_at is not None
    # pausing again keeps the first pause time
    await store.update_tasks_paused_status(["a"], True)
    [again] = await store.fetch_tasks(["a"])
    assert again.paused_at == paused.paused_at
    assert set(await acquire(store)) == {"b"}
    await store.update_tasks_paused_status(["a"], False)
    [resumed] = await store.fetch_tasks(["a"])
    assert not resumed.paused and resumed.paused_at is None and resumed.run_at == T0
    assert await raw.zscore(store.keys.queue, "a") == T0.timestamp()
    assert await check_layout(raw, store) == []


async def test_pausing_an_unknown_id_strictly_changes_nothing(store: RedisDataStore) -> None:
    await store.add_tasks([once("a")])
    with pytest.raises(TaskNotFoundError):
        await store.update_tasks_paused_status(["a", "nope"], True, strict=True)
    [task] = await store.fetch_tasks(["a"])
    assert not task.paused


async def test_pausing_skips_unknown_ids_by_default(store: RedisDataStore) -> None:
    await store.add_tasks([once("a")])
    assert await store.update_tasks_paused_status(["a", "nope"], True) == {"a"}
    [task] = await store.fetch_tasks(["a"])
    assert task.paused


async def test_pause_keeps_a_claim_and_resume_restores_its_lease_score(
    store: RedisDataStore, raw: Raw
) -> None:
    await store.add_tasks([once("a")])
    claim = (await acquire(store))["a"]
    await store.update_tasks_paused_status(["a"], True)
    await store.update_tasks_paused_status(["a"], False)
    assert await raw.zscore(store.keys.queue, "a") == to_epoch_seconds(T0 + LEASE)
    assert await store.complete_tasks([Completion("a", claim.token, None)]) == {"a"}
    assert await check_layout(raw, store) == []


async def test_pause_and_resume_a_group(store: RedisDataStore, raw: Raw) -> None:
    await store.add_tasks([once("a", group_id="g"), once("b", group_id="g"), once("c")])
    await store.update_group_paused_status("g", True)
    assert {t.task_id: t.paused for t in await store.fetch_tasks(["a", "b", "c"])} == {
        "a": True,
        "b": True,
        "c": False,
    }
    assert set(await acquire(store)) == {"c"}
    await store.update_group_paused_status("g", False)
    assert set(await acquire(store)) == {"a", "b"}
    await store.update_group_paused_status("no-such-group", True)
    assert await check_layout(raw, store) == []


# ---------------------------------------------------------------- removing


async def test_remove_by_id_takes_the_task_out_of_everything(
    store: RedisDataStore, raw: Raw
) -> None:
    await store.add_tasks([once("a", group_id="g"), once("b", group_id="g")])
    await acquire(store, limit=1)
    await store.remove_tasks(["a", "unknown"])
    assert await store.fetch_tasks(["a", "b"]) == [(await store.fetch_tasks(["b"]))[0]]
    assert await raw.smembers(store.keys.group("g")) == {"b"}
    assert await check_layout(raw, store) == []


async def test_remove_a_group(store: RedisDataStore, raw: Raw) -> None:
    await store.add_tasks(
        [once("a", group_id="g"), once("b", group_id="g"), once("c", group_id="h")]
    )
    await store.remove_group_tasks("g")
    assert [t.task_id for t in await store.fetch_tasks(["a", "b", "c"])] == ["c"]
    assert not await raw.exists(store.keys.group("g"))
    assert await check_layout(raw, store) == []


async def test_remove_all_deletes_only_this_prefix(
    store: RedisDataStore, raw: Raw, redis_config: RedisConfig, prefix: str
) -> None:
    neighbour = RedisDataStore(redis_config, prefix=f"{prefix}:other")
    await neighbour.start()
    try:
        await neighbour.add_tasks([once("a", group_id="g")])
        await store.add_tasks([once("a", group_id="g"), once("b")])
        await acquire(store)
        # leftovers of a 0.10 crash: a hash outside the schedule, a stale set member
        await raw.hset(store.keys.task("stray"), mapping={"task_id": "stray", "run_at": "1.0"})
        await raw.sadd(store.keys.group("g2"), "gone")
        await raw.set(f"{prefix}:unrelated", "kept")
        await store.remove_all_tasks()
        left = without_call_ids([key async for key in raw.scan_iter(match=f"{prefix}*")])
        assert left == sorted(
            [
                neighbour.keys.queue,
                neighbour.keys.runs,
                neighbour.keys.due("cb"),
                neighbour.keys.callback_runs("cb"),
                neighbour.keys.task("a"),
                neighbour.keys.group("g"),
                f"{prefix}:unrelated",
            ]
        )
    finally:
        await neighbour.remove_all_tasks()
        await neighbour.shutdown()


# ---------------------------------------------------------------- reading


async def test_fetch_due_tasks_includes_claimed_and_skips_paused(store: RedisDataStore) -> None:
    await store.add_tasks(
        [
            once("a", T0 - SECOND),
            once("b", T0),
            once("c", T0 + SECOND),
            once("p", T0 - SECOND, paused=True),
        ]
    )
    await acquire(store, T0, limit=1)
    assert [t.task_id for t in await store.fetch_due_tasks(T0)] == ["a", "b"]


async def test_next_wakeup_counts_leases_and_ignores_paused(store: RedisDataStore) -> None:
    assert await store.fetch_next_wakeup() is None
    await store.add_tasks([once("p", T0 - SECOND, paused=True)])
    assert await store.fetch_next_wakeup() is None
    await store.add_tasks([once("a", T0), once("b", T0 + 60 * SECOND)])
    assert await store.fetch_next_wakeup() == T0
    await acquire(store, T0, limit=1, lease=10 * SECOND)
    assert await store.fetch_next_wakeup() == T0 + 10 * SECOND


# ---------------------------------------------------------------- claims


async def test_acquire_takes_due_unpaused_unclaimed_tasks_earliest_first(
    store: RedisDataStore,
) -> None:
    await store.add_tasks(
        [
            once("late", T0 + SECOND),
            once("b", T0 - SECOND),
            once("a", T0 - 2 * SECOND),
            once("p", T0 - SECOND, paused=True),
            once("c", T0),
        ]
    )
    claims = await store.acquire_tasks(worker_id="w1", now=T0, lease_until=T0 + LEASE, limit=2)
    assert [c.task_id for c in claims] == ["a", "b"]
    assert len({c.token for c in claims}) == 2 and all(len(c.token) <= 40 for c in claims)
    assert all(c.lease_until == T0 + LEASE for c in claims)
    assert set(await acquire(store, T0)) == {"c"}
    assert await acquire(store, T0) == {}


async def test_an_expired_lease_is_claimable_and_fences_the_old_holder(
    store: RedisDataStore, raw: Raw
) -> None:
    await store.add_tasks([once("a")])
    first = (await acquire(store, T0, lease=10 * SECOND, worker="w1"))["a"]
    assert await acquire(store, T0 + 9 * SECOND) == {}
    second = (await acquire(store, T0 + 10 * SECOND, worker="w2"))["a"]
    assert second.token != first.token
    assert await store.extend_leases([first], T0 + LEASE * 3) == set()
    assert await store.release_tasks([first]) == set()
    assert await store.complete_tasks([Completion("a", first.token, None)]) == set()
    assert await store.complete_tasks([Completion("a", second.token, None)]) == {"a"}
    assert await store.fetch_tasks(["a"]) == []
    assert await check_layout(raw, store) == []


async def test_complete_moves_a_recurring_task(store: RedisDataStore, raw: Raw) -> None:
    await store.add_tasks([every("r", group_id="g")])
    claim = (await acquire(store))["r"]
    following = T0 + timedelta(minutes=1)
    assert await store.complete_tasks([Completion("r", claim.token, following)]) == {"r"}
    [task] = await store.fetch_tasks(["r"])
    assert task.run_at == following
    assert await raw.hget(store.keys.task("r"), "claim_token") is None
    assert await raw.zscore(store.keys.queue, "r") == to_epoch_seconds(following)
    assert await check_layout(raw, store) == []


async def test_extend_and_release(store: RedisDataStore, raw: Raw) -> None:
    await store.add_tasks([once("a"), once("b")])
    claims = await acquire(store)
    assert await store.extend_leases(list(claims.values()), T0 + 5 * LEASE) == {"a", "b"}
    assert await raw.zscore(store.keys.queue, "a") == to_epoch_seconds(T0 + 5 * LEASE)
    assert await acquire(store, T0 + 2 * LEASE) == {}
    assert await store.release_tasks([claims["a"]]) == {"a"}
    assert set(await acquire(store, T0)) == {"a"}
    assert await check_layout(raw, store) == []


# ---------------------------------------------------------------- malformed records


BAD_HASHES: dict[str, dict[str, str]] = {
    "bad-json": {"kwargs": '{"secret": "hunter2"'},
    "no-callback": {"callback": ""},
    "bad-run-at": {"run_at": "soon"},
    "bad-paused": {"paused": "maybe"},
    "bad-type": {"run_type": "sometimes"},
    "bad-interval": {"run_type": "recurring", "interval": "-5"},
    "other-id": {"task_id": "someone-else"},
}


async def test_malformed_records_are_logged_set_aside_and_kept(
    store: RedisDataStore, raw: Raw, caplog: pytest.LogCaptureFixture
) -> None:
    await store.add_tasks([once("good"), *(once(name) for name in BAD_HASHES)])
    for name, fields in BAD_HASHES.items():
        await raw.hset(store.keys.task(name), mapping=fields)
    await raw.zadd(store.keys.queue, {"no-hash": T0.timestamp() - 1})
    with caplog.at_level(logging.WARNING, logger="taskshed_redis"):
        claims = await acquire(store, T0)
    assert set(claims) == {"good"}
    await store.complete_tasks([Completion("good", claims["good"].token, None)])
    log = caplog.text
    for name in [*BAD_HASHES, "no-hash"]:
        assert repr(name) in log
        score = await raw.zscore(store.keys.queue, name)
        assert score == to_epoch_seconds(T0 + SET_ASIDE_FOR), name
    assert "hunter2" not in log
    for name in BAD_HASHES:
        assert await raw.exists(store.keys.task(name))
        assert await raw.hget(store.keys.task(name), "lease_until") == repr(
            to_epoch_seconds(T0 + SET_ASIDE_FOR)
        )
    # set aside, not lost: offered again once the time has passed
    assert await acquire(store, T0 + SET_ASIDE_FOR - SECOND) == {}
    # readers skip them too, and say so
    assert await store.fetch_tasks(["good", *BAD_HASHES]) == []
    # a fixed record is claimable again at once
    await store.add_tasks([once("bad-json")])
    assert set(await acquire(store, T0)) == {"bad-json"}


async def test_a_paused_hash_with_a_stale_score_is_not_claimed(
    store: RedisDataStore, raw: Raw
) -> None:
    # 0.10's update_execution_times put a paused task back on a finite score.
    await store.add_tasks([once("p", paused=True)])
    await raw.zadd(store.keys.queue, {"p": T0.timestamp()})
    assert await acquire(store, T0) == {}
    assert await raw.zscore(store.keys.queue, "p") == math.inf
    assert await store.fetch_next_wakeup() is None


# ---------------------------------------------------------------- lifecycle


async def test_methods_before_start_raise(redis_config: RedisConfig, prefix: str) -> None:
    store = RedisDataStore(redis_config, prefix=prefix)
    with pytest.raises(DataStoreNotStartedError):
        await store.fetch_tasks(["a"])
    await store.start()
    await store.start()
    await store.shutdown()
    await store.shutdown()
    with pytest.raises(DataStoreNotStartedError):
        await store.fetch_next_wakeup()


async def test_a_claim_keeps_the_hash_compact(store: RedisDataStore, raw: Raw) -> None:
    # Claim fields stay under Redis's 64-byte listpack limit, whatever the worker id.
    await store.add_tasks([every("r", kwargs={"run_at": T0.isoformat()})])
    claims = await store.acquire_tasks(
        worker_id="a-rather-long-kubernetes-pod-name-7d9f8b6c4-x2x9k:12345:abcdef12",
        now=T0,
        lease_until=T0 + LEASE,
        limit=1,
    )
    assert await raw.object("encoding", store.keys.task("r")) in {"listpack", "ziplist"}
    await store.complete_tasks([Completion("r", claims[0].token, T0 + LEASE)])
    assert await raw.object("encoding", store.keys.task("r")) in {"listpack", "ziplist"}


async def test_a_filtered_claim_sets_aside_a_task_whose_hash_is_gone(
    store: RedisDataStore, raw: Raw, caplog: pytest.LogCaptureFixture
) -> None:
    # A hash can vanish under its index entries: evicted, or deleted by another program.
    await store.add_tasks([once("gone", T0 - SECOND), once("good", T0)])
    await raw.delete(store.keys.task("gone"))
    with caplog.at_level(logging.WARNING, logger="taskshed_redis"):
        claims = await store.acquire_tasks(
            worker_id="w", now=T0, lease_until=T0 + LEASE, limit=10, callbacks={"cb"}
        )
    assert [c.task_id for c in claims] == ["good"]
    assert "'gone'" in caplog.text
    assert await raw.exists(store.keys.task("gone")) == 0, "a claim must not make up a hash"
    assert await raw.zscore(store.keys.queue, "gone") == to_epoch_seconds(T0 + SET_ASIDE_FOR)
    assert await raw.zscore(store.keys.due("cb"), "gone") is None
