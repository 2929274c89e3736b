"""Server time of the dashboard's pages with 10,000 tasks stored (issue 13: under 300 ms).

    .venv/bin/python benchmarks/dashboard_page_load.py                       # memory, SQLite
    .venv/bin/python benchmarks/dashboard_page_load.py --stores memory,sqlite,mariadb,postgresql,redis
    .venv/bin/python benchmarks/dashboard_page_load.py --tasks 100000 --repeat 10

The app runs in-process (httpx's ASGI transport, no sockets); the time measured is
the ASGI call itself, from request to the last byte of the response: what a server
spends on a page, without the network. Each page is loaded once to warm up, then
``--repeat`` times. MariaDB/PostgreSQL use a database named ``taskshed_dash_bench``,
Redis database 8 with the key prefix ``dash-bench``; all are emptied afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from taskshed_dashboard import create_app

from taskshed.config import open_datastore
from taskshed.datastores.base import DataStore
from taskshed.datastores.memory import InMemoryDataStore
from taskshed.listing import TaskQuery
from taskshed.models import Task
from taskshed.worker_info import WorkerInfo

BUDGET_MS = 300.0
MYSQL = os.environ.get("TASKSHED_TEST_MYSQL_URL", "mysql+asyncmy://root@127.0.0.1:3306/test")
POSTGRESQL = os.environ.get(
    "TASKSHED_TEST_POSTGRESQL_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
REDIS = "redis://127.0.0.1:6379/8?prefix=dash-bench"
DATABASE = "taskshed_dash_bench"


class Timed:
    """Wraps an ASGI app and keeps how long each HTTP request took inside it.

    ``last`` is wall time; ``last_cpu`` is this process's CPU time over the same
    span (the dashboard's own work: on a busy machine wall time also counts the
    waits for a core, and for a server store the server's work is not in it).
    """

    def __init__(self, app: Any) -> None:
        self.app = app
        self.last = 0.0
        self.last_cpu = 0.0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        start, cpu = time.perf_counter(), time.process_time()
        try:
            await self.app(scope, receive, send)
        finally:
            if scope["type"] == "http":
                self.last = time.perf_counter() - start
                self.last_cpu = time.process_time() - cpu


def tasks(count: int, now: datetime) -> list[Task]:
    """A mixed schedule: mostly one-offs over the next week, some due, recurring, cron, paused, failed."""
    result = []
    for i in range(count):
        kind = i % 20
        common: dict[str, Any] = {
            "task_id": f"task-{i:07}",
            "callback": f"jobs.kind_{i % 7}",
            "group_id": f"group-{i % 50}",
            "kwargs": {"n": i, "payload": "x" * 40},
        }
        if kind < 2:
            result.append(Task(run_at=now - timedelta(seconds=i), **common))
        elif kind < 4:
            result.append(
                Task(
                    run_type="recurring",
                    interval=timedelta(minutes=5 + i % 60),
                    run_at=now + timedelta(seconds=i),
                    **common,
                )
            )
        elif kind == 4:
            result.append(Task(run_type="cron", cron=f"{i % 60} * * * *", **common))
        elif kind == 5:
            result.append(Task(run_at=now + timedelta(minutes=i), paused=True, **common))
        elif kind == 6:
            result.append(
                Task(
                    run_at=now - timedelta(minutes=i % 500),
                    failed_at=now - timedelta(minutes=i % 400),
                    attempts=3,
                    last_error="RuntimeError: upstream answered 503",
                    **common,
                )
            )
        else:
            result.append(Task(run_at=now + timedelta(seconds=37 * i), **common))
    return result


async def fill(store: DataStore, count: int) -> None:
    now = await store.current_time()
    batch = tasks(count, now)
    for start in range(0, len(batch), 1000):
        await store.add_tasks(batch[start : start + 1000])
    for n in range(3):
        await store.acquire_tasks(
            worker_id=f"bench-worker-{n}",
            now=now,
            lease_until=now + timedelta(minutes=5),
            limit=20,
            callbacks=[f"jobs.kind_{n}"],
        )
        await store.register_worker(
            WorkerInfo(
                worker_id=f"bench-worker-{n}",
                host="bench",
                pid=1000 + n,
                started_at=now,
                heartbeat_at=now,
                expires_at=now + timedelta(minutes=5),
            )
        )


async def deep_cursor(store: DataStore, pages: int) -> str:
    """The cursor ``pages`` pages of 50 into the unfiltered list (a deep page)."""
    query = TaskQuery(limit=1000)
    page = await store.list_tasks(query)
    for _ in range(pages * 50 // 1000 - 1):
        if page.next_cursor is None:
            break
        page = await store.list_tasks(TaskQuery(limit=1000, after=page.next_cursor))
    return page.next_cursor.encode() if page.next_cursor else ""


async def measure(
    store: DataStore, count: int, repeat: int
) -> dict[str, tuple[list[float], list[float]]]:
    await fill(store, count)
    timed = Timed(create_app(store))
    cursor = await deep_cursor(store, 100)
    pages = {
        "overview": "/",
        "tasks": "/tasks",
        "tasks, state=failed": "/tasks?state=failed",
        "tasks, group": "/tasks?group=group-7",
        "tasks, page 100": f"/tasks?after={cursor}",
        "tasks, 200 a page": "/tasks?size=200",
        "task": "/task?id=task-0000004",
        "group": "/groups?group=group-7",
        "workers": "/workers",
    }
    results: dict[str, tuple[list[float], list[float]]] = {}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=timed), base_url="http://bench"
    ) as client:
        for name, path in pages.items():
            response = await client.get(path)  # warm-up (and the first start of the store)
            if response.status_code != 200 or "Not available" in response.text:
                raise RuntimeError(f"{path} answered {response.status_code}: not supported")
            wall, cpu = [], []
            for _ in range(repeat):
                await client.get(path)
                wall.append(timed.last * 1000)
                cpu.append(timed.last_cpu * 1000)
            results[name] = (wall, cpu)
    return results


async def with_store(name: str, run: Callable[[DataStore], Awaitable[Any]]) -> Any:
    """Open an empty store of kind ``name``, run, then empty it again."""
    folder = tempfile.TemporaryDirectory()
    store: DataStore
    if name == "memory":
        store = InMemoryDataStore()
    elif name == "sqlite":
        store = open_datastore(f"sqlite+aiosqlite:///{Path(folder.name) / 'bench.db'}")
    elif name in ("mariadb", "postgresql"):
        from taskshed_sqlalchemy.store import SQLAlchemyDataStore

        url = await _database(MYSQL if name == "mariadb" else POSTGRESQL, name)
        store = SQLAlchemyDataStore(url, create_schema=True)
    elif name == "redis":
        store = open_datastore(REDIS)
    else:
        raise SystemExit(f"unknown store {name!r}")
    await store.start()
    try:
        await store.remove_all_tasks()
        return await run(store)
    finally:
        try:
            await store.remove_all_tasks()
            for info in await store.fetch_workers(await store.current_time()):
                await store.remove_worker(info.worker_id)
        except Exception as exc:  # the numbers are kept; say what is left behind
            print(f"{name}: cleaning up failed ({type(exc).__name__}: {exc})", file=sys.stderr)
        await store.shutdown()
        folder.cleanup()


async def _database(server: str, backend: str) -> str:
    import sqlalchemy as sa
    from sqlalchemy.ext.asyncio import create_async_engine
    from taskshed_sqlalchemy.urls import engine_spec

    from taskshed.urls import URL

    url = URL.parse(server)
    engine = create_async_engine(
        engine_spec(url).url, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool
    )
    try:
        async with engine.connect() as conn:
            if backend == "mariadb":
                await conn.execute(sa.text(f"CREATE DATABASE IF NOT EXISTS `{DATABASE}`"))
            elif not (
                await conn.execute(
                    sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": DATABASE}
                )
            ).scalar():
                await conn.execute(sa.text(f'CREATE DATABASE "{DATABASE}"'))
    finally:
        await engine.dispose()
    from dataclasses import replace

    return replace(url, path=f"/{DATABASE}").render(hide_password=False)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--stores", default="memory,sqlite")
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    print(f"Dashboard server time per page, {args.tasks:,} tasks stored, {args.repeat} loads each")
    print(f"(wall-clock median / p95 / max and CPU median, ms; budget {BUDGET_MS:.0f} ms)")
    print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores\n")
    worst = 0.0
    for name in args.stores.split(","):
        try:
            results = asyncio.run(
                with_store(name, lambda store: measure(store, args.tasks, args.repeat))
            )
        except Exception as exc:
            print(f"{name}: n/a ({type(exc).__name__}: {exc})\n")
            continue
        print(f"| {name} | median | p95 | max | CPU median |\n|---|---:|---:|---:|---:|")
        for page, (samples, cpu) in results.items():
            ordered = sorted(samples)
            p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
            worst = max(worst, p95)
            print(
                f"| {page} | {statistics.median(samples):.1f} | {p95:.1f} | {max(samples):.1f} "
                f"| {statistics.median(cpu):.1f} |"
            )
        print()
    print(f"worst p95: {worst:.1f} ms -> {'within' if worst < BUDGET_MS else 'OVER'} budget")
    return 0 if worst < BUDGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
