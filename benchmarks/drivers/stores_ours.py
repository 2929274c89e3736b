"""How the taskshed driver opens *our* stores and workers (the project's own venv)."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import floor_mariadb
from common import (
    MYSQL_HOST,
    MYSQL_PORT,
    MYSQL_USER,
    PG_HOST,
    PG_PORT,
    PG_USER,
    REDIS_DB,
    REDIS_HOST,
    REDIS_PORT,
    SQLITE_DIR,
    NotApplicable,
    tcp_ports_of,
)

from taskshed import open_datastore
from taskshed.datastores.base import DataStore
from taskshed.models import Task
from taskshed.notifiers.base import Notifier
from taskshed.workers import BaseWorker, EventDrivenWorker, PollingWorker

NAME = "taskshed (ours)"
#: Where our tables and keys go (the test suite's smoke run sets names of its own).
MYSQL_DB = os.environ.get("BENCH_MYSQL_DB", "taskshed_bench")
REDIS_PREFIX = os.environ.get("BENCH_REDIS_PREFIX", "taskshed_bench")
PG_DB = os.environ.get("BENCH_PG_DB", "taskshed_bench")
SQLITE_FILE = SQLITE_DIR / f"{os.environ.get('BENCH_SQLITE_NAME', 'taskshed_bench')}.db"
URLS = {
    "memory": "memory://",
    "redis": f"redis://{REDIS_HOST}:{REDIS_PORT}/{REDIS_DB}?prefix={REDIS_PREFIX}",
    "mariadb": f"mysql+asyncmy://{MYSQL_USER}@{MYSQL_HOST}:{MYSQL_PORT}/{MYSQL_DB}",
    "postgresql": f"postgresql+asyncpg://{PG_USER}@{PG_HOST}:{PG_PORT}/{PG_DB}",
    "sqlite": f"sqlite+aiosqlite:///{SQLITE_FILE}",
}
#: The notifiers a measurement can pair with a store (``params["notifier"]``).
NOTIFIER_URLS = {
    "redis": f"redis://{REDIS_HOST}:{REDIS_PORT}/{REDIS_DB}?prefix={REDIS_PREFIX}",
}
#: Nothing of ours is changed to be measured.
ADAPTATIONS: list[str] = []


def no_observers() -> Any:
    """A plugin manager with no event observers, as in an install without such plugins.

    The project's venv, which runs ours, also has the Prometheus plugin installed
    (for its tests); its hooks would make every worker and scheduler build and
    deliver an event for each claim, start and end. Measured without it, like a
    ``pip install taskshed[mysql]``; the page says so.
    """
    import pluggy

    return pluggy.PluginManager("taskshed")


def make_store(store: str) -> DataStore:
    return open_datastore(URLS[store])


async def prepare(store: str) -> None:
    """Create our SQL database afresh and bring its schema to the latest revision.

    Dropped first: a database left by an earlier run (of an older build, or one
    a run killed half-way) could hold other indexes or dead rows, and its
    numbers would not be this build's.
    """
    if store == "mariadb":
        import asyncmy

        conn = await asyncmy.connect(host=MYSQL_HOST, port=MYSQL_PORT, user=MYSQL_USER)
        try:
            async with conn.cursor() as cursor:
                await cursor.execute(f"DROP DATABASE IF EXISTS `{MYSQL_DB}`")
                await cursor.execute(f"CREATE DATABASE `{MYSQL_DB}`")
        finally:
            conn.close()
    elif store == "postgresql":
        import asyncpg

        conn = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, database="postgres")
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{PG_DB}" WITH (FORCE)')
            await conn.execute(f'CREATE DATABASE "{PG_DB}"')
        finally:
            await conn.close()
    elif store == "sqlite":
        SQLITE_FILE.parent.mkdir(parents=True, exist_ok=True)
        for leftover in (SQLITE_FILE, *SQLITE_FILE.parent.glob(SQLITE_FILE.name + "-*")):
            leftover.unlink(missing_ok=True)
    else:
        return
    # The documented way: the `taskshed db upgrade` command of the SQL plugin.
    code = (
        "import sys; from taskshed.cli.main import main; "
        "sys.exit(main(['db', 'upgrade', '--datastore', sys.argv[1]]))"
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, URLS[store],
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, stderr = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"taskshed db upgrade failed: {stderr.decode(errors='replace')[-2000:]}")


async def server_version(store: str) -> str | None:
    """The server's name and version, for the machine description of the report."""
    if store == "redis":
        import redis.asyncio as aioredis

        client = aioredis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=REDIS_DB)
        try:
            info = await client.info("server")
        finally:
            await client.aclose()
        return f"Redis {info.get('redis_version')}"
    if store == "mariadb":
        import asyncmy

        conn = await asyncmy.connect(host=MYSQL_HOST, port=MYSQL_PORT, user=MYSQL_USER)
        try:
            async with conn.cursor() as cursor:
                await cursor.execute("SELECT VERSION(), @@innodb_flush_log_at_trx_commit")
                version, flush = await cursor.fetchone()
        finally:
            conn.close()
        return f"MariaDB {version} (innodb_flush_log_at_trx_commit={flush})"
    if store == "postgresql":
        import asyncpg

        conn = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, database=PG_DB)
        try:
            version = await conn.fetchval("SHOW server_version")
            commit = await conn.fetchval("SHOW synchronous_commit")
            autovacuum = await conn.fetchval("SHOW autovacuum")
        finally:
            await conn.close()
        return f"PostgreSQL {version} (synchronous_commit={commit}, autovacuum={autovacuum})"
    if store == "sqlite":
        import sqlite3

        return f"SQLite {sqlite3.sqlite_version} (a file in {SQLITE_FILE.parent}, aiosqlite)"
    return None


def settings() -> dict[str, Any]:
    """The worker defaults and reply parser the measurements ran with (for the report)."""
    import importlib.util
    import inspect

    defaults = {
        name: parameter.default
        for cls in (BaseWorker, EventDrivenWorker)
        for name, parameter in inspect.signature(cls).parameters.items()
        if parameter.default is not inspect.Parameter.empty
    }
    prefetch = defaults.get("prefetch", 0)
    if isinstance(prefetch, timedelta):
        prefetch = prefetch.total_seconds()
    return {
        "max_concurrency": defaults.get("max_concurrency"),
        "batch_size": defaults.get("batch_size"),
        "prefetch_s": float(prefetch or 0),
        "redis_parser": "hiredis" if importlib.util.find_spec("hiredis") else "python",
    }


def make_notifier(choice: str | None) -> Notifier | Literal["store"] | None:
    """The notifier a measurement asks for: the store's own (default), none, or one by URL.

    A notifier by URL is found the documented way, through the plugins'
    ``taskshed_notifier_backends`` hook; a build without it cannot do that measurement.
    """
    if choice in (None, "store"):
        return "store"
    if choice == "none":
        return None
    url = NOTIFIER_URLS[choice]
    scheme = url.split(":", 1)[0]
    from taskshed.registry import default_registry

    hook = getattr(default_registry().plugin_manager.hook, "taskshed_notifier_backends", None)
    for backends in hook() if hook is not None else []:
        for backend in backends or []:
            if scheme in backend.schemes:
                notifier: Notifier = backend.factory(url)
                return notifier
    raise NotApplicable(f"no notifier plugin serves {scheme}:// in this build")


def make_worker(
    kind: str, callbacks: dict[str, Any], datastore: DataStore, params: dict[str, Any]
) -> Any:
    options: dict[str, Any] = {}
    for key in ("max_concurrency", "batch_size"):
        if params.get(key) is not None:
            options[key] = int(params[key])
    if params.get("notifier") is not None:
        options["notifier"] = make_notifier(params["notifier"])
    options["plugin_manager"] = no_observers()
    if kind == "polling":
        interval = timedelta(seconds=float(params["polling_interval"]))
        return PollingWorker(callbacks, datastore, polling_interval=interval, **options)
    if params.get("max_sleep") is not None:
        options["max_sleep"] = float(params["max_sleep"])
    return EventDrivenWorker(callbacks, datastore, **options)


def make_scheduler(datastore: DataStore, params: dict[str, Any], worker: Any = None) -> Any:
    from taskshed.schedulers import AsyncScheduler

    notifier = make_notifier(params.get("notifier"))
    return AsyncScheduler(
        datastore, worker=worker, notifier=notifier, plugin_manager=no_observers()
    )


def has_notifier(store: str, params: dict[str, Any]) -> bool:
    """Whether the worker of this measurement hears other processes' changes at once."""
    choice = params.get("notifier")
    if choice == "none":
        return False
    if choice not in (None, "store"):
        return True
    return make_store(store).create_notifier() is not None


def check_notifier_cut(store: str, params: dict[str, Any]) -> None:
    """An outage case needs a notifier to cut: the store's own, or one by URL."""
    make_notifier(params.get("notifier"))  # NotApplicable when no plugin serves its URL


async def cut_notifier_connections(store: str, params: dict[str, Any], pid: int) -> int:
    """Close, server-side, the notifier connection(s) of process ``pid``; how many were closed.

    Found by the process's own local ports, so that nobody else's connection on
    the shared server is touched: a Redis client that is subscribed
    (``CLIENT LIST`` ``sub``/``psub`` > 0), a PostgreSQL backend whose last
    statement was ``LISTEN``.
    """
    via = params.get("notifier") or "store"
    redis = via == "redis" or (via == "store" and store == "redis")
    ports = tcp_ports_of(pid, REDIS_PORT if redis else PG_PORT)
    if not ports:
        return 0
    if redis:
        import redis.asyncio as aioredis

        client = aioredis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=REDIS_DB)
        try:
            killed = 0
            for entry in await client.client_list():
                port = int(str(entry.get("addr", ":0")).rsplit(":", 1)[1])
                subscribed = int(entry.get("sub", 0)) + int(entry.get("psub", 0))
                if port in ports and subscribed:
                    killed += int(await client.client_kill_filter(_id=entry["id"]) or 0)
            return killed
        finally:
            await client.aclose()
    if via == "store" and store == "postgresql":
        import asyncpg

        conn = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, database=PG_DB)
        try:
            rows = await conn.fetch(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE client_port = ANY($1::int[]) AND query ILIKE 'LISTEN%'",
                sorted(ports),
            )
            return sum(1 for row in rows if row[0])
        finally:
            await conn.close()
    return 0


async def burst_floor(store: str, n: int) -> dict[str, float]:
    """The floor of a burst of ``n``: MariaDB's raw driver (``floor_mariadb``); memory's loop."""
    if store == "memory":
        return await _loop_floor(n)
    if store != "mariadb":
        return {}
    metrics: dict[str, float] = {}
    datastore = make_store(store)
    await datastore.start()
    try:
        for name, run in (
            ("safe", floor_mariadb.safe_claims),
            ("unsafe", floor_mariadb.unsafe_read_and_delete),
        ):
            due = datetime.fromtimestamp(time.time() - 1, UTC)
            for start in range(0, n, 10_000):
                await datastore.add_tasks(
                    [
                        Task(callback="bench", run_at=due, task_id=f"f{i:06d}", kwargs={"i": i})
                        for i in range(start, min(n, start + 10_000))
                    ]
                )
            result = await run(MYSQL_DB, int(time.time() * 1_000_000))
            metrics.update({f"floor_{name}_{key}": value for key, value in result.items()})
            await datastore.remove_all_tasks()
    finally:
        await datastore.shutdown()
    return metrics


async def _loop_floor(n: int, batch: int = 100) -> dict[str, float]:
    """A bare asyncio loop's share of a burst: ``n`` no-op callbacks, each in a task of its own.

    ``batch`` tasks are created, then the loop is let run them, as a worker
    with its default concurrency of 100 does; no store, no claims, no
    bookkeeping. Any worker that runs each callback as an asyncio task of its
    own (ours does, and so does the reference) pays at least this.
    """
    seen: set[int] = set()
    done = asyncio.Event()

    async def bench(i: int) -> None:
        seen.add(i)
        if len(seen) >= n:
            done.set()

    loop = asyncio.get_running_loop()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for start in range(0, n, batch):
        # Referenced while they run (no-op callbacks: each batch is done when sleep(0) returns).
        batch_tasks = [loop.create_task(bench(i)) for i in range(start, min(n, start + batch))]
        await asyncio.sleep(0)
    await done.wait()
    del batch_tasks
    return {
        "floor_loop_wall_s": time.perf_counter() - wall0,
        "floor_loop_cpu_s": time.process_time() - cpu0,
    }


async def schedule_floor(store: str, n: int) -> dict[str, float]:
    """MariaDB: ``executemany`` of the rows ``add_tasks`` writes for ``n`` tasks; else nothing."""
    if store != "mariadb":
        return {}
    far = int((time.time() + 86_400) * 1_000_000)
    rows = [(f"s{i:05d}", far + i, {"i": i}) for i in range(n)]
    result = await floor_mariadb.insert_rows(MYSQL_DB, rows)
    datastore = make_store(store)
    await datastore.start()
    try:
        await datastore.remove_all_tasks()
    finally:
        await datastore.shutdown()
    return {f"floor_insert_{key}": value for key, value in result.items()}
