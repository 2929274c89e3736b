"""How the taskshed driver opens *our* stores and workers (the project's own venv)."""

from __future__ import annotations

import asyncio
import sys
from datetime import timedelta
from typing import Any

from common import MYSQL_HOST, MYSQL_PORT, MYSQL_USER, REDIS_DB, REDIS_HOST, REDIS_PORT

from taskshed import open_datastore
from taskshed.datastores.base import DataStore
from taskshed.workers import BaseWorker, EventDrivenWorker, PollingWorker

NAME = "taskshed (ours)"
MYSQL_DB = "taskshed_bench"
URLS = {
    "memory": "memory://",
    "redis": f"redis://{REDIS_HOST}:{REDIS_PORT}/{REDIS_DB}?prefix=taskshed_bench",
    "mariadb": f"mysql+asyncmy://{MYSQL_USER}@{MYSQL_HOST}:{MYSQL_PORT}/{MYSQL_DB}",
}
#: Nothing of ours is changed to be measured.
ADAPTATIONS: list[str] = []


def make_store(store: str) -> DataStore:
    return open_datastore(URLS[store])


async def prepare(store: str) -> None:
    """Create our MariaDB database and bring its schema to the latest revision."""
    if store != "mariadb":
        return
    import asyncmy

    conn = await asyncmy.connect(host=MYSQL_HOST, port=MYSQL_PORT, user=MYSQL_USER)
    try:
        async with conn.cursor() as cursor:
            await cursor.execute(f"CREATE DATABASE IF NOT EXISTS `{MYSQL_DB}`")
    finally:
        conn.close()
    # The documented way: the `taskshed db upgrade` command of the SQL plugin.
    code = (
        "import sys; from taskshed.cli.main import main; "
        "sys.exit(main(['db', 'upgrade', '--datastore', sys.argv[1]]))"
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, URLS["mariadb"],
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


def make_worker(
    kind: str, callbacks: dict[str, Any], datastore: DataStore, params: dict[str, Any]
) -> Any:
    options: dict[str, Any] = {}
    for key in ("max_concurrency", "batch_size"):
        if params.get(key) is not None:
            options[key] = int(params[key])
    if kind == "polling":
        interval = timedelta(seconds=float(params["polling_interval"]))
        return PollingWorker(callbacks, datastore, polling_interval=interval, **options)
    return EventDrivenWorker(callbacks, datastore, **options)
