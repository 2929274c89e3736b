"""A write whose COMMIT got no answer is reported, not replayed: a replay could drop a claim taken meanwhile."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from taskshed_sqlalchemy import migrate
from taskshed_sqlalchemy.engines import create_engine
from taskshed_sqlalchemy.store import SQLAlchemyDataStore
from taskshed_sqlalchemy.urls import engine_spec

from taskshed.errors import DataStoreError
from taskshed.models import Task
from taskshed.timeutils import utcnow
from taskshed.urls import URL
from tests.sql.databases import database_url
from tests.support.reply_eater import ReplyEater

SERVERS = [
    pytest.param("mariadb", marks=pytest.mark.mariadb),
    pytest.param("postgresql", marks=pytest.mark.postgresql),
]


@pytest.fixture(params=SERVERS)
async def stores(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[SQLAlchemyDataStore, SQLAlchemyDataStore, ReplyEater]]:
    """A store behind a :class:`ReplyEater`, and an intruder store straight on the server."""
    url = await asyncio.to_thread(database_url, request.param, tmp_path)
    engine = create_engine(engine_spec(url), poolclass=sa.NullPool)
    try:
        await migrate.upgrade(engine)
    finally:
        await engine.dispose()
    parsed = URL.parse(url)
    eater = ReplyEater(parsed.port or (3306 if request.param == "mariadb" else 5432))
    await eater.start()
    store = SQLAlchemyDataStore(
        replace(parsed, host="127.0.0.1", port=eater.port).render(hide_password=False)
    )
    intruder = SQLAlchemyDataStore(url)
    try:
        await store.start()
        await intruder.start()
        yield store, intruder, eater
    finally:
        await store.shutdown()
        await intruder.shutdown()
        await eater.stop()


async def _claim(store: SQLAlchemyDataStore, worker_id: str) -> list[str]:
    now = utcnow()
    claims = await store.acquire_tasks(
        worker_id=worker_id, now=now, lease_until=now + timedelta(seconds=60), limit=10
    )
    return [c.task.task_id for c in claims]


async def test_a_replacing_add_whose_commit_was_not_answered_is_reported_not_replayed(
    stores: tuple[SQLAlchemyDataStore, SQLAlchemyDataStore, ReplyEater],
) -> None:
    store, intruder, eater = stores
    await store.add_tasks([Task(callback="cb", task_id="t", run_at=utcnow())])

    async def claim_meanwhile() -> None:
        assert await _claim(intruder, "intruder") == ["t"]

    eater.arm(b"COMMIT", claim_meanwhile)
    with pytest.raises(DataStoreError, match="during COMMIT"):
        await store.add_tasks([Task(callback="cb", task_id="t", run_at=utcnow(), kwargs={"n": 2})])
    assert eater.eaten == 1
    [task] = await intruder.fetch_tasks(["t"])
    assert task.kwargs == {"n": 2}, "the COMMIT did not apply the write"
    assert await _claim(intruder, "third") == [], "the write was sent again and dropped the claim"


async def test_a_read_on_a_connection_lost_before_commit_is_retried(
    stores: tuple[SQLAlchemyDataStore, SQLAlchemyDataStore, ReplyEater],
) -> None:
    store, _, eater = stores
    await store.add_tasks([Task(callback="cb", task_id="t", run_at=utcnow())])
    eater.arm(b"COMMIT")
    [task] = await store.fetch_tasks(["t"])
    assert task.task_id == "t" and eater.eaten == 1
