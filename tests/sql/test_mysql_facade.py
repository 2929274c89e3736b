"""``MySQLDataStore`` keeps TaskShed 0.10's promises: it looks after its own table, and takes a pool.

- ``start()`` brings the schema to head, on an empty database and on a 0.10
  table with rows, one process at a time (the others wait for the lock); a
  refused DDL statement is one clear error; ``auto_migrate=False`` opts out.
- ``pool=<aiomysql pool>`` runs the store on the application's pool without
  changing its connections' settings and without ever closing it; the
  worker's heartbeat store (``sibling()``) uses connections of its own.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiomysql
import pytest
import sqlalchemy as sa
from taskshed_sqlalchemy import migrate, schema
from taskshed_sqlalchemy.engines import create_engine
from taskshed_sqlalchemy.migrate import MigrationError
from taskshed_sqlalchemy.urls import engine_spec

from taskshed.datastores import MySQLConfig, MySQLDataStore
from taskshed.errors import SchemaVersionError
from taskshed.models import Task
from taskshed.timeutils import utcnow
from taskshed.urls import URL
from tests.sql.databases import drop_tables
from tests.sql.isolated import isolated_url
from tests.sql.test_reference_upgrade import REFERENCE_DDL, _reference_rows

pytestmark = pytest.mark.mariadb


@pytest.fixture
def url(tmp_path: Path) -> Iterator[str]:
    url = isolated_url("mariadb", tmp_path)
    yield url
    asyncio.run(drop_tables(url))


def _config(url: str, **changes: Any) -> MySQLConfig:
    parsed = URL.parse(url)
    fields: dict[str, Any] = {
        "host": parsed.host or "127.0.0.1",
        "port": parsed.port or 3306,
        "user": parsed.username or "root",
        "password": parsed.password,
        "db": parsed.database or "",
        "connect_timeout": 5,
    }
    fields.update(changes)
    return MySQLConfig(**fields)


async def _query(url: str, sql: str) -> list[Any]:
    engine = create_engine(engine_spec(url), poolclass=sa.NullPool)
    try:
        async with engine.begin() as conn:
            result = await conn.execute(sa.text(sql))
            return list(result.all()) if result.returns_rows else []
    finally:
        await engine.dispose()


async def _tables(url: str) -> set[str]:
    rows = await _query(url, "SHOW TABLES")
    return {row[0] for row in rows}


async def _revision(url: str) -> str | None:
    engine = create_engine(engine_spec(url), poolclass=sa.NullPool)
    try:
        return await migrate.current(engine)
    finally:
        await engine.dispose()


async def _create_0_10_table(url: str) -> list[dict[str, object]]:
    rows = _reference_rows(utcnow(), with_newer_columns=True)
    engine = create_engine(engine_spec(url), poolclass=sa.NullPool)
    try:
        async with engine.begin() as conn:
            await conn.execute(sa.text(REFERENCE_DDL))
            table = sa.table(schema.TABLE_NAME, *(sa.column(name) for name in rows[0]))
            await conn.execute(sa.insert(table), rows)
    finally:
        await engine.dispose()
    return rows


# ------------------------------------------------------------------ start() migrates


async def test_start_creates_the_schema_in_an_empty_database(url: str) -> None:
    assert await _tables(url) == set()
    store = MySQLDataStore(config=_config(url))
    await store.start()
    try:
        assert await _revision(url) == schema.SCHEMA_REVISION
        await store.add_tasks([Task(callback="cb", run_at=utcnow(), task_id="fresh")])
        assert [task.task_id for task in await store.fetch_tasks(["fresh"])] == ["fresh"]
    finally:
        await store.shutdown()


async def test_start_upgrades_a_0_10_table_in_place_and_keeps_its_rows(url: str) -> None:
    rows = await _create_0_10_table(url)
    store = MySQLDataStore(config=_config(url))
    await store.start()
    try:
        assert await _revision(url) == schema.SCHEMA_REVISION
        ids = [str(row["task_id"]) for row in rows]
        found = {task.task_id: task for task in await store.fetch_tasks(ids)}
        assert set(found) == set(ids)
        assert found["due-recurring"].interval == timedelta(hours=1)
        assert found["paused"].paused and found["paused"].coalesce is False
        assert found["due-once"].kwargs == {"task": "due-once"}
    finally:
        await store.shutdown()
    # A second start finds nothing to do.
    again = MySQLDataStore(config=_config(url))
    await again.start()
    await again.shutdown()


async def test_auto_migrate_false_only_checks_the_schema(url: str) -> None:
    with pytest.raises(SchemaVersionError, match="taskshed db upgrade"):
        await MySQLDataStore(config=_config(url), auto_migrate=False).start()
    assert await _tables(url) == set(), "auto_migrate=False created tables"
    await _create_0_10_table(url)
    with pytest.raises(SchemaVersionError, match=r"0\.10"):
        await MySQLDataStore(config=_config(url), auto_migrate=False).start()
    assert await _revision(url) is None


def test_the_url_api_leaves_migrations_to_the_command(url: str) -> None:
    from taskshed import open_datastore

    store = open_datastore(url)

    async def start() -> None:
        await store.start()

    with pytest.raises(SchemaVersionError):
        asyncio.run(start())
    assert asyncio.run(_tables(url)) == set()


@pytest.fixture
def limited_user(url: str) -> Iterator[tuple[str, str]]:
    """A database user who may read and write rows but not change tables."""
    name = f"taskshed_sqlx_{os.getpid()}"[:32]
    password = uuid.uuid4().hex
    database = URL.parse(url).database
    asyncio.run(_query(url, f"DROP USER IF EXISTS '{name}'@'%'"))
    asyncio.run(_query(url, f"CREATE USER '{name}'@'%' IDENTIFIED BY '{password}'"))
    asyncio.run(
        _query(url, f"GRANT SELECT, INSERT, UPDATE, DELETE ON `{database}`.* TO '{name}'@'%'")
    )
    try:
        yield name, password
    finally:
        asyncio.run(_query(url, f"DROP USER IF EXISTS '{name}'@'%'"))


async def test_a_refused_ddl_statement_is_one_clear_error(
    url: str, limited_user: tuple[str, str]
) -> None:
    user, password = limited_user
    store = MySQLDataStore(config=_config(url, user=user, password=password))
    with pytest.raises(MigrationError) as caught:
        await store.start()
    message = str(caught.value)
    assert "\n" not in message
    assert "denied" in message, message
    assert schema.SCHEMA_REVISION in message
    assert "auto_migrate=False" in message and "taskshed db upgrade" in message
    # ... a schema error, so `taskshed worker` stops on it instead of retrying forever.
    assert isinstance(caught.value, SchemaVersionError)
    assert password not in message


# ------------------------------------------------------------------ two processes at once

_STARTER = """
import asyncio, logging, os, sys
logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="%(name)s: %(message)s")
from taskshed.datastores import MySQLConfig, MySQLDataStore

async def main() -> None:
    config = MySQLConfig(
        host=os.environ["SQLX_HOST"], port=int(os.environ["SQLX_PORT"]),
        user=os.environ["SQLX_USER"], db=os.environ["SQLX_DB"],
    )
    store = MySQLDataStore(config=config)
    await store.start()
    print("STARTED", flush=True)
    await store.shutdown()

asyncio.run(main())
"""

_WAITING_FOR_LOCK = (
    "SELECT COUNT(*) FROM information_schema.PROCESSLIST "
    "WHERE DB = DATABASE() AND INFO LIKE 'SELECT GET_LOCK(%'"
)


@pytest.mark.slow
@pytest.mark.parametrize("existing", ["empty", "0.10-table"])
async def test_two_processes_starting_at_once_migrate_once(url: str, existing: str) -> None:
    rows = await _create_0_10_table(url) if existing == "0.10-table" else []
    parsed = URL.parse(url)
    env = dict(
        os.environ,
        SQLX_HOST=parsed.host or "127.0.0.1",
        SQLX_PORT=str(parsed.port or 3306),
        SQLX_USER=parsed.username or "root",
        SQLX_DB=parsed.database or "",
    )
    engine = create_engine(engine_spec(url))
    children: list[asyncio.subprocess.Process] = []
    try:
        # Hold the migration lock so that both starters are provably waiting at once.
        async with migrate.migration_lock(engine):
            for _ in range(2):
                children.append(
                    await asyncio.create_subprocess_exec(
                        sys.executable,
                        "-c",
                        _STARTER,
                        env=env,
                        stdout=subprocess.PIPE,
                        stderr=subprocess.STDOUT,
                    )
                )
            deadline = time.monotonic() + 60
            waiting = 0
            while time.monotonic() < deadline:
                waiting = (await _query(url, _WAITING_FOR_LOCK))[0][0]
                if waiting == 2 or any(child.returncode is not None for child in children):
                    break
                await asyncio.sleep(0.05)
            assert waiting == 2, "the two starters did not both wait for the migration lock"
        outputs = [
            (await asyncio.wait_for(child.communicate(), timeout=120))[0].decode()
            for child in children
        ]
    finally:
        for child in children:
            if child.returncode is None:
                child.kill()
                await child.wait()
        await engine.dispose()
    for child, output in zip(children, outputs, strict=True):
        assert child.returncode == 0 and "STARTED" in output, output
    steps = [
        line for output in outputs for line in output.splitlines() if "Running upgrade" in line
    ]
    revisions = len(list(migrate.script_directory().walk_revisions()))
    expected = revisions - 1 if existing == "0.10-table" else revisions  # 0.10's is stamped
    assert len(steps) == expected, "\n".join(outputs)
    assert len({line for line in steps}) == len(steps), "a revision ran twice"
    assert await _revision(url) == schema.SCHEMA_REVISION
    if rows:
        count = (await _query(url, f"SELECT COUNT(*) FROM {schema.TABLE_NAME}"))[0][0]
        assert count == len(rows)


# ------------------------------------------------------------------ an injected aiomysql pool


async def _pool(url: str, **options: Any) -> aiomysql.Pool:
    parsed = URL.parse(url)
    options.setdefault("charset", "utf8mb4")
    return await aiomysql.create_pool(
        host=parsed.host or "127.0.0.1",
        port=parsed.port or 3306,
        user=parsed.username or "root",
        password=parsed.password or "",
        db=parsed.database or "",
        minsize=1,
        maxsize=4,
        **options,
    )


@pytest.fixture
async def migrated(url: str) -> AsyncIterator[str]:
    engine = create_engine(engine_spec(url), poolclass=sa.NullPool)
    await migrate.upgrade(engine)
    await engine.dispose()
    yield url


async def _session_state(pool: aiomysql.Pool) -> list[tuple[bool, str]]:
    """Each free connection's autocommit flag and session isolation level, as the app sees them."""
    state = []
    held = [await pool.acquire() for _ in range(pool.freesize)]
    try:
        for conn in held:
            async with conn.cursor() as cursor:
                await cursor.execute("SELECT @@session.tx_isolation")
                (level,) = await cursor.fetchone()
            state.append((conn.get_autocommit(), level))
            await conn.rollback()
    finally:
        for conn in held:
            pool.release(conn)
    return state


@pytest.mark.parametrize("autocommit", [False, True])
async def test_an_injected_aiomysql_pool_is_shared_and_never_closed(
    migrated: str, autocommit: bool
) -> None:
    pool = await _pool(migrated, autocommit=autocommit)
    try:
        before = await _session_state(pool)
        store = MySQLDataStore(pool=pool)
        await store.start()
        await store.add_tasks(
            [Task(callback="cb", run_at=utcnow(), task_id=f"p{i}") for i in range(5)]
        )
        claims = await store.acquire_tasks(
            worker_id="w", now=utcnow(), lease_until=utcnow() + timedelta(seconds=30), limit=10
        )
        assert sorted(claim.task_id for claim in claims) == [f"p{i}" for i in range(5)]
        await store.shutdown()
        await store.shutdown()
        # The pool is the application's: open, every connection back, settings as they were.
        assert not pool.closed
        assert pool.size == pool.freesize
        assert await _session_state(pool) == before
        async with pool.acquire() as conn, conn.cursor() as cursor:
            await cursor.execute(f"SELECT COUNT(*) FROM {schema.TABLE_NAME}")
            assert (await cursor.fetchone())[0] == 5
        # ... and a store may start on it again.
        await store.start()
        await store.remove_all_tasks()
        await store.shutdown()
    finally:
        pool.close()
        await pool.wait_closed()


async def test_store_transactions_run_at_read_committed_on_the_pool(migrated: str) -> None:
    pool = await _pool(migrated, autocommit=False)
    store = MySQLDataStore(pool=pool)
    await store.start()
    try:
        level = sa.text(
            "SELECT trx_isolation_level FROM information_schema.innodb_trx "
            "WHERE trx_mysql_thread_id = CONNECTION_ID()"
        )
        async with store.engine.begin() as conn:
            await conn.execute(sa.text(f"SELECT * FROM {schema.TABLE_NAME} FOR UPDATE"))
            assert (await conn.execute(level)).scalar() == "READ COMMITTED"
    finally:
        await store.shutdown()
        pool.close()
        await pool.wait_closed()


async def test_claims_on_an_autocommit_pool_are_still_atomic(migrated: str) -> None:
    """0.10 made its pools with autocommit=True; the store's claims must still be transactions."""
    pool = await _pool(migrated, autocommit=True)
    store = MySQLDataStore(pool=pool)
    await store.start()
    try:
        now = utcnow()
        await store.add_tasks(
            Task(callback="cb", run_at=now, task_id=f"t{i:03d}") for i in range(200)
        )

        async def claim(worker: str) -> list[str]:
            taken: list[str] = []
            while batch := await store.acquire_tasks(
                worker_id=worker, now=now, lease_until=now + timedelta(minutes=5), limit=7
            ):
                taken.extend(claim.task_id for claim in batch)
            return taken

        results = await asyncio.gather(*(claim(f"w{n}") for n in range(4)))
        everything = [task_id for taken in results for task_id in taken]
        assert sorted(everything) == [f"t{i:03d}" for i in range(200)], "a task was claimed twice"
    finally:
        await store.remove_all_tasks()
        await store.shutdown()
        pool.close()
        await pool.wait_closed()


async def test_a_cancelled_statement_never_goes_back_to_the_pool(migrated: str) -> None:
    pool = await _pool(migrated, autocommit=False)
    store = MySQLDataStore(pool=pool)
    await store.start()
    blocker = create_engine(engine_spec(migrated), poolclass=sa.NullPool)
    try:
        await store.add_tasks([Task(callback="cb", run_at=utcnow(), task_id="locked")])
        async with blocker.begin() as conn:
            await conn.execute(
                sa.text(f"SELECT * FROM {schema.TABLE_NAME} WHERE task_id = 'locked' FOR UPDATE")
            )
            # The store's pause waits for the row lock; cancel it half-way.
            pausing = asyncio.create_task(store.update_tasks_paused_status(["locked"], True))
            await asyncio.sleep(0.5)
            assert not pausing.done()
            pausing.cancel()
            with pytest.raises(asyncio.CancelledError):
                await pausing
        # Whatever the pool hands out now answers cleanly (no half-read reply left behind).
        for _ in range(pool.maxsize):
            async with pool.acquire() as conn, conn.cursor() as cursor:
                await cursor.execute("SELECT 42")
                assert await cursor.fetchone() == (42,)
        assert [task.paused for task in await store.fetch_tasks(["locked"])] == [False]
    finally:
        await store.remove_all_tasks()
        await store.shutdown()
        await blocker.dispose()
        pool.close()
        await pool.wait_closed()


async def test_a_connection_sqlalchemy_invalidates_is_closed_not_handed_back(migrated: str) -> None:
    pool = await _pool(migrated, autocommit=False)
    store = MySQLDataStore(pool=pool)
    await store.start()
    try:
        async with store.engine.connect() as conn:
            raw = await conn.get_raw_connection()
            lent = raw.driver_connection._connection  # the aiomysql connection on loan
            assert not lent.closed
            await conn.invalidate()  # what SQLAlchemy does after a disconnect or a cancellation
        assert lent.closed, "an invalidated connection was left open"
        assert lent not in pool._free and lent not in pool._used
        async with pool.acquire() as conn, conn.cursor() as cursor:
            await cursor.execute("SELECT 1")
    finally:
        await store.shutdown()
        pool.close()
        await pool.wait_closed()


def test_the_sibling_of_a_pooled_store_uses_connections_of_its_own(migrated: str) -> None:
    async def scenario() -> None:
        pool = await _pool(migrated, autocommit=False)
        store = MySQLDataStore(pool=pool)
        await store.start()
        try:
            async with pool.acquire() as conn, conn.cursor() as cursor:
                await cursor.execute("SELECT CONNECTION_ID()")
                pooled = {(await cursor.fetchone())[0]}
            sibling = store.sibling()
            assert isinstance(sibling, MySQLDataStore) and sibling is not store
            seen: dict[str, Any] = {}

            async def on_its_own_loop() -> None:
                await sibling.start()
                try:
                    await sibling.add_tasks([Task(callback="cb", run_at=utcnow(), task_id="sib")])
                    async with sibling.engine.connect() as conn:
                        seen["id"] = (
                            await conn.execute(sa.text("SELECT CONNECTION_ID()"))
                        ).scalar()
                    seen["used"] = len(pool._used)
                    seen["size"] = pool.size
                finally:
                    await sibling.shutdown()

            # The heartbeat's thread has an event loop of its own.
            thread = threading.Thread(target=lambda: asyncio.run(on_its_own_loop()))
            thread.start()
            await asyncio.to_thread(thread.join, 30)
            assert seen["id"] not in pooled
            assert seen["used"] == 0 and seen["size"] == len(pooled)
            assert [task.task_id for task in await store.fetch_tasks(["sib"])] == ["sib"]
        finally:
            await store.remove_all_tasks()
            await store.shutdown()
            pool.close()
            await pool.wait_closed()

    asyncio.run(scenario())


def test_the_sibling_of_a_configured_store_runs_on_another_loop(migrated: str) -> None:
    store = MySQLDataStore(config=_config(migrated))
    sibling = store.sibling()
    assert isinstance(sibling, MySQLDataStore)

    async def use() -> list[str]:
        await sibling.start()
        try:
            await sibling.add_tasks([Task(callback="cb", run_at=utcnow(), task_id="s")])
            return [task.task_id for task in await sibling.fetch_tasks(["s"])]
        finally:
            await sibling.remove_all_tasks()
            await sibling.shutdown()

    result: list[list[str]] = []
    thread = threading.Thread(target=lambda: result.append(asyncio.run(use())))
    thread.start()
    thread.join(30)
    assert result == [["s"]]


def test_pool_takes_a_pool() -> None:
    with pytest.raises(TypeError, match="aiomysql pool"):
        MySQLDataStore(pool=object())
