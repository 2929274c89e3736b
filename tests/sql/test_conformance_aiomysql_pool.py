"""``MySQLDataStore(pool=<aiomysql pool>)`` passes the whole conformance suite (pool with autocommit off)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import aiomysql
import pytest
import sqlalchemy as sa
from taskshed_sqlalchemy import migrate, schema
from taskshed_sqlalchemy.engines import create_engine
from taskshed_sqlalchemy.mysql import MySQLDataStore
from taskshed_sqlalchemy.urls import engine_spec

from taskshed.config import get_serializer
from taskshed.datastores.base import DataStore
from taskshed.testing import DataStoreSuite
from taskshed.testing.suite.base import DataStoreFactory
from taskshed.urls import URL
from tests.sql.databases import drop_tables
from tests.sql.isolated import isolated_url
from tests.sql.plants import SQLPlants

pytestmark = pytest.mark.mariadb


class _ApplicationPoolStore(MySQLDataStore):
    """The store as an application runs it: on its own aiomysql pool, which it closes itself.

    The pool is made by the test (on the test's event loop) and closed here,
    after the store is done with it: the store itself never closes it.
    """

    async def shutdown(self) -> None:
        await super().shutdown()
        pool = self._pool
        if not pool.closed:
            pool.close()
            await pool.wait_closed()


async def _upgrade(url: str) -> None:
    engine = create_engine(engine_spec(url), poolclass=sa.NullPool)
    try:
        await migrate.upgrade(engine)
    finally:
        await engine.dispose()


async def _forget_workers(url: str) -> None:
    engine = create_engine(engine_spec(url), poolclass=sa.NullPool)
    try:
        async with engine.begin() as conn:
            await conn.execute(sa.delete(schema.workers_table))
    finally:
        await engine.dispose()


@pytest.fixture(scope="module")
def pool_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = isolated_url("mariadb", tmp_path_factory.mktemp("pool"))
    asyncio.run(_upgrade(url))
    yield url
    asyncio.run(drop_tables(url))


@pytest.fixture
def pool_settings(pool_url: str) -> Iterator[dict[str, Any]]:
    # The database is the module's; the worker registry starts empty for each test
    # (the suite's own clean-up removes tasks only).
    asyncio.run(_forget_workers(pool_url))
    parsed = URL.parse(pool_url)
    yield {
        "host": parsed.host or "127.0.0.1",
        "port": parsed.port or 3306,
        "user": parsed.username or "root",
        "password": parsed.password or "",
        "db": parsed.database or "",
        "charset": "utf8mb4",
        "autocommit": False,
    }


class TestMySQLDataStoreOnAnAiomysqlPool(SQLPlants, DataStoreSuite):
    # Worker processes open stores by URL, which the suite on a URL already covers.
    supports_multiple_processes = False

    @pytest.fixture
    def make_datastore(self, pool_settings: dict[str, Any]) -> DataStoreFactory:
        def make(serializer: str | None = None) -> DataStore:
            # Called on the test's event loop; the pool opens connections as they are needed.
            pool = aiomysql.Pool(
                minsize=0,
                maxsize=10,
                echo=False,
                pool_recycle=-1,
                loop=asyncio.get_running_loop(),
                **pool_settings,
            )
            return _ApplicationPoolStore(pool=pool, serializer=get_serializer(serializer or "json"))

        return make
