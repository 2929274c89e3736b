"""TaskShed 0.10 code that pauses or resumes a batch with a missing id keeps working, on every store.

In 0.10 a task removed meanwhile (by another process, say) is skipped and
the rest of the batch still changes. The code below is written the way a 0.10
application writes it: through ``AsyncScheduler``, with the 0.10 keywords only.
"""

from __future__ import annotations

import asyncio
import dataclasses
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from taskshed.datastores import InMemoryDataStore
from taskshed.datastores.base import DataStore
from taskshed.errors import TaskNotFoundError
from taskshed.schedulers import AsyncScheduler
from taskshed.timeutils import utcnow
from tests.support.services import REDIS_URL, require_service

STORES = [
    pytest.param("memory", id="memory"),
    pytest.param("sqlite", id="sqlite"),
    pytest.param("mariadb", id="mariadb", marks=pytest.mark.mariadb),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgresql),
    pytest.param("redis", id="redis", marks=pytest.mark.redis),
]


@pytest.fixture(scope="module", autouse=True)
def _drop_sql_databases() -> Iterator[None]:
    """The SQL databases made here are dropped when the module ends (tests/sql's conftest isn't ours)."""
    yield
    if "tests.sql.databases" in sys.modules:
        sys.modules["tests.sql.databases"].drop_created_databases()


def _sql_url(backend: str, tmp_path: Path) -> str:
    from tests.sql.isolated import isolated_url

    return isolated_url(backend, tmp_path)


async def _migrated(url: str) -> None:
    import sqlalchemy as sa
    from taskshed_sqlalchemy import migrate
    from taskshed_sqlalchemy.engines import create_engine
    from taskshed_sqlalchemy.urls import engine_spec

    engine = create_engine(engine_spec(url), poolclass=sa.NullPool)
    try:
        await migrate.upgrade(engine)
    finally:
        await engine.dispose()


@pytest.fixture(params=STORES)
def store_factory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DataStore]:
    """A new, unstarted store of each kind, built as a 0.10 application builds it."""
    kind = request.param
    cleanup = None
    if kind == "memory":
        store: DataStore = InMemoryDataStore()
    elif kind == "redis":
        require_service("redis")
        from taskshed_redis import RedisDataStore
        from taskshed_redis.config import parse_url

        # Redis database 5: this module's own, next to the other suites' keys.
        config = dataclasses.replace(parse_url(REDIS_URL).config, db=5)
        store = RedisDataStore(config, prefix=f"sqlx-pause-{uuid.uuid4().hex}")
    else:
        from taskshed_sqlalchemy import SQLAlchemyDataStore

        from tests.sql.databases import drop_tables

        url = _sql_url(kind, tmp_path)
        if kind == "mariadb":
            from taskshed.datastores import MySQLConfig, MySQLDataStore
            from taskshed.urls import URL

            parsed = URL.parse(url)
            store = MySQLDataStore(
                config=MySQLConfig(
                    host=parsed.host or "127.0.0.1",
                    port=parsed.port or 3306,
                    user=parsed.username or "root",
                    password=parsed.password,
                    db=parsed.database or "",
                )
            )
        else:
            asyncio.run(_migrated(url))
            store = SQLAlchemyDataStore(url)
        if kind != "sqlite":

            def cleanup() -> None:
                asyncio.run(drop_tables(url))

    yield store
    if cleanup is not None:
        cleanup()


@pytest.fixture
async def scheduler(store_factory: DataStore) -> AsyncIterator[AsyncScheduler]:
    scheduler = AsyncScheduler(store_factory)
    await scheduler.start()
    try:
        yield scheduler
    finally:
        await store_factory.remove_all_tasks()
        await scheduler.shutdown()


async def _paused(scheduler: AsyncScheduler, *task_ids: str) -> dict[str, bool]:
    return {task.task_id: task.paused for task in await scheduler.fetch_tasks(task_ids=task_ids)}


async def test_a_batch_with_a_missing_id_pauses_and_resumes_the_others(
    scheduler: AsyncScheduler,
) -> None:
    later = utcnow() + timedelta(hours=1)
    for task_id in ("a", "b", "c"):
        await scheduler.add_task("report", run_at=later, task_id=task_id, group_id="g")

    await scheduler.pause_tasks(task_ids=["a", "missing", "b"])
    assert await _paused(scheduler, "a", "b", "c") == {"a": True, "b": True, "c": False}

    # Another process removes "b" while this one resumes the batch it had.
    await scheduler.remove_tasks(task_ids=["b"])
    await scheduler.resume_tasks(task_ids=["a", "b"])
    assert await _paused(scheduler, "a", "b", "c") == {"a": False, "c": False}

    # A batch of only missing ids is no error either.
    await scheduler.pause_tasks(task_ids=["gone", "also-gone"])
    await scheduler.resume_tasks(task_ids=["gone"])


async def test_strict_mode_changes_nothing_when_an_id_is_missing(
    scheduler: AsyncScheduler,
) -> None:
    later = utcnow() + timedelta(hours=1)
    await scheduler.add_task("report", run_at=later, task_id="a")
    with pytest.raises(TaskNotFoundError):
        await scheduler.pause_tasks(task_ids=["a", "missing"], strict=True)
    assert await _paused(scheduler, "a") == {"a": False}
