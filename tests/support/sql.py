"""Databases and logins of the run's own on the shared MariaDB and PostgreSQL servers.

Created on first use under names from :mod:`tests.support.names` and dropped
by whoever created them when the run ends, so test runs sharing the servers
never see each other's tables.
"""

from __future__ import annotations

from dataclasses import replace

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
from taskshed_sqlalchemy.engines import create_engine
from taskshed_sqlalchemy.schema import TABLE_NAME, VERSION_TABLE, WORKERS_TABLE
from taskshed_sqlalchemy.urls import engine_spec

from taskshed.urls import URL
from tests.support.services import MYSQL_URL, POSTGRESQL_URL

#: The hosts a MariaDB login must exist for to be usable over TCP and the socket.
_MARIADB_HOSTS = ("%", "localhost", "127.0.0.1")


def server_url(backend: str) -> str:
    """The ``TASKSHED_TEST_*_URL`` of ``backend`` ("mariadb" or "postgresql")."""
    return {"mariadb": MYSQL_URL, "postgresql": POSTGRESQL_URL}[backend]


def database_url(backend: str, name: str, *, user: str | None = None) -> str:
    """The server's URL with database ``name`` (and login ``user``, without a password)."""
    url = replace(URL.parse(server_url(backend)), path=f"/{name}")
    if user is not None:
        url = replace(url, username=user, password=None)
    return url.render(hide_password=False)


async def _admin(backend: str, statements: list[sa.TextClause | str]) -> None:
    engine = create_async_engine(
        engine_spec(server_url(backend)).url, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool
    )
    try:
        async with engine.connect() as conn:
            for statement in statements:
                await conn.execute(sa.text(statement) if isinstance(statement, str) else statement)
    finally:
        await engine.dispose()


async def create_database(backend: str, name: str) -> None:
    if backend == "mariadb":
        await _admin(
            backend,
            [
                f"CREATE DATABASE IF NOT EXISTS `{name}` "
                "CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
            ],
        )
        return
    engine = create_async_engine(
        engine_spec(server_url(backend)).url, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool
    )
    try:
        async with engine.connect() as conn:
            exists = (
                await conn.execute(
                    sa.text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
                )
            ).scalar()
            if not exists:
                await conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    finally:
        await engine.dispose()


async def drop_database(backend: str, name: str) -> None:
    if backend == "mariadb":
        await _admin(backend, [f"DROP DATABASE IF EXISTS `{name}`"])
    else:
        await _admin(backend, [f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'])


async def create_login(
    backend: str, user: str, database: str, *, password: str | None = None
) -> None:
    """A login ``user`` (with ``password``, if given) with every right on ``database``."""
    if backend == "mariadb":
        identified = f" IDENTIFIED BY '{password}'" if password else ""
        statements: list[sa.TextClause | str] = []
        for host in _MARIADB_HOSTS:
            statements += [
                f"CREATE USER IF NOT EXISTS '{user}'@'{host}'{identified}",
                f"GRANT ALL ON `{database}`.* TO '{user}'@'{host}'",
            ]
        await _admin(backend, statements)
        return
    password_clause = f" PASSWORD '{password}'" if password else ""
    await _admin(
        backend,
        [
            f'DROP ROLE IF EXISTS "{user}"',
            f'CREATE ROLE "{user}" LOGIN{password_clause}',
            f'GRANT ALL ON DATABASE "{database}" TO "{user}"',
        ],
    )


async def drop_login(backend: str, user: str) -> None:
    if backend == "mariadb":
        await _admin(backend, [f"DROP USER IF EXISTS '{user}'@'{host}'" for host in _MARIADB_HOSTS])
    else:
        await _admin(backend, [f'DROP ROLE IF EXISTS "{user}"'])


async def drop_tables(url: str) -> None:
    """Remove everything our revisions create (and a leftover 0.10 table)."""
    engine = create_engine(engine_spec(url), poolclass=sa.NullPool)
    try:
        async with engine.begin() as conn:
            for table in (TABLE_NAME, WORKERS_TABLE, VERSION_TABLE):
                await conn.execute(sa.text(f"DROP TABLE IF EXISTS {_quote(conn, table)}"))
    finally:
        await engine.dispose()


def _quote(conn: AsyncConnection, name: str) -> str:
    return conn.dialect.identifier_preparer.quote(name)
