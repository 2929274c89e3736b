"""The whole taskshed.testing conformance suite against the real Redis."""

from __future__ import annotations

from datetime import datetime

import pytest
from taskshed_redis import RedisDataStore

from taskshed.datastores.base import DataStore
from taskshed.testing import DataStoreSuite
from taskshed.testing.suite.clock import Inconsistency
from taskshed.timeutils import to_epoch_seconds
from tests.support.names import unique_prefix

pytestmark = pytest.mark.redis


class TestRedisConformance(DataStoreSuite):
    """Times are kept exactly to the microsecond (epoch-second floats, read back via integer microseconds)."""

    @pytest.fixture
    def datastore_url(self, redis_url: str) -> str:
        # A prefix of its own per test, so that remove_all_tasks() between
        # tests never touches another test's (or another helper's) keys.
        return f"{redis_url}?prefix={unique_prefix()}"

    async def write_malformed_record(
        self, store: DataStore, task_id: str, run_at: datetime
    ) -> None:
        # A hash as another program might leave it: reference fields, kwargs that aren't JSON.
        assert isinstance(store, RedisDataStore)
        score = to_epoch_seconds(run_at)
        fields = {
            "task_id": task_id,
            "run_at": repr(score),
            "paused": "0",
            "callback": "conformance_callback",
            "kwargs": "{not json",
            "run_type": "once",
            "interval": "",
            "group_id": "",
            "coalesce": "1",
            "paused_at": "",
        }
        await store.client.hset(store.keys.task(task_id), mapping=fields)
        await store.client.zadd(store.keys.queue, {task_id: score})

    async def plant_inconsistent_claim(
        self, store: DataStore, task_id: str, kind: Inconsistency, lease_until: datetime
    ) -> None:
        # What an older writer's crash could leave: one of the two claim fields.
        assert isinstance(store, RedisDataStore)
        if kind == "token_only":
            await store.client.hset(store.keys.task(task_id), "claim_token", "planted")
        else:
            await store.client.hset(
                store.keys.task(task_id), "lease_until", repr(to_epoch_seconds(lease_until))
            )
