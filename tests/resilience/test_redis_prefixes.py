"""Two Redis stores on one server, under any pair of key prefixes, never touch each other's keys.

Run on a redis-server of the test's own, so the whole keyspace can be
compared: after the second store has added, paused, resumed and removed its
tasks — ``remove_all_tasks`` included, which finds keys by SCAN pattern — the
server holds exactly the bytes the first store wrote. A prefix that could
overlap another store's keys is refused with ``ConfigurationError``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from taskshed.errors import ConfigurationError
from taskshed.models import Task
from tests.resilience.harness import FAR, VICTIMS
from tests.resilience.stores import require_plugin
from tests.resilience.tally import Recorder
from tests.support.redis_server import RedisServer

PIECES = [
    ":", "task", "group", "tasks", "task_queue", "claims", "scheduler", "a", "b", "*", "?",
    "[", "]", "\\", "{", "}", "-", "_", " ", "é",
]  # fmt: skip
_ACCEPTABLE = [p for p in PIECES if p not in ("task", "group", "{", "}", " ")]
# Mostly prefixes a store accepts (their pairs are what can collide), some it must refuse.
prefixes = st.one_of(
    st.lists(st.sampled_from(_ACCEPTABLE), min_size=1, max_size=6).map("".join),
    st.lists(st.sampled_from(_ACCEPTABLE), min_size=1, max_size=6).map("".join),
    st.lists(st.sampled_from(PIECES), min_size=1, max_size=6).map("".join),
)


class OwnServer:
    def __init__(self, folder: Path) -> None:
        require_plugin("redis")
        self.server = RedisServer(folder)
        self.server.start()
        self.runner = asyncio.Runner()
        self.client = aioredis.Redis(host="127.0.0.1", port=self.server.port)

    def run(self, coro):  # type: ignore[no-untyped-def]
        return self.runner.run(coro)

    async def keyspace(self) -> dict[bytes | str, object]:
        return {key: await self.client.dump(key) for key in await self.client.keys("*")}

    def close(self) -> None:
        try:
            self.run(self.client.aclose())
        finally:
            self.runner.close()
            self.server.close()


@pytest.fixture(scope="module")
def own_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OwnServer]:
    server = OwnServer(tmp_path_factory.mktemp("prefix-redis"))
    try:
        yield server
    finally:
        server.close()


def test_stores_under_any_two_prefixes_stay_apart(own_server: OwnServer, tally: Recorder) -> None:
    from taskshed_redis import RedisDataStore
    from taskshed_redis.config import RedisConfig

    counts = {"pairs": 0, "refused": 0}
    config = RedisConfig(host="127.0.0.1", port=own_server.server.port)

    def make(prefix: str, hash_tag: bool) -> RedisDataStore | None:
        try:
            return RedisDataStore(config, prefix=prefix, hash_tag=hash_tag)
        except ConfigurationError:
            counts["refused"] += 1
            return None

    async def scenario(first: RedisDataStore, second: RedisDataStore) -> None:
        await own_server.client.flushdb()
        await first.start()
        await second.start()
        try:
            await first.add_tasks(VICTIMS)
            before = await own_server.keyspace()
            mine = [
                Task(callback="cb", run_at=FAR, task_id=t.task_id, group_id=t.group_id)
                for t in VICTIMS
            ]
            await second.add_tasks(mine)
            await second.update_group_paused_status("vgroup", True)
            await second.update_group_paused_status("vgroup", False)
            await second.remove_group_tasks("vgroup")
            await second.acquire_tasks(
                worker_id="w", now=FAR, lease_until=FAR + timedelta(seconds=5), limit=100
            )
            await second.remove_all_tasks()
            after = await own_server.keyspace()
            assert after == before, sorted(set(after) ^ set(before))[:5]
            assert len(await first.fetch_tasks([t.task_id for t in VICTIMS])) == len(VICTIMS)
        finally:
            await first.shutdown()
            await second.shutdown()

    @settings(
        max_examples=120,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(p1=prefixes, p2=prefixes, tag1=st.booleans(), tag2=st.booleans())
    @example(p1="a", p2="a:b", tag1=False, tag2=False)
    @example(p1="a*", p2="ab", tag1=False, tag2=False)
    @example(p1="a", p2="a", tag1=True, tag2=False)
    @example(p1="scheduler", p2="scheduler:task_queue", tag1=False, tag2=False)
    def check(p1: str, p2: str, tag1: bool, tag2: bool) -> None:
        first, second = make(p1, tag1), make(p2, tag2)
        if first is None or second is None or first.keys.base == second.keys.base:
            return
        counts["pairs"] += 1
        own_server.run(scenario(first, second))

    check()
    tally.add(
        "security",
        "two Redis stores on one server under generated key prefixes (`:`, `task`, `group`, glob characters, braces, hash tags on/off); the second adds, pauses, resumes, claims, removes its group and calls remove_all_tasks",
        f"{counts['pairs']} prefix pairs: the first store's keys byte-for-byte unchanged; "
        f"{counts['refused']} prefixes refused with ConfigurationError",
        store="redis",
    )
