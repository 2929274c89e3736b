"""A database written by TaskShed 0.10 is detected, stamped and upgraded in place; its tasks run."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from taskshed_sqlalchemy import migrate, schema
from taskshed_sqlalchemy.engines import create_engine
from taskshed_sqlalchemy.store import SQLAlchemyDataStore
from taskshed_sqlalchemy.urls import engine_spec

from taskshed.errors import SchemaVersionError
from taskshed.timeutils import to_epoch_micros, utcnow
from taskshed.workers import PollingWorker

# TaskShed 0.10's MySQL table, column for column, with a collation MariaDB knows
# (0.10 itself asked for utf8mb4_0900_ai_ci, which only MySQL 8 has).
REFERENCE_DDL = """
CREATE TABLE `_taskshed_data` (
    `task_id` varchar(63) NOT NULL,
    `run_at` bigint unsigned NOT NULL,
    `paused` tinyint NOT NULL DEFAULT '0',
    `callback` varchar(63) NOT NULL,
    `kwargs` MEDIUMTEXT NOT NULL,
    `run_type` enum('once','recurring') NOT NULL,
    `interval` float DEFAULT NULL,
    `group_id` varchar(63) DEFAULT NULL,
    `coalesce` tinyint NOT NULL DEFAULT '1',
    `paused_at` bigint unsigned DEFAULT NULL,
    PRIMARY KEY (`task_id`),
    UNIQUE KEY `task_id_UNIQUE` (`task_id`),
    KEY `idx_group_id` (`group_id`),
    KEY `idx_paused_run_at` (`paused`,`run_at`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci
"""

# An earlier 0.x layout: no coalesce, no paused_at, kwargs as TEXT.
OLDER_DDL = """
CREATE TABLE `_taskshed_data` (
    `task_id` varchar(63) NOT NULL,
    `run_at` bigint unsigned NOT NULL,
    `paused` tinyint NOT NULL DEFAULT '0',
    `callback` varchar(63) NOT NULL,
    `kwargs` TEXT NOT NULL,
    `run_type` enum('once','recurring') NOT NULL,
    `interval` float DEFAULT NULL,
    `group_id` varchar(63) DEFAULT NULL,
    PRIMARY KEY (`task_id`),
    UNIQUE KEY `task_id_UNIQUE` (`task_id`),
    KEY `idx_group_id` (`group_id`),
    KEY `idx_paused_run_at` (`paused`,`run_at`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci
"""

FUTURE = datetime(2035, 1, 2, 3, 4, 5, 678901, tzinfo=timezone.utc)
PAUSED_AT = datetime(2024, 6, 1, 12, 0, 0, 1, tzinfo=timezone.utc)


def _reference_rows(now: datetime, *, with_newer_columns: bool) -> list[dict[str, object]]:
    def row(task_id: str, **fields: object) -> dict[str, object]:
        base: dict[str, object] = {
            "task_id": task_id,
            "run_at": to_epoch_micros(now),
            "paused": 0,
            "callback": "record",
            "kwargs": json.dumps({"task": task_id}, separators=(",", ":")),
            "run_type": "once",
            "interval": None,
            "group_id": None,
        }
        if with_newer_columns:
            base.update({"coalesce": 1, "paused_at": None})
        base.update(fields)
        return base

    rows = [
        row("due-once"),
        row("due-recurring", run_type="recurring", interval=3600.0, group_id="reports"),
        row("due-in-group", group_id="reports"),
        row("later", run_at=to_epoch_micros(FUTURE)),
    ]
    paused = row("paused", paused=1)
    if with_newer_columns:
        paused.update({"paused_at": to_epoch_micros(PAUSED_AT), "coalesce": 0})
    rows.append(paused)
    return rows


async def _create_reference(url: str, *, older: bool, now: datetime) -> None:
    engine = create_engine(engine_spec(url))
    try:
        async with engine.begin() as conn:
            if conn.dialect.name in ("mysql", "mariadb"):
                await conn.execute(sa.text(OLDER_DDL if older else REFERENCE_DDL))
                columns = [c for c in _reference_rows(now, with_newer_columns=not older)[0]]
            else:
                # 0.10 had no PostgreSQL/SQLite store; this is its layout in their types.
                meta = sa.MetaData()
                table = sa.Table(
                    schema.TABLE_NAME,
                    meta,
                    *schema.reference_columns(),
                    sa.Index("idx_group_id", "group_id"),
                    sa.Index("idx_paused_run_at", "paused", "run_at"),
                )
                await conn.run_sync(meta.create_all)
                columns = [c.name for c in table.columns]
            table_ref = sa.table(schema.TABLE_NAME, *(sa.column(c) for c in columns))
            rows = _reference_rows(now, with_newer_columns=not older)
            if conn.dialect.name not in ("mysql", "mariadb"):
                for item in rows:
                    item["paused"] = bool(item["paused"])
                    item["coalesce"] = bool(item.get("coalesce", 1))
                    item.setdefault("paused_at", None)
            await conn.execute(sa.insert(table_ref), rows)
    finally:
        await engine.dispose()


async def _upgrade(url: str) -> str | None:
    engine = create_engine(engine_spec(url))
    try:
        await migrate.upgrade(engine)
        return await migrate.current(engine)
    finally:
        await engine.dispose()


async def _schema_differences(url: str) -> list[object]:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

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

    engine = create_engine(engine_spec(url))
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(diff)
    finally:
        await engine.dispose()


@pytest.mark.parametrize("older", [False, True], ids=["0.10-layout", "pre-coalesce-layout"])
async def test_a_reference_table_is_upgraded_in_place_and_its_tasks_run(
    sql_url: str, backend: str, older: bool
) -> None:
    if older and backend != "mariadb":
        pytest.skip("the pre-coalesce layout only ever existed on MySQL")
    now = utcnow()
    await _create_reference(sql_url, older=older, now=now)

    # Before the upgrade the store refuses to start, and says what to do.
    with pytest.raises(SchemaVersionError, match=r"0\.10"):
        await SQLAlchemyDataStore(sql_url, create_schema=False).start()

    assert await _upgrade(sql_url) == schema.SCHEMA_REVISION
    assert await _schema_differences(sql_url) == []

    store = SQLAlchemyDataStore(sql_url, create_schema=False)
    await store.start()
    try:
        tasks = {
            task.task_id: task
            for task in await store.fetch_tasks(
                ["due-once", "due-recurring", "due-in-group", "later", "paused"]
            )
        }
        assert set(tasks) == {"due-once", "due-recurring", "due-in-group", "later", "paused"}
        assert tasks["due-once"].run_at == now.replace(microsecond=now.microsecond)
        assert tasks["due-once"].kwargs == {"task": "due-once"}
        assert tasks["due-recurring"].interval == timedelta(hours=1)
        assert tasks["due-recurring"].run_type == "recurring"
        assert tasks["later"].run_at == FUTURE
        assert tasks["paused"].paused
        if not older:
            assert tasks["paused"].paused_at == PAUSED_AT
            assert tasks["paused"].coalesce is False
        assert tasks["due-once"].coalesce is True
        assert {t.task_id for t in await store.fetch_group_tasks("reports")} == {
            "due-recurring",
            "due-in-group",
        }

        ran: list[str] = []
        all_ran = asyncio.Event()

        async def record(task: str) -> None:
            ran.append(task)
            if {"due-once", "due-recurring", "due-in-group"} <= set(ran):
                all_ran.set()

        worker = PollingWorker(
            {"record": record}, store, polling_interval=timedelta(milliseconds=50)
        )
        await worker.start()
        try:
            await asyncio.wait_for(all_ran.wait(), timeout=20)
        finally:
            await worker.shutdown()
        assert sorted(ran) == ["due-in-group", "due-once", "due-recurring"]
        left = {
            task.task_id: task
            for task in await store.fetch_tasks(
                ["due-once", "due-recurring", "due-in-group", "later", "paused"]
            )
        }
        # One-offs are gone after running; the recurring one moved on by its interval.
        assert set(left) == {"due-recurring", "later", "paused"}
        assert left["due-recurring"].run_at == tasks["due-recurring"].run_at + timedelta(hours=1)
    finally:
        await store.shutdown()


async def test_the_upgraded_reference_table_takes_long_ids_and_keeps_case(
    sql_url: str, backend: str
) -> None:
    await _create_reference(sql_url, older=False, now=utcnow())
    await _upgrade(sql_url)
    from taskshed.models import Task

    store = SQLAlchemyDataStore(sql_url, create_schema=False)
    await store.start()
    try:
        long_id = "x" * 255
        await store.add_tasks(
            [
                Task(callback="record", run_at=FUTURE, task_id=long_id),
                Task(callback="record", run_at=FUTURE, task_id="CaseId"),
                Task(callback="record", run_at=FUTURE, task_id="caseid"),
            ]
        )
        found = await store.fetch_tasks([long_id, "CaseId", "caseid"])
        assert [task.task_id for task in found] == [long_id, "CaseId", "caseid"]
    finally:
        await store.shutdown()
