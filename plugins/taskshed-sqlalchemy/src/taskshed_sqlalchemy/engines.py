"""Building AsyncEngines, and the per-dialect connection setup the store relies on."""

from __future__ import annotations

from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from taskshed_sqlalchemy.urls import EngineSpec

#: Execution option that picks how a SQLite transaction begins.
SQLITE_BEGIN = "taskshed_sqlite_begin"
SqliteBegin = Literal["DEFERRED", "IMMEDIATE", "EXCLUSIVE"]
#: Seconds a SQLite connection waits for another's write lock before failing.
SQLITE_BUSY_TIMEOUT = 30.0


def create_engine(spec: EngineSpec, **overrides: Any) -> AsyncEngine:
    """An engine for ``spec``, set up the way the store needs (see :func:`prepare_engine`)."""
    options: dict[str, Any] = dict(spec.options)
    backend = spec.backend
    if backend == "sqlite":
        connect_args = options.setdefault("connect_args", {})
        connect_args.setdefault("timeout", SQLITE_BUSY_TIMEOUT)
    elif backend in ("mysql", "mariadb"):
        # READ COMMITTED: the claim query's row locks are released for rows it
        # skips, and no gap locks hold up inserts of due tasks.
        options.setdefault("isolation_level", "READ COMMITTED")
        options.setdefault("pool_recycle", 1800)
    # Every use of a connection ends its own transaction (commit or rollback),
    # so the pool need not send another ROLLBACK when it takes the connection back.
    options.setdefault("pool_reset_on_return", None)
    options.update(overrides)
    engine = create_async_engine(spec.url, **options)
    if backend == "sqlite":
        database = spec.url.database or ""
        if database and database != ":memory:" and "mode=memory" not in str(spec.url.query):
            sa.event.listen(engine.sync_engine, "connect", _sqlite_wal)
    prepare_engine(engine)
    return engine


#: Planner settings of a PostgreSQL claim (see :func:`create_statement_engine`): plans
#: that walk an index in order and stop. Plans the switches rule out are not removed but
#: priced very high, which pushes the estimate of a statement that still needs one (the
#: sort of a claim's few candidates) past ``jit_above_cost``: JIT compiling then took
#: about 240 ms per claim, so it is off too.
PG_INDEX_ONLY_PLANS = {
    "enable_seqscan": "off",
    "enable_bitmapscan": "off",
    "enable_sort": "off",
    "jit": "off",
}


def create_statement_engine(spec: EngineSpec, **overrides: Any) -> AsyncEngine | None:
    """PostgreSQL: a second engine whose statements commit on their own; else ``None``.

    A store's single-statement work (a claim, the next wake-up, a check of
    held claims) runs there as one round trip: no ``BEGIN``, no ``COMMIT``,
    no transaction-local ``set_config``. Its sessions are opened with the
    planner settings a claim needs (``PG_INDEX_ONLY_PLANS``, as asyncpg
    ``server_settings``, so they cost nothing per statement); its own pool
    keeps them away from the store's other queries.
    """
    if spec.backend != "postgresql":
        return None
    options: dict[str, Any] = {**spec.options, **overrides}
    connect_args = dict(options.get("connect_args") or {})
    connect_args["server_settings"] = {
        **dict(connect_args.get("server_settings") or {}),
        **PG_INDEX_ONLY_PLANS,
    }
    options["connect_args"] = connect_args
    options["isolation_level"] = "AUTOCOMMIT"
    options.setdefault("pool_reset_on_return", None)
    return create_async_engine(spec.url, **options)


def prepare_engine(engine: AsyncEngine) -> None:
    """Make SQLite transactions begin the way the store asks (idempotent; other dialects untouched).

    Python's sqlite3 module starts transactions lazily and only before writes,
    so a read-then-write in one transaction isn't atomic across processes.
    We take transaction control from it and emit ``BEGIN`` ourselves:
    ``BEGIN IMMEDIATE`` for writes, which takes the database's write lock up
    front (other writers wait up to the busy timeout), plain ``BEGIN`` for reads.
    """
    if engine.dialect.name != "sqlite":
        return
    if not sa.event.contains(engine.sync_engine, "begin", _sqlite_begin):
        sa.event.listen(engine.sync_engine, "begin", _sqlite_begin)


def _sqlite_wal(dbapi_connection: Any, connection_record: Any) -> None:
    # WAL lets readers go on while one writer writes; it is a property of the file.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
    finally:
        cursor.close()


def _sqlite_begin(conn: sa.Connection) -> None:
    dbapi_connection = conn.connection.dbapi_connection
    if dbapi_connection is not None and dbapi_connection.isolation_level is not None:
        dbapi_connection.isolation_level = None
    mode = conn.get_execution_options().get(SQLITE_BEGIN, "DEFERRED")
    if mode not in ("DEFERRED", "IMMEDIATE", "EXCLUSIVE"):
        mode = "DEFERRED"
    conn.exec_driver_sql(f"BEGIN {mode}")


async def set_sqlite_begin(conn: AsyncConnection, mode: SqliteBegin) -> None:
    """Ask that the next transaction on ``conn`` begin with ``BEGIN <mode>`` (SQLite only)."""
    if conn.dialect.name == "sqlite":
        await conn.execution_options(**{SQLITE_BEGIN: mode})
