"""Stored records the store can't decode: skipped by readers, set aside by acquire, never lost (G6).

Only a store knows how to write a broken record of its own, so these tests
run when the suite subclass overrides :meth:`MalformedRecordTests.write_malformed_record`.
"""

from __future__ import annotations

from datetime import datetime

import pytest

from taskshed.claims import SET_ASIDE_FOR
from taskshed.datastores.base import DataStore
from taskshed.testing.suite.base import HOUR, MINUTE, SECOND, T0, SuiteBase, store_test


class MalformedRecordTests(SuiteBase):
    async def write_malformed_record(
        self, store: DataStore, task_id: str, run_at: datetime
    ) -> None:
        """Store, under ``task_id`` and due at ``run_at``, a record ``store`` can't decode.

        Override this in the suite subclass (write around the store's API:
        kwargs that aren't valid for the serializer, say). Without an override
        the tests that need it are skipped.
        """
        pytest.skip("write_malformed_record is not overridden for this store")

    @store_test
    async def test_readers_skip_an_unreadable_record(self, store: DataStore) -> None:
        await store.add_tasks([self.task("ok", group_id="g")])
        await self.write_malformed_record(store, "bad", T0 - MINUTE)
        assert [t.task_id for t in await store.fetch_due_tasks(T0)] == ["ok"], (
            "fetch_due_tasks must skip (and log) a record it can't decode, not fail"
        )
        assert await self.stored_ids(store, "bad", "ok") == {"ok"}, (
            "fetch_tasks must skip (and log) a record it can't decode, not fail"
        )
        assert [t.task_id for t in await store.fetch_group_tasks("g")] == ["ok"], (
            "fetch_group_tasks must skip (and log) a record it can't decode, not fail"
        )
        self.assert_same_instant(
            await store.fetch_next_wakeup(),
            T0 - MINUTE,
            "next wakeup (an unreadable record still counts until acquire sets it aside)",
        )

    @store_test
    async def test_acquire_sets_an_unreadable_record_aside_and_keeps_it(
        self, store: DataStore
    ) -> None:
        await store.add_tasks([self.task("ok")])
        await self.write_malformed_record(store, "bad", T0 - MINUTE)
        claims = await store.acquire_tasks(worker_id="w", now=T0, lease_until=T0 + HOUR, limit=9)
        assert [c.task_id for c in claims] == ["ok"], (
            "acquire_tasks must return the readable tasks and skip one it can't decode"
        )
        # Still stored, held aside: the next wakeup is when it will be offered again.
        self.assert_same_instant(
            await store.fetch_next_wakeup(),
            T0 + SET_ASIDE_FOR,
            "next wakeup after acquire set an unreadable record aside (now + SET_ASIDE_FOR)",
        )
        soon = T0 + SET_ASIDE_FOR - SECOND
        assert (
            await store.acquire_tasks(worker_id="w", now=soon, lease_until=soon, limit=9) == []
        ), "a record set aside must not be offered again before now + SET_ASIDE_FOR"
        await store.remove_tasks(["bad"])  # removing it is how a user gets rid of it
        self.assert_same_instant(
            await store.fetch_next_wakeup(), T0 + HOUR, "next wakeup after removing the record"
        )
