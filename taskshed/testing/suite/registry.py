"""The worker registry: workers list themselves, refresh, and drop out when they stop heartbeating."""

from __future__ import annotations

from dataclasses import replace

from taskshed.datastores.base import DataStore
from taskshed.testing.suite.base import MINUTE, SECOND, T0, SuiteBase, store_test
from taskshed.worker_info import WorkerInfo


def worker(worker_id: str, **fields: object) -> WorkerInfo:
    values: dict[str, object] = {
        "worker_id": worker_id,
        "host": "host-1",
        "pid": 4242,
        "started_at": T0 - MINUTE,
        "heartbeat_at": T0,
        "expires_at": T0 + 30 * SECOND,
        "running": 3,
        "held": 5,
        "callbacks": ("mail", "report"),
        "kind": "event",
        "version": "1.0.0",
    }
    values.update(fields)
    return WorkerInfo(**values)  # type: ignore[arg-type]


class RegistryTests(SuiteBase):
    @store_test
    async def test_registered_workers_are_listed_until_they_expire(self, store: DataStore) -> None:
        a, b = worker("a"), worker("b:host:1", expires_at=T0 + 90 * SECOND, callbacks=())
        await store.register_worker(a)
        await store.register_worker(b)
        listed = await store.fetch_workers(T0)
        assert [w.worker_id for w in listed] == ["a", "b:host:1"], (
            "fetch_workers must list every unexpired registration, by worker id"
        )
        got = listed[0]
        for name in ("host", "pid", "running", "held", "callbacks", "kind", "version"):
            assert getattr(got, name) == getattr(a, name), (
                f"worker field {name} read back as {getattr(got, name)!r}"
            )
        for name in ("started_at", "heartbeat_at", "expires_at"):
            self.assert_same_instant(getattr(got, name), getattr(a, name), f"worker {name}")
        assert listed[1].callbacks == (), "a worker with no callbacks must read back as ()"
        assert [w.worker_id for w in await store.fetch_workers(T0 + 30 * SECOND)] == ["b:host:1"], (
            "a worker whose registration expired is still listed"
        )

    @store_test
    async def test_a_heartbeat_refreshes_and_remove_forgets(self, store: DataStore) -> None:
        await store.register_worker(worker("a"))
        await store.register_worker(
            replace(worker("a"), heartbeat_at=T0 + MINUTE, expires_at=T0 + 2 * MINUTE, running=0)
        )
        [got] = await store.fetch_workers(T0 + MINUTE)
        assert got.running == 0, "a heartbeat did not replace the worker's record"
        self.assert_same_instant(got.expires_at, T0 + 2 * MINUTE, "refreshed expires_at")
        await store.remove_worker("a")
        await store.remove_worker("never-registered")
        assert await store.fetch_workers(T0) == [], (
            "remove_worker must forget the worker (and ignore an unknown one)"
        )
