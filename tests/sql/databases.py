"""The SQL databases the tests in tests/sql use: one per server and test run, emptied per test.

MariaDB and PostgreSQL get a database named ``taskshed_sql_<pid>``, created on
first use and dropped when the run ends, so that other test runs on the same
servers (other suites, or this one started twice) never share tables with
this one. SQLite gets a file in the test's temporary folder.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import replace
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
from taskshed_sqlalchemy.engines import create_engine
from taskshed_sqlalchemy.schema import TABLE_NAME, VERSION_TABLE
from taskshed_sqlalchemy.urls import engine_spec

from taskshed.urls import URL
from tests.services import MYSQL_URL, POSTGRESQL_URL, require_service

DATABASE = f"taskshed_sql_{os.getpid()}"
BACKENDS = ("sqlite", "mariadb", "postgresql")
_created: set[tuple[str, str]] = set()


def database_url(backend: str, tmp_path: Path, name: str = DATABASE) -> str:
    """A URL of an existing, empty database on ``backend`` (skips/fails if the server is down)."""
    if backend == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'taskshed.db'}"
    require_service(backend)
    server = URL.parse(MYSQL_URL if backend == "mariadb" else POSTGRESQL_URL)
    if (backend, name) not in _created:
        asyncio.run(_create_database(backend, server, name))
        _created.add((backend, name))
    url = replace(server, path=f"/{name}").render(hide_password=False)
    asyncio.run(drop_tables(url))
    return url


async def _create_database(backend: str, server: URL, name: str) -> None:
    engine = create_async_engine(
        engine_spec(server).url, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool
    )
    try:
        async with engine.connect() as conn:
            if backend == "mariadb":
                await conn.execute(
                    sa.text(
                        f"CREATE DATABASE IF NOT EXISTS `{name}` "
                        "CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
                    )
                )
            else:
                exists = (
                    await conn.execute(
                        sa.text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
                    )
                ).scalar()
                if not exists:
                    await conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    finally:
        await engine.dispose()


def drop_created_databases() -> None:
    """Drop every database this run created (called once, when the run ends)."""
    for backend, name in sorted(_created):
        server = URL.parse(MYSQL_URL if backend == "mariadb" else POSTGRESQL_URL)
        asyncio.run(_drop_database(backend, server, name))
    _created.clear()


async def _drop_database(backend: str, server: URL, name: str) -> None:
    engine = create_async_engine(
        engine_spec(server).url, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool
    )
    try:
        async with engine.connect() as conn:
            if backend == "mariadb":
                await conn.execute(sa.text(f"DROP DATABASE IF EXISTS `{name}`"))
            else:
                await conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await engine.dispose()


async def drop_tables(url: str) -> None:
    """Remove everything our revisions create (and a leftover 0.10 table)."""
    engine = create_engine(engine_spec(url), poolclass=sa.NullPool)
    try:
        async with engine.begin() as conn:
            for table in (TABLE_NAME, VERSION_TABLE):
                await conn.execute(sa.text(f"DROP TABLE IF EXISTS {_quote(conn, table)}"))
    finally:
        await engine.dispose()


def _quote(conn: AsyncConnection, name: str) -> str:
    return conn.dialect.identifier_preparer.quote(name)
