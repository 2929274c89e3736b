"""The SQL store passes the whole taskshed.testing conformance suite on each database."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from taskshed_sqlalchemy import migrate, schema
from taskshed_sqlalchemy.engines import create_engine
from taskshed_sqlalchemy.store import SQLAlchemyDataStore
from taskshed_sqlalchemy.urls import engine_spec

from taskshed.datastores.base import DataStore
from taskshed.testing import DataStoreSuite
from taskshed.timeutils import to_epoch_micros
from tests.sql.databases import drop_tables


async def _upgrade(url: str) -> None:
    engine = create_engine(engine_spec(url))
    try:
        await migrate.upgrade(engine)
    finally:
        await engine.dispose()


class TestSQLDataStore(DataStoreSuite):
    async def write_malformed_record(
        self, store: DataStore, task_id: str, run_at: datetime
    ) -> None:
        # A row as another program might leave it: kwargs that aren't JSON.
        assert isinstance(store, SQLAlchemyDataStore)
        async with store.engine.begin() as conn:
            await conn.execute(
                sa.insert(schema.tasks_table).values(
                    task_id=task_id,
                    run_at=to_epoch_micros(run_at),
                    paused=False,
                    callback="conformance_callback",
                    kwargs="{not json",
                    run_type="once",
                    coalesce=True,
                )
            )

    @pytest.fixture
    def datastore_url(self, sql_url: str, tmp_path: Path) -> Iterator[str]:
        import asyncio

        asyncio.run(_upgrade(sql_url))
        yield sql_url
        asyncio.run(drop_tables(sql_url))
