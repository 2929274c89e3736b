"""How the taskshed driver opens the *reference*'s stores (TaskShed 0.10.0, in its own venv).

The reference is used as published, with the smallest adaptations that let it
run here; each is listed in ADAPTATIONS, which the runner prints and the
generated docs repeat:

* its MySQL store creates its table with ``COLLATE=utf8mb4_0900_ai_ci`` and
  upserts with MySQL 8's ``INSERT ... AS new ON DUPLICATE KEY UPDATE x = new.x``;
  MariaDB has neither, so the table is created with ``utf8mb4_unicode_ci`` and
  the upsert spelled ``x = VALUES(x)`` (same effect);
* it passes Python lists as query parameters (``IN %s``), which PyMySQL 1.2
  rejects ("list can not be used as parameter"), so its venv gets PyMySQL 1.1
  (the runner pins ``PyMySQL<1.2``; aiomysql 0.3 also needs helpers 1.2 removed);
* its ``RedisConfig`` has no database number and its key prefix is fixed, so the
  client is pointed at the benchmark database and the prefix changed, to keep
  clear of other users of the server.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from common import (
    MYSQL_HOST,
    MYSQL_PORT,
    MYSQL_USER,
    REDIS_DB,
    REDIS_HOST,
    REDIS_PORT,
    NotApplicable,
)

from taskshed.datastores import (  # type: ignore[attr-defined]
    InMemoryDataStore,
    MySQLConfig,
    MySQLDataStore,
    RedisConfig,
    RedisDataStore,
)
from taskshed.workers import EventDrivenWorker, PollingWorker

NAME = "TaskShed 0.10.0 (reference)"
#: How often the reference's worker polls when the tasks come from another process.
CROSS_POLLING_INTERVAL = 0.1
MYSQL_DB = "taskshed_bench_ref"

ADAPTATIONS = [
    "reference MySQL store on MariaDB: table created with COLLATE utf8mb4_unicode_ci instead of "
    "MySQL-8-only utf8mb4_0900_ai_ci",
    "reference MySQL store on MariaDB: upsert written `col = VALUES(col)` instead of MySQL-8-only "
    "`INSERT ... AS new ... col = new.col`",
    "reference MySQL store: PyMySQL pinned below 1.2 (1.2 rejects the lists 0.10.0 passes to `IN %s`)",
    f"reference Redis store: client on database {REDIS_DB} and key prefix `taskshed_bench_ref` "
    "(0.10.0 has no database setting and a fixed prefix)",
    f"reference across processes: a PollingWorker every {CROSS_POLLING_INTERVAL} s (0.10.0's "
    "event-driven worker never hears of tasks another process adds)",
]

_UPSERT_MARIADB = """
    INSERT INTO _taskshed_data (`task_id`, `run_at`, `paused`, `callback`, `kwargs`, `run_type`, `interval`, `group_id`, `coalesce`, `paused_at`)
    VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
        ON DUPLICATE KEY UPDATE
            `run_at` = VALUES(`run_at`),
            `callback` = VALUES(`callback`),
            `kwargs` = VALUES(`kwargs`),
            `paused` = VALUES(`paused`),
            `group_id` = VALUES(`group_id`),
            `coalesce` = VALUES(`coalesce`),
            `paused_at` = VALUES(`paused_at`);
    """


class _MariaDBReferenceStore(MySQLDataStore):  # type: ignore[misc]
    _CREATE_TABLE_QUERY = MySQLDataStore._CREATE_TABLE_QUERY.replace(
        "utf8mb4_0900_ai_ci", "utf8mb4_unicode_ci"
    )
    _INSERT_TASKS_WITH_REPLACEMENT_QUERY = _UPSERT_MARIADB


class _BenchRedisReferenceStore(RedisDataStore):  # type: ignore[misc]
    KEY_PREFIX = "taskshed_bench_ref"

    async def start(self) -> None:
        fresh = self._client is None
        await super().start()
        if fresh:
            # No connection is open yet: new ones are made from these settings.
            self._client.connection_pool.connection_kwargs["db"] = REDIS_DB


def make_store(store: str) -> Any:
    if store == "memory":
        return InMemoryDataStore()
    if store == "redis":
        return _BenchRedisReferenceStore(RedisConfig(host=REDIS_HOST, port=REDIS_PORT))
    if store == "mariadb":
        config = MySQLConfig(host=MYSQL_HOST, port=MYSQL_PORT, user=MYSQL_USER, db=MYSQL_DB)
        return _MariaDBReferenceStore(config=config)
    raise NotApplicable(f"TaskShed 0.10.0 has no {store} store")


async def prepare(store: str) -> None:
    if store != "mariadb":
        return
    import aiomysql  # type: ignore[import-untyped]

    conn = await aiomysql.connect(
        host=MYSQL_HOST, port=MYSQL_PORT, user=MYSQL_USER, autocommit=True
    )
    try:
        async with conn.cursor() as cursor:
            await cursor.execute(f"CREATE DATABASE IF NOT EXISTS `{MYSQL_DB}`")
    finally:
        conn.close()


async def server_version(store: str) -> str | None:
    return None  # our driver reports the servers' versions


def settings() -> dict[str, Any]:
    import importlib.util

    return {"redis_parser": "hiredis" if importlib.util.find_spec("hiredis") else "python"}


def make_worker(
    kind: str, callbacks: dict[str, Any], datastore: Any, params: dict[str, Any]
) -> Any:
    # 0.10.0's workers take no concurrency or batch settings: they run every due task at once.
    if kind == "polling":
        interval = timedelta(seconds=float(params["polling_interval"]))
        return PollingWorker(callbacks, datastore, polling_interval=interval)
    if kind == "cross":
        interval = timedelta(seconds=CROSS_POLLING_INTERVAL)
        return PollingWorker(callbacks, datastore, polling_interval=interval)
    return EventDrivenWorker(callbacks, datastore)


def make_scheduler(datastore: Any, params: dict[str, Any], worker: Any = None) -> Any:
    from taskshed.schedulers import AsyncScheduler

    if params.get("notifier") not in (None, "store", "none"):
        raise NotApplicable("TaskShed 0.10.0 has no notifiers")
    return AsyncScheduler(datastore, worker=worker)


def has_notifier(store: str, params: dict[str, Any]) -> bool:
    return False


async def cut_notifier_connections(store: str, params: dict[str, Any], pid: int) -> int:
    raise NotApplicable(_NO_NOTIFIER)


def check_notifier_cut(store: str, params: dict[str, Any]) -> None:
    raise NotApplicable(_NO_NOTIFIER)


_NO_NOTIFIER = "TaskShed 0.10.0 has no notifier connection to cut"


async def burst_floor(store: str, n: int) -> dict[str, float]:
    """The raw-driver floor is measured next to ours only."""
    return {}


async def schedule_floor(store: str, n: int) -> dict[str, float]:
    """The raw-driver floor is measured next to ours only."""
    return {}
