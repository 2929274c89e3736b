"""The Redis notifier: pub/sub on connections of its own, channels per database and prefix, reconnects.

The cross-process test runs an ``EventDrivenWorker`` in another process with
``max_sleep=30`` s: a task that starts within half a second of being added was
woken by the notifier, since nothing else wakes that worker sooner.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from taskshed_redis import RedisDataStore
from taskshed_redis.config import RedisConfig
from taskshed_redis.notify import RedisNotifier, channel_name

from taskshed.notifiers.base import Notice
from taskshed.schedulers import AsyncScheduler
from taskshed.testing.worker_process import RECORD_CALLBACK
from taskshed.urls import URL
from tests.support.notifiers import RECHECK, Inbox, NotifiedWorker

pytestmark = pytest.mark.redis

#: How soon a notified worker must start a task that is due now, seconds.
WAKE_WITHIN = 0.5


def _url(redis_url: str, prefix: str) -> str:
    separator = "&" if "?" in redis_url else "?"
    return f"{redis_url}{separator}prefix={prefix}"


@pytest.fixture
async def notifiers() -> AsyncIterator[list[RedisNotifier]]:
    made: list[RedisNotifier] = []
    yield made
    for notifier in made:
        await notifier.shutdown()


async def _started(made: list[RedisNotifier], url: str, **options: Any) -> RedisNotifier:
    notifier = RedisNotifier.from_url(url, **options)
    made.append(notifier)
    await notifier.start()
    return notifier


async def _kill_listening_connection(config: RedisConfig, notifier: RedisNotifier) -> None:
    """``CLIENT KILL`` the connection ``notifier`` listens on (found by its local address)."""
    host, port = notifier._pubsub.connection._writer.get_extra_info("sockname")[:2]
    admin = aioredis.Redis(**config.client_kwargs())
    try:
        killed = await admin.execute_command("CLIENT", "KILL", "ADDR", f"{host}:{port}")
        assert killed in (True, b"OK", "OK", 1), killed
    finally:
        await admin.aclose()


# ------------------------------------------------------------------ payloads and channels


def test_channels_differ_by_database_and_prefix() -> None:
    names = {channel_name(0, "a"), channel_name(1, "a"), channel_name(0, "b")}
    assert len(names) == 3


# ------------------------------------------------------------------ in one process


async def test_a_notice_reaches_every_subscriber_with_its_time(
    redis_url: str, prefix: str, notifiers: list[RedisNotifier]
) -> None:
    url = _url(redis_url, prefix)
    publisher = await _started(notifiers, url)
    listener = await _started(notifiers, url)
    inbox, own = Inbox(), Inbox()
    await listener.subscribe(inbox)
    await publisher.subscribe(own)
    earliest = datetime(2040, 1, 1, 0, 0, 0, 123456, tzinfo=UTC)
    await publisher.publish(Notice("schedule", earliest))
    assert await inbox.next(skip_rechecks=True) == Notice("schedule", earliest)
    assert await own.next(skip_rechecks=True) == Notice("schedule", earliest), (
        "the publisher's own process missed it"
    )
    await listener.publish(Notice("released"))
    assert await inbox.next(skip_rechecks=True) == Notice("released")


async def test_stores_on_other_prefixes_or_databases_do_not_wake_each_other(
    redis_url: str, prefix: str, notifiers: list[RedisNotifier]
) -> None:
    url = URL.parse(_url(redis_url, prefix))
    other_db = (int(url.database or 0) + 1) % 16
    mine = await _started(notifiers, str(url))
    other_prefix = await _started(notifiers, _url(redis_url, prefix + "-other"))
    other_database = await _started(
        notifiers, f"redis://{url.host}:{url.port or 6379}/{other_db}?prefix={prefix}"
    )
    inbox, prefix_inbox, db_inbox = Inbox(), Inbox(), Inbox()
    await mine.subscribe(inbox)
    await other_prefix.subscribe(prefix_inbox)
    await other_database.subscribe(db_inbox)

    earliest = datetime(2040, 1, 1, tzinfo=UTC)
    await other_prefix.publish(Notice("released"))
    await other_database.publish(Notice("released"))
    await mine.publish(Notice("schedule", earliest))
    assert await inbox.next(skip_rechecks=True) == Notice("schedule", earliest)
    assert await prefix_inbox.next(skip_rechecks=True) == Notice("released")
    assert await db_inbox.next(skip_rechecks=True) == Notice("released")
    await asyncio.sleep(0.3)
    assert inbox.published() == [Notice("schedule", earliest)], "a notice crossed to another store"
    assert prefix_inbox.published() == [Notice("released")]
    assert db_inbox.published() == [Notice("released")]


async def test_the_store_notifier_shares_the_url_notifiers_channel(
    redis_config: RedisConfig, redis_url: str, prefix: str, notifiers: list[RedisNotifier]
) -> None:
    store = RedisDataStore(redis_config, prefix=prefix)
    made = store.create_notifier()
    assert isinstance(made, RedisNotifier)
    notifiers.append(made)
    by_url = await _started(notifiers, _url(redis_url, prefix))
    assert made.channel == by_url.channel
    inbox = Inbox()
    await made.subscribe(inbox)
    await by_url.publish(Notice("released"))
    assert await inbox.next(skip_rechecks=True) == Notice("released")


async def test_an_injected_clients_store_notifies_on_its_database(
    redis_config: RedisConfig, prefix: str, notifiers: list[RedisNotifier]
) -> None:
    client = aioredis.Redis(**redis_config.client_kwargs())
    try:
        made = RedisDataStore(client=client, prefix=prefix).create_notifier()
        assert isinstance(made, RedisNotifier)
        notifiers.append(made)
        assert made.channel == channel_name(redis_config.db, prefix)
        inbox = Inbox()
        await made.subscribe(inbox)
        await made.publish(Notice("released"))
        assert await inbox.next(skip_rechecks=True) == Notice("released")
        await made.shutdown()
        assert await client.ping(), "the notifier closed the application's client"
    finally:
        await client.aclose()


async def test_publishing_never_raises_when_the_server_is_out_of_reach(
    notifiers: list[RedisNotifier],
) -> None:
    unreachable = await _started(notifiers, "redis://127.0.0.1:1/0", publish_timeout=1.0)
    await unreachable.publish(Notice("schedule"))  # a hint: dropped, not raised
    inbox = Inbox()
    began = time.monotonic()
    await unreachable.subscribe(inbox)  # returns; keeps trying in the background
    assert time.monotonic() - began < 5


async def test_a_killed_listener_reconnects_listens_again_and_says_so(
    redis_config: RedisConfig, redis_url: str, prefix: str, notifiers: list[RedisNotifier]
) -> None:
    url = _url(redis_url, prefix)
    publisher = await _started(notifiers, url)
    listener = await _started(notifiers, url, reconnect_min=0.05)
    inbox = Inbox()
    await listener.subscribe(inbox)
    await publisher.publish(Notice("released"))
    assert await inbox.next(skip_rechecks=True) == Notice("released")

    await _kill_listening_connection(redis_config, listener)
    # Back on a new connection, it tells its subscriber to re-check ...
    assert await inbox.next() == RECHECK
    assert listener.reconnects >= 1
    # ... and hears what is published from then on (once it listens again: a notice sent
    # while it was away is lost, which is what the re-check hint stands for).
    deadline = time.monotonic() + 10
    while Notice("released") not in inbox.notices[inbox.read :]:
        assert time.monotonic() < deadline, f"nothing heard after the reconnect: {inbox.notices}"
        await publisher.publish(Notice("released"))
        await asyncio.sleep(0.1)


def test_the_plugin_serves_redis_notifier_urls() -> None:
    from taskshed_redis import plugin

    [backend] = plugin.taskshed_notifier_backends()
    assert {"redis", "rediss", "unix"} <= set(backend.schemes)
    notifier = backend.factory(URL.parse("redis://u:secret@cache.internal:6380/3?prefix=app"))
    assert isinstance(notifier, RedisNotifier)
    assert notifier.channel == channel_name(3, "app")
    assert "secret" not in notifier.describe() and "secret" not in repr(notifier)


# ------------------------------------------------------------------ across processes


async def _wake_twice(scheduler: AsyncScheduler, worker: NotifiedWorker) -> None:
    await worker.wait_for(worker.ready, "the worker to start", 30)
    await asyncio.sleep(1.5)  # the worker is listening and well into its 30-second sleep
    for n in range(2):
        task_id = f"woken-{n}"
        added = time.time()
        await scheduler.add_task(RECORD_CALLBACK, kwargs={"task": task_id}, task_id=task_id)
        await worker.wait_for(lambda t=task_id: worker.starts(t), f"{task_id} to start", 10)
        lag = worker.starts(task_id)[0] - added
        assert lag < WAKE_WITHIN, f"{task_id} started {lag:.3f} s after it was added"
        await asyncio.sleep(2.5)  # past the lease-end wake-up: back in the long sleep


@pytest.mark.slow
async def test_a_redis_stores_worker_in_another_process_is_woken_at_once(
    redis_config: RedisConfig, redis_url: str, prefix: str, tmp_path: Path
) -> None:
    url = _url(redis_url, prefix)
    worker = NotifiedWorker(url, tmp_path)
    scheduler = AsyncScheduler(RedisDataStore(redis_config, prefix=prefix))
    try:
        await scheduler.start()
        await _wake_twice(scheduler, worker)
    finally:
        worker.stop()
        await scheduler.shutdown()


@pytest.mark.slow
async def test_a_sqlite_store_paired_with_a_redis_notifier_wakes_another_process(
    redis_url: str, prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from taskshed.config import open_datastore

    database = f"sqlite+aiosqlite:///{tmp_path / 'paired.db'}"
    notifier_url = _url(redis_url, prefix)
    worker = NotifiedWorker(database, tmp_path, notifier=notifier_url)
    monkeypatch.setenv("TASKSHED_NOTIFIER", notifier_url)
    scheduler = AsyncScheduler(open_datastore(database))
    try:
        await scheduler.start()
        await _wake_twice(scheduler, worker)
    finally:
        worker.stop()
        await scheduler.shutdown()
