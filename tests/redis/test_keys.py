"""No task or group id, whatever its characters, reaches another task's or group's keys."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis.crc import key_slot
from taskshed_redis import RedisDataStore
from taskshed_redis.config import RedisConfig, parse_url
from taskshed_redis.keys import KeySpace, check_prefix

from taskshed.errors import ConfigurationError, InvalidTaskError
from taskshed.validation import check_identifier
from tests.redis.helpers import T0, check_layout, once, without_call_ids
from tests.support.names import unique_prefix

# Characters that matter to the layout, mixed with any other Unicode.
_TRICKY = st.sampled_from(
    [":", "{", "}", "task", "group", ":tasks", "task_queue", "*", "?", "[", "\\", "é", "🙂"]
)
_PIECES = st.one_of(_TRICKY, st.text(min_size=1, max_size=4))


def _valid_id(value: str) -> bool:
    try:
        check_identifier(value, "id")
    except InvalidTaskError:
        return False
    return True


def _valid_prefix(value: str) -> bool:
    try:
        check_prefix(value)
    except ConfigurationError:
        return False
    return True


ids = st.lists(_PIECES, min_size=1, max_size=6).map("".join).filter(_valid_id)
prefixes = st.lists(_PIECES, min_size=1, max_size=4).map("".join).filter(_valid_prefix)
spaces = st.builds(KeySpace, prefixes, st.booleans())


def _keys_of(space: KeySpace, kind: str, value: str) -> str:
    return {"task": space.task, "group": space.group}[kind](value)


@given(
    spaces,
    st.sampled_from(["task", "group"]),
    ids,
    spaces,
    st.sampled_from(["task", "group", "queue", "claims"]),
    ids,
)
@settings(max_examples=3000)
def test_keys_are_equal_only_for_the_same_store_kind_and_id(
    space_a: KeySpace, kind_a: str, id_a: str, space_b: KeySpace, kind_b: str, id_b: str
) -> None:
    key_a = _keys_of(space_a, kind_a, id_a)
    key_b = {"queue": space_b.queue, "claims": space_b.claims}.get(kind_b) or _keys_of(
        space_b, kind_b, id_b
    )
    same = space_a.base == space_b.base and kind_a == kind_b and id_a == id_b
    assert (key_a == key_b) == same


@given(prefixes, ids, ids)
def test_a_hash_tag_puts_every_key_of_a_store_in_one_slot(
    prefix: str, task_id: str, group_id: str
) -> None:
    space = KeySpace(prefix, hash_tag=True)
    slots = {
        key_slot(key.encode())
        for key in (space.queue, space.claims, space.task(task_id), space.group(group_id))
    }
    assert len(slots) == 1


@pytest.mark.parametrize("prefix", ["", "a{b", "x}", "app:task:x", "group", "with space", "tab\t"])
def test_prefixes_that_could_overlap_another_store_are_refused(prefix: str) -> None:
    with pytest.raises(ConfigurationError):
        RedisDataStore(prefix=prefix)


def test_the_default_keys_are_the_reference_ones() -> None:
    space = RedisDataStore().keys
    assert (space.queue, space.task("a:b"), space.group("g")) == (
        "scheduler:task_queue",
        "scheduler:task:a:b",
        "scheduler:group:g:tasks",
    )
    tagged = RedisDataStore(hash_tag=True).keys
    assert tagged.task("{x}") == "{scheduler}:task:{x}"


async def _hostile_round(
    config: RedisConfig, prefix: str, hash_tag: bool, a: str, b: str, ga: str, gb: str
) -> None:
    store = RedisDataStore(config, prefix=prefix, hash_tag=hash_tag)
    kwargs = config.client_kwargs()
    kwargs["decode_responses"] = True
    raw = aioredis.Redis(**kwargs)
    await store.start()
    try:
        await store.add_tasks(
            [once(a, group_id=ga, kwargs={"who": "a"}), once(b, group_id=gb, kwargs={"who": "b"})]
        )
        assert await check_layout(raw, store) == []
        await store.update_tasks_paused_status([a], True)
        await store.remove_tasks([a])
        [left] = await store.fetch_tasks([a, b])
        assert (left.task_id, left.kwargs, left.group_id, left.paused) == (
            b,
            {"who": "b"},
            gb,
            False,
        )
        if ga != gb:
            await store.remove_group_tasks(ga)
            await store.update_group_paused_status(ga, True)
            assert [t.task_id for t in await store.fetch_group_tasks(gb)] == [b]
            assert not (await store.fetch_tasks([b]))[0].paused
        claims = await store.acquire_tasks(worker_id="w", now=T0, lease_until=T0, limit=5)
        assert [c.task_id for c in claims] == [b]
        assert await check_layout(raw, store) == []
        await store.remove_all_tasks()
        assert [key async for key in raw.scan_iter(match=f"*{prefix}*")] == []
    finally:
        keys = [key async for key in raw.scan_iter(match=f"*{prefix}*")]
        if keys:
            await raw.delete(*keys)
        await raw.aclose()
        await store.shutdown()


@pytest.mark.redis
@given(ids, ids, ids, ids, st.booleans())
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_hostile_ids_only_touch_their_own_task(
    redis_url: str, a: str, b: str, ga: str, gb: str, hash_tag: bool
) -> None:
    if a == b:
        return
    prefix = unique_prefix()
    asyncio.run(_hostile_round(parse_url(redis_url).config, prefix, hash_tag, a, b, ga, gb))


@pytest.mark.redis
async def test_remove_all_treats_glob_characters_in_the_prefix_literally(redis_url: str) -> None:
    stem = unique_prefix()
    config = parse_url(redis_url).config
    store = RedisDataStore(config, prefix=f"{stem}-[ab]*?\\")
    neighbour = RedisDataStore(config, prefix=f"{stem}-a")
    for s in (store, neighbour):
        await s.start()
        await s.add_tasks([once("x", group_id="g")])
    raw = store.client
    try:
        await raw.hset(store.keys.task("stray"), "task_id", "stray")
        await store.remove_all_tasks()
        assert [t.task_id for t in await neighbour.fetch_tasks(["x"])] == ["x"]
        assert without_call_ids([k async for k in raw.scan_iter(match=f"{stem}*")]) == sorted(
            [
                neighbour.keys.queue,
                neighbour.keys.runs,
                neighbour.keys.due("cb"),
                neighbour.keys.callback_runs("cb"),
                neighbour.keys.task("x"),
                neighbour.keys.group("g"),
            ]
        )
    finally:
        await neighbour.remove_all_tasks()
        for s in (store, neighbour):
            await s.shutdown()
