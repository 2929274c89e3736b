"""The plain ``alembic`` command runs taskshed's revisions, and an application's Alembic ignores them.

An ini file with ``script_location = taskshed_sqlalchemy:migrations`` is all
the configuration: ``alembic -x datastore=URL upgrade head`` (or the ini's
``sqlalchemy.url``) migrates under the same lock as ``taskshed db``, adopts a
TaskShed 0.10 table, and refuses a bad URL in one line. MariaDB upgrades
without the driver's warning about the version table's primary key.
"""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from taskshed_sqlalchemy import migrate, schema
from taskshed_sqlalchemy.engines import create_engine
from taskshed_sqlalchemy.schema import is_taskshed_table
from taskshed_sqlalchemy.store import SQLAlchemyDataStore
from taskshed_sqlalchemy.urls import engine_spec

from taskshed.models import Task
from tests.sql.test_reference_upgrade import REFERENCE_DDL

ALEMBIC = [sys.executable, "-m", "alembic"]
PK_WARNING = "ignored for PRIMARY key"


def ini(folder: Path, url: str | None = None) -> Path:
    path = folder / "alembic.ini"
    text = "[alembic]\nscript_location = taskshed_sqlalchemy:migrations\n"
    if url is not None:
        text += f"sqlalchemy.url = {url.replace('%', '%%')}\n"
    path.write_text(text)
    return path


def alembic(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*ALEMBIC, "-c", str(config), *args],
        cwd=config.parent,
        capture_output=True,
        text=True,
        timeout=120,
    )


async def _revision(url: str) -> str | None:
    engine = create_engine(engine_spec(url))
    try:
        return await migrate.current(engine)
    finally:
        await engine.dispose()


async def _store_round_trip(url: str) -> list[str]:
    store = SQLAlchemyDataStore(url)
    await store.start()  # refuses any schema but the one this release needs
    try:
        from datetime import datetime, timezone

        await store.add_tasks(
            [Task(callback="cb", run_at=datetime(2040, 1, 1, tzinfo=timezone.utc), task_id="t")]
        )
        return [task.task_id for task in await store.fetch_tasks(["t"])]
    finally:
        await store.shutdown()


def test_alembic_upgrade_and_downgrade_with_x_datastore(sql_url: str, tmp_path: Path) -> None:
    config = ini(tmp_path)
    up = alembic(config, "-x", f"datastore={sql_url}", "upgrade", "head")
    assert up.returncode == 0, up.stderr
    assert PK_WARNING not in up.stderr
    assert asyncio.run(_revision(sql_url)) == schema.SCHEMA_REVISION
    assert asyncio.run(_store_round_trip(sql_url)) == ["t"]
    current = alembic(config, "-x", f"datastore={sql_url}", "current")
    assert current.returncode == 0 and f"{schema.SCHEMA_REVISION} (head)" in current.stdout
    down = alembic(config, "-x", f"datastore={sql_url}", "downgrade", "base")
    assert down.returncode == 0, down.stderr
    assert asyncio.run(_revision(sql_url)) is None


def test_alembic_takes_the_url_from_the_ini(sql_url: str, tmp_path: Path) -> None:
    result = alembic(ini(tmp_path, sql_url), "upgrade", "head")
    assert result.returncode == 0, result.stderr
    assert asyncio.run(_revision(sql_url)) == schema.SCHEMA_REVISION


def test_two_alembic_upgrades_at_once_take_turns(sql_url: str, tmp_path: Path) -> None:
    config = ini(tmp_path)
    command = [*ALEMBIC, "-c", str(config), "-x", f"datastore={sql_url}", "upgrade", "head"]
    runs = [
        subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    for run in runs:
        _, err = run.communicate(timeout=120)
        assert run.returncode == 0, err.decode()
    assert asyncio.run(_revision(sql_url)) == schema.SCHEMA_REVISION


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("nosuch://x/y", "'nosuch' is not a SQL datastore URL scheme"),
        ("mysql+asyncmy://root@127.0.0.1:1/nothing", "Can't connect"),
    ],
)
def test_a_bad_url_is_refused_in_one_line(tmp_path: Path, url: str, says: str) -> None:
    result = alembic(ini(tmp_path), "-x", f"datastore={url}", "upgrade", "head")
    assert result.returncode != 0
    output = result.stdout + result.stderr  # Alembic prints FAILED: on stdout
    assert "Traceback" not in output, output
    [line] = output.strip().splitlines()
    assert line.startswith("FAILED: taskshed migrations") and says in line, line


@pytest.mark.mariadb
def test_alembic_adopts_a_taskshed_0_10_table(mysql_url: str, tmp_path: Path) -> None:
    from tests.sql.databases import database_url, drop_tables

    url = database_url("mariadb", tmp_path)

    async def create_reference_table() -> None:
        engine = create_engine(engine_spec(url))
        try:
            async with engine.begin() as conn:
                await conn.execute(sa.text(REFERENCE_DDL))
                await conn.execute(
                    sa.text(
                        "INSERT INTO _taskshed_data (task_id, run_at, callback, kwargs, run_type) "
                        "VALUES ('kept', 2208988800000000, 'cb', '{}', 'once')"
                    )
                )
        finally:
            await engine.dispose()

    try:
        asyncio.run(create_reference_table())
        result = alembic(ini(tmp_path), "-x", f"datastore={url}", "upgrade", "head")
        assert result.returncode == 0, result.stderr
        assert asyncio.run(_revision(url)) == schema.SCHEMA_REVISION
        assert asyncio.run(_store_round_trip(url)) == ["t"]

        async def kept() -> list[str]:
            store = SQLAlchemyDataStore(url)
            await store.start()
            try:
                return [t.task_id for t in await store.fetch_tasks(["kept"])]
            finally:
                await store.shutdown()

        assert asyncio.run(kept()) == ["kept"], "the 0.10 row must survive the adoption"
    finally:
        asyncio.run(drop_tables(url))


@pytest.mark.mariadb
def test_a_fresh_mariadb_upgrade_logs_no_primary_key_warning(
    mysql_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from tests.sql.databases import database_url, drop_tables

    url = database_url("mariadb", tmp_path)

    async def upgrade() -> None:
        engine = create_engine(engine_spec(url))
        try:
            await migrate.upgrade(engine)
        finally:
            await engine.dispose()

    try:
        with caplog.at_level(logging.INFO, logger="alembic"):
            asyncio.run(upgrade())
        assert "ts_0002" in caplog.text  # the migration ran and was logged
        assert PK_WARNING not in caplog.text, caplog.text
    finally:
        asyncio.run(drop_tables(url))


def test_an_applications_autogenerate_ignores_our_tables_with_the_documented_filter(
    sql_url: str,
) -> None:
    """docs/migrations.md's include_name: an app's models next to ours, no drop proposed."""
    app = sa.MetaData()
    sa.Table("app_things", app, sa.Column("id", sa.Integer, primary_key=True))

    def include_name(name: str | None, type_: str, parent_names: object) -> bool:
        if type_ == "table":
            return not is_taskshed_table(name)
        return True

    async def diffs() -> tuple[list[object], list[object]]:
        engine = create_engine(engine_spec(sql_url))
        try:
            await migrate.upgrade(engine)
            async with engine.begin() as conn:
                await conn.run_sync(app.create_all)

                def compare(sync_conn: sa.Connection) -> tuple[list[object], list[object]]:
                    plain = compare_metadata(MigrationContext.configure(sync_conn), app)
                    filtered = compare_metadata(
                        MigrationContext.configure(sync_conn, opts={"include_name": include_name}),
                        app,
                    )
                    return plain, filtered

                result = await conn.run_sync(compare)
                await conn.run_sync(app.drop_all)
                return result
        finally:
            await engine.dispose()

    plain, filtered = asyncio.run(diffs())
    dropped = {
        diff[1].name for diff in plain if isinstance(diff, tuple) and diff[0] == "remove_table"
    }  # type: ignore[attr-defined]
    assert {schema.TABLE_NAME, schema.VERSION_TABLE} <= dropped, plain  # why the filter is needed
    assert filtered == [], filtered


def test_alembic_renders_offline_sql_from_the_url_dialect_alone(tmp_path: Path) -> None:
    result = alembic(
        ini(tmp_path),
        "-x",
        "datastore=mysql+asyncmy://app:secret@nowhere/app",
        "upgrade",
        "head",
        "--sql",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "CREATE TABLE _taskshed_data" in result.stdout
    assert "secret" not in result.stdout + result.stderr
