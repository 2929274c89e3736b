"""Rows written straight into the tasks table, as another program or a crash could leave them.

A mixin for the conformance suite classes of the SQL store (its hooks
``write_malformed_record`` and ``plant_inconsistent_claim``).
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from taskshed_sqlalchemy import schema
from taskshed_sqlalchemy.store import SQLAlchemyDataStore

from taskshed.datastores.base import DataStore
from taskshed.testing.suite.clock import Inconsistency
from taskshed.timeutils import to_epoch_micros


class SQLPlants:
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

    async def plant_inconsistent_claim(
        self, store: DataStore, task_id: str, kind: Inconsistency, lease_until: datetime
    ) -> None:
        # As a hand edit or an older writer's crash might leave it.
        assert isinstance(store, SQLAlchemyDataStore)
        if kind == "token_only":
            values = {"claim_token": "planted/token", "lease_until": None}
        else:
            values = {"claim_token": None, "lease_until": to_epoch_micros(lease_until)}
        table = schema.tasks_table
        async with store.engine.begin() as conn:
            await conn.execute(
                sa.update(table).where(table.c.task_id == task_id).values(claimed_by="w", **values)
            )
