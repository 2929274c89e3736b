"""Alembic owns the SQL schema: up, down and up again with data; schema equals the table
definitions; offline SQL; concurrent upgrades; the store refuses an old schema."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from taskshed_sqlalchemy import migrate, schema
from taskshed_sqlalchemy.engines import create_engine
from taskshed_sqlalchemy.schema_check import KNOWN_REVISIONS
from taskshed_sqlalchemy.store import SQLAlchemyDataStore
from taskshed_sqlalchemy.urls import engine_spec

from taskshed.errors import SchemaVersionError
from taskshed.models import Task

RUN_AT = datetime(2031, 5, 6, 7, 8, 9, 123456, tzinfo=timezone.utc)


def _tasks(count: int) -> list[Task]:
    return [
        Task(
            callback="cb",
            run_at=RUN_AT + timedelta(seconds=i),
            task_id=f"t{i:03d}",
            kwargs={"n": i, "text": "é"},
            run_type="recurring" if i % 2 else "once",
            interval=timedelta(seconds=1.5) if i % 2 else None,
            group_id="g" if i % 3 == 0 else None,
        )
        for i in range(count)
    ]


async def _with_engine(url: str, action):  # type: ignore[no-untyped-def]
    engine = create_engine(engine_spec(url))
    try:
        return await action(engine)
    finally:
        await engine.dispose()


async def _table_names(url: str) -> set[str]:
    async def names(engine):  # type: ignore[no-untyped-def]
        async with engine.connect() as conn:
            return set(await conn.run_sync(lambda c: sa.inspect(c).get_table_names()))

    return await _with_engine(url, names)


async def _row_count(url: str) -> int:
    async def count(engine):  # type: ignore[no-untyped-def]
        async with engine.connect() as conn:
            table = sa.table(schema.TABLE_NAME)
            return (await conn.execute(sa.select(sa.func.count()).select_from(table))).scalar()

    return await _with_engine(url, count)


def test_the_schema_revision_the_store_needs_is_the_newest_revision() -> None:
    assert migrate.head_revision() == schema.SCHEMA_REVISION == KNOWN_REVISIONS[-1]


async def test_upgrade_downgrade_and_upgrade_again_keep_the_tasks(sql_url: str) -> None:
    await _with_engine(sql_url, migrate.upgrade)
    assert await _with_engine(sql_url, migrate.current) == schema.SCHEMA_REVISION
    store = SQLAlchemyDataStore(sql_url, create_schema=False)
    await store.start()
    written = _tasks(20)
    await store.add_tasks(written)
    await store.shutdown()

    # Down to the 0.10 layout: every row stays.
    await _with_engine(sql_url, lambda e: migrate.downgrade(e, "ts_0001"))
    assert await _with_engine(sql_url, migrate.current) == "ts_0001"
    assert await _row_count(sql_url) == 20

    await _with_engine(sql_url, migrate.upgrade)
    store = SQLAlchemyDataStore(sql_url, create_schema=False)
    await store.start()
    try:
        read = await store.fetch_tasks([task.task_id for task in written])
    finally:
        await store.shutdown()
    assert read == written

    # Down to base drops our tables, and up again starts empty.
    await _with_engine(sql_url, lambda e: migrate.downgrade(e, "base"))
    assert schema.TABLE_NAME not in await _table_names(sql_url)
    await _with_engine(sql_url, migrate.upgrade)
    assert await _row_count(sql_url) == 0


async def test_the_migrated_schema_matches_the_table_definitions(sql_url: str) -> None:
    await _with_engine(sql_url, migrate.upgrade)

    async def compare(engine):  # type: ignore[no-untyped-def]
        async with engine.connect() as conn:

            def diff(sync_conn: sa.Connection) -> list[object]:
                context = MigrationContext.configure(
                    sync_conn,
                    opts={
                        "compare_type": True,
                        "include_name": schema.include_name,
                        "version_table": schema.VERSION_TABLE,
                    },
                )
                return list(compare_metadata(context, schema.metadata))

            return await conn.run_sync(diff)

    assert await _with_engine(sql_url, compare) == []


@pytest.mark.parametrize(
    "url",
    ["mysql+asyncmy://u:secret@db/x", "postgresql+asyncpg://u:secret@db/x", "sqlite:///x.db"],
)
def test_offline_sql_renders_without_a_server(url: str) -> None:
    up = migrate.render_sql(url, "upgrade", "head")
    assert "CREATE TABLE _taskshed_data" in up
    assert "CREATE TABLE taskshed_alembic_version" in up
    assert "claim_token" in up and "ix_taskshed_data_lease_until" in up
    assert "secret" not in up
    down = migrate.render_sql(url, "downgrade", "head:base")
    assert "DROP TABLE _taskshed_data" in down
    assert "base" not in migrate.render_sql(url, "stamp", "head").lower().split("--")[0]


def test_offline_sql_from_the_command_line() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "taskshed.cli.main", "db", "upgrade", "--sql",
         "--datastore", "postgresql://u:secret@nowhere/x"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "CREATE TABLE _taskshed_data" in result.stdout
    assert "secret" not in result.stdout + result.stderr


def test_two_processes_upgrading_at_once_both_succeed(sql_url: str) -> None:
    command = [sys.executable, "-m", "taskshed.cli.main", "db", "upgrade", "--datastore", sql_url]
    env = dict(os.environ)
    children = [
        subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    outputs = [child.communicate(timeout=120) for child in children]
    for child, (out, err) in zip(children, outputs, strict=True):
        assert child.returncode == 0, err
        assert schema.SCHEMA_REVISION in out
    import asyncio

    assert asyncio.run(_with_engine(sql_url, migrate.current)) == schema.SCHEMA_REVISION

    async def versions(engine):  # type: ignore[no-untyped-def]
        async with engine.connect() as conn:
            table = sa.table(schema.VERSION_TABLE, sa.column("version_num"))
            return (await conn.execute(sa.select(table.c.version_num))).scalars().all()

    assert asyncio.run(_with_engine(sql_url, versions)) == [schema.SCHEMA_REVISION]


async def test_the_store_refuses_a_schema_older_than_it_needs(sql_url: str) -> None:
    await _with_engine(sql_url, lambda e: migrate.upgrade(e, "ts_0001"))
    store = SQLAlchemyDataStore(sql_url, create_schema=False)
    with pytest.raises(SchemaVersionError, match="taskshed db upgrade"):
        await store.start()
    with pytest.raises(Exception, match="not started"):
        await store.fetch_tasks(["x"])


async def test_the_store_refuses_a_database_without_the_schema(sql_url: str) -> None:
    store = SQLAlchemyDataStore(sql_url, create_schema=False)
    with pytest.raises(SchemaVersionError, match="taskshed db upgrade"):
        await store.start()


async def test_the_store_refuses_a_schema_newer_than_it_knows(sql_url: str) -> None:
    await _with_engine(sql_url, migrate.upgrade)

    async def bump(engine):  # type: ignore[no-untyped-def]
        async with engine.begin() as conn:
            table = sa.table(schema.VERSION_TABLE, sa.column("version_num"))
            await conn.execute(sa.update(table).values(version_num="ts_9999"))

    await _with_engine(sql_url, bump)
    store = SQLAlchemyDataStore(sql_url)
    with pytest.raises(SchemaVersionError, match="does not know"):
        await store.start()


async def test_servers_are_not_migrated_by_the_store_but_sqlite_is(sql_url: str) -> None:
    store = SQLAlchemyDataStore(sql_url)
    if store.dialect_name == "sqlite":
        await store.start()
        await store.shutdown()
        assert await _with_engine(sql_url, migrate.current) == schema.SCHEMA_REVISION
    else:
        with pytest.raises(SchemaVersionError):
            await store.start()
        assert await _with_engine(sql_url, migrate.current) is None


def test_history_lists_every_revision() -> None:
    text = migrate.history()
    for revision in KNOWN_REVISIONS:
        assert revision in text


def test_the_migrations_ship_inside_the_package_or_the_checkout() -> None:
    folder = migrate.migrations_dir()
    assert (folder / "env.py").is_file()
    assert {p.name.split("_")[1] for p in (folder / "versions").glob("ts_*.py")} >= {"0001", "0002"}


def test_the_db_commands_of_the_taskshed_cli(
    sql_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from taskshed.cli.main import main

    def run(*args: str) -> str:
        assert main(["db", *args, "--datastore", sql_url]) == 0
        return capsys.readouterr().out

    assert "no taskshed schema" in run("current")
    assert "ts_0001" in run("upgrade", "ts_0001")
    assert "run `taskshed db upgrade`" in run("current")
    run("stamp", "ts_0002")  # recorded as applied, nothing run
    assert "ts_0002 (this release's head is ts_0003" in run("current")
    run("stamp", "ts_0001")
    assert "ts_0002" in run("upgrade", "ts_0002")
    assert "ts_0003" in run("upgrade")
    assert "(head)" in run("current")
    run("downgrade", "base", "--yes")
    assert "no taskshed schema" in run("current")
    assert schema.SCHEMA_REVISION in run("upgrade")
    history = run("history")
    assert "ts_0001 -> ts_0002" in history and "ts_0002 -> ts_0003" in history
    assert main(["db", "downgrade", "nonsense", "--datastore", sql_url]) == 1
    assert "nonsense" in capsys.readouterr().err


async def test_an_upgrade_waits_for_the_migration_lock_another_process_holds(
    sql_url: str, backend: str
) -> None:
    if backend == "sqlite":
        pytest.skip("SQLite's lock is the file's; the concurrent-upgrade test covers it")
    import asyncio
    import time

    if backend == "mariadb":
        waiting = sa.text(
            "SELECT COUNT(*) FROM information_schema.PROCESSLIST "
            "WHERE DB = DATABASE() AND INFO LIKE 'SELECT GET_LOCK(%'"
        )
    else:
        waiting = sa.text(
            "SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
            "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        )
    engine = create_engine(engine_spec(sql_url))
    observer = create_engine(engine_spec(sql_url), poolclass=sa.NullPool)
    child = None
    try:
        async with migrate.migration_lock(engine):
            child = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "taskshed.cli.main", "db", "upgrade",
                "--datastore", sql_url,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            )  # fmt: skip
            # Wait (bounded) until the server shows the child blocked on our lock.
            deadline = time.monotonic() + 30
            blocked = 0
            while time.monotonic() < deadline and child.returncode is None:
                async with observer.connect() as conn:
                    blocked = (await conn.execute(waiting)).scalar() or 0
                if blocked:
                    break
                await asyncio.sleep(0.05)
            assert blocked, "the second upgrade did not wait for the lock"
            assert child.returncode is None
        _, err = await asyncio.wait_for(child.communicate(), timeout=60)
        assert child.returncode == 0, err.decode()
        assert await migrate.current(engine) == schema.SCHEMA_REVISION
    finally:
        if child is not None and child.returncode is None:
            child.kill()
            await child.wait()
        await observer.dispose()
        await engine.dispose()


async def _index_names(url: str) -> set[str]:
    async def names(engine):  # type: ignore[no-untyped-def]
        async with engine.connect() as conn:
            return await conn.run_sync(
                lambda c: {i["name"] for i in sa.inspect(c).get_indexes(schema.TABLE_NAME)}
            )

    return await _with_engine(url, names)


async def test_ts_0003_adds_the_dialects_indexes_and_downgrades_keeping_failed_tasks(
    sql_url: str, backend: str
) -> None:
    from taskshed.claims import Completion

    await _with_engine(sql_url, migrate.upgrade)
    indexes = await _index_names(sql_url)
    partial = set(schema.PARTIAL_INDEXES)
    if backend == "mariadb":
        assert set(schema.MYSQL_HOT_INDEXES) | set(schema.SUPERSEDED_INDEXES) <= indexes
        assert not partial & indexes
    else:
        assert partial <= indexes
        assert not set(schema.SUPERSEDED_INDEXES) & indexes, "ts_0002's indexes were kept"
    store = SQLAlchemyDataStore(sql_url, create_schema=False)
    await store.start()
    try:
        await store.add_tasks(_tasks(3))
        [claim] = await store.acquire_tasks(
            worker_id="w", now=RUN_AT, lease_until=RUN_AT + timedelta(minutes=1), limit=1
        )
        await store.complete_tasks(
            [Completion(claim.task_id, claim.token, None, attempts=3, failed_at=RUN_AT)]
        )
        await store.add_tasks([Task(callback="cb", task_id="c", run_type="cron", cron="0 * * * *")])
    finally:
        await store.shutdown()
    # A cron task can't be kept by ts_0002: the downgrade refuses and changes nothing.
    with pytest.raises(Exception, match="cron task"):
        await _with_engine(sql_url, lambda e: migrate.downgrade(e, "ts_0002"))
    assert await _with_engine(sql_url, migrate.current) == "ts_0003"
    store = SQLAlchemyDataStore(sql_url, create_schema=False)
    await store.start()
    try:
        await store.remove_tasks(["c"])
    finally:
        await store.shutdown()
    await _with_engine(sql_url, lambda e: migrate.downgrade(e, "ts_0002"))
    assert await _with_engine(sql_url, migrate.current) == "ts_0002"
    assert not {n for n in await _index_names(sql_url) if n in partial}
    assert schema.WORKERS_TABLE not in await _table_names(sql_url)

    async def rows(engine):  # type: ignore[no-untyped-def]
        async with engine.connect() as conn:
            query = sa.text(f"SELECT task_id, paused FROM {schema.TABLE_NAME} ORDER BY task_id")
            return [(r[0], bool(r[1])) for r in await conn.execute(query)]

    # Every row kept; the failed one (t000, claimed first) as a paused task.
    assert await _with_engine(sql_url, rows) == [("t000", True), ("t001", False), ("t002", False)]
    await _with_engine(sql_url, migrate.upgrade)
    assert await _with_engine(sql_url, migrate.current) == schema.SCHEMA_REVISION
