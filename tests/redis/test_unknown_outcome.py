"""A script whose reply is lost is sent again, and a second run never undoes what happened between."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from taskshed_redis import RedisDataStore
from taskshed_redis.config import RedisConfig

from taskshed.errors import TaskNotFoundError
from taskshed.models import Task, TaskExecutionTime
from taskshed.timeutils import utcnow
from tests.support.redis_server import running_redis
from tests.support.reply_eater import ReplyEater

pytestmark = pytest.mark.redis


@pytest.fixture
async def servers(
    tmp_path: Path,
) -> AsyncIterator[tuple[RedisDataStore, RedisDataStore, ReplyEater, int]]:
    """A store behind a :class:`ReplyEater`, and an intruder store straight on the same server."""
    with running_redis(tmp_path) as server:
        eater = ReplyEater(server.port)
        await eater.start()
        store = RedisDataStore(RedisConfig(port=eater.port), prefix="lost")
        intruder = RedisDataStore(RedisConfig(port=server.port), prefix="lost")
        try:
            await store.start()
            await intruder.start()
            yield store, intruder, eater, server.port
        finally:
            await store.shutdown()
            await intruder.shutdown()
            await eater.stop()


async def _claim_meanwhile(intruder: RedisDataStore) -> None:
    now = utcnow()
    claims = await intruder.acquire_tasks(
        worker_id="intruder", now=now, lease_until=now + timedelta(seconds=60), limit=10
    )
    assert [c.task.task_id for c in claims] == ["t"]


async def _others_claim(store: RedisDataStore) -> list[str]:
    """What a third worker can claim now (nothing, while the intruder's claim holds)."""
    now = utcnow()
    claims = await store.acquire_tasks(
        worker_id="third", now=now, lease_until=now + timedelta(seconds=60), limit=10
    )
    return [c.task.task_id for c in claims]


async def test_a_replacing_add_sent_twice_runs_once_and_keeps_the_claim_taken_between(
    servers: tuple[RedisDataStore, RedisDataStore, ReplyEater, int],
) -> None:
    store, intruder, eater, _ = servers
    await store.add_tasks([Task(callback="cb", task_id="t", run_at=utcnow())])
    eater.arm(b"EVALSHA", lambda: _claim_meanwhile(intruder))
    await store.add_tasks([Task(callback="cb", task_id="t", run_at=utcnow(), kwargs={"n": 2})])
    assert eater.eaten == 1
    [task] = await store.fetch_tasks(["t"])
    assert task.kwargs == {"n": 2}, "the first run did not apply"
    assert not await _others_claim(store), "the second run replaced the task again"


async def test_update_times_sent_twice_keeps_the_claim_taken_between(
    servers: tuple[RedisDataStore, RedisDataStore, ReplyEater, int],
) -> None:
    store, intruder, eater, _ = servers
    await store.add_tasks([Task(callback="cb", task_id="t", run_at=utcnow())])
    # Once first, so the server knows the script (else the eaten reply is a NOSCRIPT).
    await store.update_execution_times([TaskExecutionTime(task_id="t", run_at=utcnow())])
    eater.arm(b"EVALSHA", lambda: _claim_meanwhile(intruder))
    await store.update_execution_times([TaskExecutionTime(task_id="t", run_at=utcnow())])
    assert eater.eaten == 1
    assert not await _others_claim(store), "the second run dropped the claim again"


async def test_a_missing_id_is_reported_by_a_repeated_update_too(
    servers: tuple[RedisDataStore, RedisDataStore, ReplyEater, int],
) -> None:
    store, _, eater, _ = servers
    eater.arm(b"EVALSHA")
    with pytest.raises(TaskNotFoundError):
        await store.update_execution_times([TaskExecutionTime(task_id="nowhere", run_at=utcnow())])
    assert eater.eaten == 1


async def test_a_read_whose_reply_is_lost_is_sent_again(
    servers: tuple[RedisDataStore, RedisDataStore, ReplyEater, int],
) -> None:
    store, _, eater, _ = servers
    await store.add_tasks([Task(callback="cb", task_id="t")])
    eater.arm(b"EVALSHA")
    [task] = await store.fetch_tasks(["t"])
    assert task.task_id == "t" and eater.eaten == 1


async def test_a_replacing_add_after_the_server_restarted_goes_through(tmp_path: Path) -> None:
    """The pooled connection died with the old server: the write is sent again on a new one."""
    with running_redis(tmp_path) as server:
        store = RedisDataStore(RedisConfig(port=server.port), prefix="restart")
        try:
            await store.start()
            await store.add_tasks([Task(callback="cb", task_id="t")])
            await asyncio.to_thread(server.kill)
            await asyncio.to_thread(server.start)
            await store.add_tasks([Task(callback="cb", task_id="t", kwargs={"n": 2})])
            [task] = await store.fetch_tasks(["t"])
            assert task.kwargs == {"n": 2}
        finally:
            await store.shutdown()
