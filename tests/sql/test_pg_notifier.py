"""The PostgreSQL notifier: LISTEN/NOTIFY on its own connection, per-store channels, reconnects.

The cross-process tests run an ``EventDrivenWorker`` in another process with
``max_sleep=30`` s: a task that starts within half a second of being added
was woken by the notifier, since nothing else wakes that worker sooner.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from taskshed_sqlalchemy import migrate
from taskshed_sqlalchemy.engines import create_engine
from taskshed_sqlalchemy.notify import APPLICATION_NAME, PostgresNotifier, channel_name
from taskshed_sqlalchemy.store import SQLAlchemyDataStore
from taskshed_sqlalchemy.urls import engine_spec

from taskshed.errors import DataStoreError
from taskshed.notifiers.base import Notice
from taskshed.schedulers import AsyncScheduler
from taskshed.testing.worker_process import RECORD_CALLBACK
from taskshed.urls import URL
from tests.sql.databases import database_url, drop_tables
from tests.sql.isolated import DATABASE, isolated_url
from tests.support.notifiers import WORKER_LEASE, Inbox, NotifiedWorker
from tests.support.waiting import wait_until

pytestmark = pytest.mark.postgresql

#: How soon a notified worker must start a task that is due now, seconds.
WAKE_WITHIN = 0.5


@pytest.fixture
def pg_url(tmp_path: Path) -> Iterator[str]:
    url = isolated_url("postgresql", tmp_path)
    yield url
    asyncio.run(drop_tables(url))


@pytest.fixture
async def notifiers(pg_url: str) -> AsyncIterator[list[PostgresNotifier]]:
    made: list[PostgresNotifier] = []
    yield made
    for notifier in made:
        await notifier.shutdown()


async def _started(made: list[PostgresNotifier], url: str, **options: Any) -> PostgresNotifier:
    notifier = PostgresNotifier.from_url(url, **options)
    made.append(notifier)
    await notifier.start()
    return notifier


async def _terminate(url: str, pids: list[int]) -> None:
    engine = create_engine(engine_spec(url), poolclass=sa.NullPool)
    try:
        async with engine.begin() as conn:
            for pid in pids:
                await conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    finally:
        await engine.dispose()


# ------------------------------------------------------------------ payloads and channels


def test_channels_differ_by_database_and_table_and_are_identifiers() -> None:
    names = {channel_name("a"), channel_name("b"), channel_name("a", "other_table")}
    assert len(names) == 3
    for name in names:
        assert name.isidentifier() and name == name.lower() and len(name) <= 63


# ------------------------------------------------------------------ in one process


async def test_a_notice_reaches_every_subscriber_with_its_time(
    pg_url: str, notifiers: list[PostgresNotifier]
) -> None:
    publisher = await _started(notifiers, pg_url)
    listener = await _started(notifiers, pg_url)
    inbox, own = Inbox(), Inbox()
    await listener.subscribe(inbox)
    await publisher.subscribe(own)
    earliest = datetime(2040, 1, 1, 0, 0, 0, 123456, tzinfo=UTC)
    await publisher.publish(Notice("schedule", earliest))
    assert await inbox.next() == Notice("schedule", earliest)
    assert await own.next() == Notice("schedule", earliest), "the publisher's own process missed it"
    await listener.publish(Notice("released"))
    assert await inbox.next() == Notice("released")


@pytest.fixture
def other_url(tmp_path: Path) -> str:
    return database_url("postgresql", tmp_path, name=f"{DATABASE}_other")


async def test_stores_on_other_databases_or_channels_do_not_wake_each_other(
    pg_url: str, other_url: str, notifiers: list[PostgresNotifier]
) -> None:
    mine = await _started(notifiers, pg_url)
    theirs = await _started(notifiers, other_url)
    apart = await _started(notifiers, pg_url + "?channel=taskshed_elsewhere")
    inbox, theirs_inbox, apart_inbox = Inbox(), Inbox(), Inbox()
    await mine.subscribe(inbox)
    await theirs.subscribe(theirs_inbox)
    await apart.subscribe(apart_inbox)
    assert mine.channel != theirs.channel and apart.channel == "taskshed_elsewhere"

    await theirs.publish(Notice("released"))
    await apart.publish(Notice("released"))
    await mine.publish(Notice("schedule"))
    assert await inbox.next() == Notice("schedule")
    await asyncio.sleep(0.3)
    assert inbox.notices == [Notice("schedule")], "a notice crossed to another store"
    assert theirs_inbox.notices == [Notice("released")]
    assert apart_inbox.notices == [Notice("released")]


async def test_the_store_notifier_shares_the_url_notifiers_channel(
    pg_url: str, notifiers: list[PostgresNotifier]
) -> None:
    store = SQLAlchemyDataStore(pg_url)
    engine = create_engine(engine_spec(pg_url), poolclass=sa.NullPool)
    await migrate.upgrade(engine)
    await engine.dispose()
    await store.start()
    try:
        made = store.create_notifier()
        assert isinstance(made, PostgresNotifier)
        notifiers.append(made)
        await made.start()
        by_url = await _started(notifiers, pg_url)
        assert made.channel == by_url.channel
        # Its connection is its own, not one of the store's pool.
        assert store.engine.pool.checkedout() == 0  # type: ignore[attr-defined]
        inbox = Inbox()
        await made.subscribe(inbox)
        await by_url.publish(Notice("schedule"))
        assert await inbox.next() == Notice("schedule")
    finally:
        await store.shutdown()
    assert SQLAlchemyDataStore("sqlite+aiosqlite:///x.db").create_notifier() is None


async def test_publishing_never_raises_when_the_server_is_out_of_reach(
    notifiers: list[PostgresNotifier],
) -> None:
    unreachable = PostgresNotifier.from_url("postgresql://postgres@127.0.0.1:1/x")
    notifiers.append(unreachable)
    with pytest.raises(DataStoreError, match="can't connect"):
        await unreachable.start()
    await unreachable.publish(Notice("schedule"))  # a hint: dropped, not raised


async def test_a_killed_listener_reconnects_listens_again_and_says_so(
    pg_url: str, notifiers: list[PostgresNotifier]
) -> None:
    publisher = await _started(notifiers, pg_url)
    listener = await _started(notifiers, pg_url, reconnect_min=0.05)
    inbox = Inbox()
    await listener.subscribe(inbox)
    await publisher.publish(Notice("schedule"))
    assert await inbox.next() == Notice("schedule")

    await _terminate(pg_url, [listener._conn.get_server_pid()])
    # Back on a new connection, it tells its subscriber to re-check ...
    assert await inbox.next() == Notice("schedule")
    assert listener.reconnects == 1
    # ... and hears what is published from then on.
    await publisher.publish(Notice("released"))
    assert await inbox.next() == Notice("released")


async def test_a_killed_publisher_loses_at_most_a_hint_and_recovers(
    pg_url: str, notifiers: list[PostgresNotifier]
) -> None:
    publisher = await _started(notifiers, pg_url, reconnect_min=0.05)
    listener = await _started(notifiers, pg_url)
    inbox = Inbox()
    await listener.subscribe(inbox)
    await _terminate(pg_url, [publisher._conn.get_server_pid()])
    await publisher.publish(Notice("schedule"))  # may be lost; must not raise
    await wait_until(lambda: publisher.reconnects == 1, what="the publisher to reconnect")
    await publisher.publish(Notice("released"))
    await wait_until(lambda: Notice("released") in inbox.notices, what="the next notice")


def test_the_plugin_serves_postgresql_notifier_urls() -> None:
    from taskshed_sqlalchemy import plugin

    [backend] = plugin.taskshed_notifier_backends()
    assert {"postgresql", "postgresql+asyncpg", "postgres"} <= set(backend.schemes)
    notifier = backend.factory(URL.parse("postgresql://u:secret@db.internal:5432/app"))
    assert isinstance(notifier, PostgresNotifier)
    assert notifier.channel == "" and "secret" not in notifier.describe()


# ------------------------------------------------------------------ across processes


async def _upgrade(url: str) -> None:
    engine = create_engine(engine_spec(url), poolclass=sa.NullPool)
    try:
        await migrate.upgrade(engine)
    finally:
        await engine.dispose()


async def _worker_notifier_pids(url: str, scheduler: AsyncScheduler) -> list[int]:
    """The backends of notifier connections in the test database, but the scheduler's own."""
    own = scheduler._notifier
    assert isinstance(own, PostgresNotifier)
    engine = create_engine(engine_spec(url), poolclass=sa.NullPool)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                sa.text(
                    "SELECT pid FROM pg_stat_activity "
                    "WHERE datname = current_database() AND application_name = :name"
                ),
                {"name": APPLICATION_NAME},
            )
            return [row[0] for row in rows if row[0] != own._conn.get_server_pid()]
    finally:
        await engine.dispose()


@pytest.fixture
async def scheduler_and_worker(
    pg_url: str, tmp_path: Path
) -> AsyncIterator[tuple[AsyncScheduler, NotifiedWorker, str]]:
    await _upgrade(pg_url)
    worker = NotifiedWorker(pg_url, tmp_path)
    scheduler = AsyncScheduler(SQLAlchemyDataStore(pg_url))
    try:
        await scheduler.start()
        await worker.wait_for(lambda: worker.lines("R"), "the worker to start", 30)
        yield scheduler, worker, pg_url
    finally:
        worker.stop()
        await scheduler.shutdown()


async def _until_listening(url: str, scheduler: AsyncScheduler, timeout: float = 10) -> list[int]:
    """The worker's notifier connection (one), once it is there."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pids = await _worker_notifier_pids(url, scheduler)
        if pids:
            return pids
        await asyncio.sleep(0.02)
    raise AssertionError("the worker has no notifier connection")


async def _settle(scheduler: AsyncScheduler, worker: NotifiedWorker, task_id: str) -> None:
    """Wait until ``task_id`` ran and left the store, and the worker is back in its long sleep."""
    await worker.wait_for(lambda: task_id in {t for _, t in worker.lines("D")}, task_id, 10)

    async def gone() -> bool:
        return not await scheduler.fetch_tasks(task_ids=[task_id])

    await wait_until(gone, what=f"{task_id} to leave the store")
    await asyncio.sleep(WORKER_LEASE + 0.5)


async def _add_due_now(scheduler: AsyncScheduler, task_id: str) -> float:
    added = time.time()
    await scheduler.add_task(RECORD_CALLBACK, kwargs={"task": task_id}, task_id=task_id)
    return added


@pytest.mark.slow
async def test_a_worker_in_another_process_is_woken_by_the_notifier(
    scheduler_and_worker: tuple[AsyncScheduler, NotifiedWorker, str],
) -> None:
    scheduler, worker, url = scheduler_and_worker
    await _until_listening(url, scheduler)
    await asyncio.sleep(1.0)  # the worker is well into its 30-second sleep
    for n in range(2):
        task_id = f"woken-{n}"
        added = await _add_due_now(scheduler, task_id)
        await worker.wait_for(lambda t=task_id: worker.starts(t), f"{task_id} to start", 10)
        lag = worker.starts(task_id)[0] - added
        assert lag < WAKE_WITHIN, f"{task_id} started {lag:.3f} s after it was added"
        await _settle(scheduler, worker, task_id)


@pytest.mark.slow
async def test_a_killed_listener_connection_loses_and_repeats_nothing(
    scheduler_and_worker: tuple[AsyncScheduler, NotifiedWorker, str],
) -> None:
    scheduler, worker, url = scheduler_and_worker
    [listener] = await _until_listening(url, scheduler)
    added = await _add_due_now(scheduler, "before")
    await worker.wait_for(lambda: worker.starts("before"), "the first task", 10)
    assert worker.starts("before")[0] - added < WAKE_WITHIN
    await _settle(scheduler, worker, "before")

    # Kill the worker's listening connection mid-run and keep it from coming back
    # for a while: the notice of a task added meanwhile reaches nobody.
    parsed = URL.parse(url)
    database = parsed.database
    maintenance = replace(parsed, path="/postgres").render(hide_password=False)
    admin = create_engine(
        engine_spec(maintenance), poolclass=sa.NullPool, isolation_level="AUTOCOMMIT"
    )
    try:
        async with admin.connect() as conn:
            await conn.execute(sa.text(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false'))
            try:
                await conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": listener})
                await _add_due_now(scheduler, "during")
                await asyncio.sleep(1.0)
                assert worker.starts("during") == [], "the worker heard of the task while deaf"
            finally:
                await conn.execute(sa.text(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true'))
    finally:
        await admin.dispose()
    [relistening] = await _until_listening(url, scheduler)
    assert relistening != listener
    # Back, the notifier has the worker re-check: the task runs long before its 30-second poll.
    await worker.wait_for(lambda: worker.starts("during"), "the task added during the outage", 8)
    await _settle(scheduler, worker, "during")

    added = await _add_due_now(scheduler, "after")
    await worker.wait_for(lambda: worker.starts("after"), "the task added after", 10)
    assert worker.starts("after")[0] - added < WAKE_WITHIN, "the next notice did not arrive"

    await worker.wait_for(lambda: len(worker.lines("D")) >= 3, "every callback to return", 10)
    await asyncio.sleep(0.3)
    runs = [what for _, what in worker.lines("S")]
    assert sorted(runs) == ["after", "before", "during"], f"runs: {runs}"

    async def gone() -> bool:
        return not await scheduler.fetch_tasks(task_ids=["before", "during", "after"])

    await wait_until(gone, what="the completed tasks to leave the store")
