"""The stores the ops tests run the commands against, one namespace of our own on each server.

MariaDB and PostgreSQL: a database ``taskshed_ops_<pid>`` (migrated, emptied per
test, dropped when the run ends); Redis: db 7 with a fresh ``ops-`` prefix per
test; SQLite: a file in the test's folder; memory: one store shared in-process.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from taskshed import open_datastore
from taskshed.datastores.base import DataStore
from taskshed.models import Task
from tests.support.services import REDIS_URL, require_service

STORE_KINDS = ("memory", "sqlite", "mariadb", "postgresql", "redis")
SERVER_KINDS = ("mariadb", "postgresql", "redis")
DATABASE = f"taskshed_ops_{os.getpid()}"
REDIS_DB = 7
TASKSHED = [sys.executable, "-m", "taskshed.cli.main"]


@dataclass
class OpsStore:
    kind: str
    url: str

    def open(self) -> DataStore:
        return open_datastore(self.url)


def store_url(kind: str, tmp_path: Path, *, migrated: bool = True) -> str:
    """A URL of an empty store of ``kind`` (skips/fails the test if its server is down)."""
    if kind == "memory":
        return "memory://"
    if kind == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'ops.db'}"
    if kind == "redis":
        require_service("redis")
        base = REDIS_URL.rsplit("/", 1)[0]
        return f"{base}/{REDIS_DB}?prefix=ops-{uuid.uuid4().hex[:10]}"
    from tests.sql.databases import database_url

    url = database_url(kind, tmp_path, name=DATABASE)  # creates it, drops our tables
    if migrated:
        asyncio.run(_migrate(url))
    return url


async def _migrate(url: str) -> None:
    from taskshed_sqlalchemy.store import SQLAlchemyDataStore

    store = SQLAlchemyDataStore(url, create_schema=True)
    await store.start()
    await store.shutdown()


async def clear(url: str) -> None:
    """Remove what a test left in its namespace (Redis keys, SQL rows, registered workers)."""
    if url.startswith("memory"):
        return
    store = open_datastore(url)
    await store.start()
    try:
        client = getattr(store, "client", None)
        if client is not None and "prefix=ops-" in url:
            prefix = url.split("prefix=", 1)[1]
            async for key in client.scan_iter(match=f"{prefix}*"):
                await client.delete(key)
            return
        await store.remove_all_tasks()
        # Registered workers live in a table of their own: forget them too.
        with contextlib.suppress(NotImplementedError):
            for info in await store.fetch_workers(await store.current_time()):
                await store.remove_worker(info.worker_id)
    finally:
        await store.shutdown()


def run_taskshed(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 60
) -> tuple[subprocess.CompletedProcess[str], float]:
    """Run the ``taskshed`` command; returns the result and how long it took."""
    began = time.monotonic()
    result = subprocess.run(
        [*TASKSHED, *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return result, time.monotonic() - began


JOBS = """
import asyncio
from pathlib import Path

HERE = Path(__file__).parent


async def job(n=0):
    await asyncio.sleep(0.01)


async def bad():
    raise RuntimeError("boom")


async def flaky(marker):
    path = HERE / marker
    if not path.exists():
        path.touch()
        raise RuntimeError("first attempt fails")


CALLBACKS = {"job": job, "bad": bad, "flaky": flaky}
"""


def write_jobs(folder: Path) -> None:
    (folder / "jobs.py").write_text(JOBS)


class RunningWorker:
    """``taskshed worker jobs:CALLBACKS ...`` in a subprocess, its output collected line by line."""

    def __init__(
        self,
        folder: Path,
        *args: str,
        before: tuple[str, ...] = (),
        env: dict[str, str] | None = None,
    ) -> None:
        write_jobs(folder)
        self.lines: list[str] = []
        self.health = folder / "worker.healthy"
        self.proc = subprocess.Popen(
            [
                *TASKSHED,
                *before,
                "worker",
                "jobs:CALLBACKS",
                "--health-file",
                str(self.health),
                *args,
            ],
            cwd=folder,
            env={**os.environ, **(env or {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert self.proc.stdout is not None
        stream = self.proc.stdout
        self._reader = threading.Thread(target=lambda: self.lines.extend(stream), daemon=True)
        self._reader.start()

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_for(self, predicate: Callable[[], bool], what: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            assert self.proc.poll() is None, f"the worker exited: {self.output[-3000:]}"
            assert time.monotonic() < deadline, (
                f"timed out waiting for {what}: {self.output[-3000:]}"
            )
            time.sleep(0.05)

    def wait_until_up(self, timeout: float = 30) -> None:
        """Connected and running: its health file is there."""
        self.wait_for(self.health.exists, "the health file", timeout)

    def wait_for_line(self, text: str, timeout: float = 30) -> str:
        self.wait_for(lambda: any(text in line for line in self.lines), repr(text), timeout)
        return next(line for line in self.lines if text in line)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=60)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
        self._reader.join(5)
        return self.proc.returncode

    def __enter__(self) -> RunningWorker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


async def add_tasks(url: str, *tasks: Task) -> None:
    store = open_datastore(url)
    await store.start()
    try:
        await store.add_tasks(tasks)
    finally:
        await store.shutdown()
