"""A claim filtered to several callbacks still takes at most ``limit`` tasks in all.

Stores read each callback's due tasks separately (an index or a SELECT per
callback, free tasks and lapsed claims apart, each up to ``limit``); the claim
must then stop at ``limit`` overall. The conformance suite's limit test asks
for every callback, with no lapsed claims, so it can't see this.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from taskshed.datastores import InMemoryDataStore
from taskshed.datastores.base import DataStore
from taskshed.models import Task
from tests.support.names import unique_prefix
from tests.support.services import REDIS_URL, require_service

T0 = datetime(2040, 1, 1, 12, 0, tzinfo=UTC)
LEASE = timedelta(seconds=30)


@pytest.fixture(params=["memory", "sqlite", pytest.param("redis", marks=pytest.mark.redis)])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[DataStore]:
    kind = request.param
    datastore: DataStore
    if kind == "memory":
        datastore = InMemoryDataStore()
    elif kind == "sqlite":
        from taskshed_sqlalchemy import SQLAlchemyDataStore

        datastore = SQLAlchemyDataStore(f"sqlite+aiosqlite:///{tmp_path / 'claims.db'}")
    else:
        require_service("redis")
        from taskshed_redis import RedisDataStore
        from taskshed_redis.config import parse_url

        datastore = RedisDataStore(parse_url(REDIS_URL).config, prefix=unique_prefix("limit"))
    await datastore.start()
    try:
        yield datastore
    finally:
        await datastore.remove_all_tasks()
        await datastore.shutdown()


async def test_a_claim_over_several_callbacks_stops_at_the_limit(store: DataStore) -> None:
    # Nine due tasks, three per callback, interleaved in time: a9, b8, c7, a6, b5, ...
    tasks = [
        Task(
            callback=callback,
            task_id=f"{callback}{n}",
            run_at=T0 - timedelta(seconds=9 - 3 * n - offset),
        )
        for offset, callback in enumerate(("a", "b", "c"))
        for n in range(3)
    ]
    await store.add_tasks(tasks)
    names = {"a", "b", "c"}
    # A worker that went away holds three of them under leases that have lapsed by T0:
    # a claim reads free tasks and lapsed claims separately, and must cap both together.
    gone = await store.acquire_tasks(
        worker_id="gone", now=T0 - timedelta(seconds=1), lease_until=T0 - timedelta(seconds=0.5),
        limit=3, callbacks=names,
    )  # fmt: skip
    assert len(gone) == 3
    claims = await store.acquire_tasks(
        worker_id="w", now=T0, lease_until=T0 + LEASE, limit=4, callbacks=names
    )
    assert len(claims) == 4, [claim.task_id for claim in claims]
    rest = await store.acquire_tasks(
        worker_id="w", now=T0, lease_until=T0 + LEASE, limit=100, callbacks=names
    )
    assert len(rest) == len(tasks) - 4, "a task was claimed but not handed to the caller"
    assert {c.task_id for c in claims} | {c.task_id for c in rest} == {t.task_id for t in tasks}
