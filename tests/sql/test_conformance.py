"""The SQL store passes the whole taskshed.testing conformance suite on each database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from taskshed_sqlalchemy import migrate
from taskshed_sqlalchemy.engines import create_engine
from taskshed_sqlalchemy.urls import engine_spec

from taskshed.testing import DataStoreSuite
from tests.sql.databases import drop_tables
from tests.sql.plants import SQLPlants


async def _upgrade(url: str) -> None:
    engine = create_engine(engine_spec(url))
    try:
        await migrate.upgrade(engine)
    finally:
        await engine.dispose()


class TestSQLDataStore(SQLPlants, DataStoreSuite):
    @pytest.fixture
    def datastore_url(self, sql_url: str, tmp_path: Path) -> Iterator[str]:
        import asyncio

        asyncio.run(_upgrade(sql_url))
        yield sql_url
        asyncio.run(drop_tables(sql_url))
