"""Deliberately broken datastores: each breaks one promise, and the suite must notice.

Every one is the reference in-memory store (or the example file store) with a
single realistic bug. ``test_broken_store.py`` runs the conformance suite
against each and checks that the tests guarding that promise fail.

This module is also a taskshed plugin (``broken-example://``) so that worker
processes can open the broken file store; it is only ever registered explicitly.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from taskshed import hookimpl
from taskshed.backends import DataStoreBackend
from taskshed.claims import Claim, Completion
from taskshed.datastores.base import DataStore
from taskshed.datastores.memory import InMemoryDataStore
from taskshed.errors import DataStoreError, InvalidTaskError
from taskshed.models import Task
from taskshed.serializers.base import Serializer
from taskshed.timeutils import utcnow
from taskshed.urls import URL


class LeaseIgnoringStore(InMemoryDataStore):
    """acquire hands out tasks that another worker still holds (no G1)."""

    async def acquire_tasks(
        self, *, worker_id: str, now: datetime, lease_until: datetime, limit: int, **options: Any
    ) -> list[Claim]:
        with self._state.lock:
            for entry in self._state.entries.values():
                self._drop_claim(entry)
                self._state.touch(entry)
        return await super().acquire_tasks(
            worker_id=worker_id, now=now, lease_until=lease_until, limit=limit, **options
        )


class TokenIgnoringStore(InMemoryDataStore):
    """complete applies any completion, even one whose lease was taken over (no fencing)."""

    async def complete_tasks(self, completions: Sequence[Completion]) -> set[str]:
        done: set[str] = set()
        with self._state.lock:
            for item in completions:
                entry = self._state.entries.get(item.task_id)
                if entry is None:
                    continue
                if item.next_run_at is None:
                    del self._state.entries[item.task_id]
                else:
                    entry.task = replace(entry.task, run_at=item.next_run_at)
                    self._drop_claim(entry)
                    self._state.touch(entry)
                done.add(item.task_id)
        return done


class GreedyRemoveStore(InMemoryDataStore):
    """remove_group_tasks matches group names by prefix, like a careless key pattern."""

    async def remove_group_tasks(self, group_id: str) -> int:
        doomed = [
            task_id
            for task_id, entry in list(self._state.entries.items())
            if (entry.task.group_id or "").startswith(group_id)
        ]
        return len(await self.remove_tasks(doomed))


class EagerDeleteStore(InMemoryDataStore):
    """acquire deletes one-off tasks as it claims them, as TaskShed 0.10 did (no G2)."""

    async def acquire_tasks(
        self, *, worker_id: str, now: datetime, lease_until: datetime, limit: int, **options: Any
    ) -> list[Claim]:
        claims = await super().acquire_tasks(
            worker_id=worker_id, now=now, lease_until=lease_until, limit=limit, **options
        )
        await self.remove_tasks([c.task_id for c in claims if c.task.run_type == "once"])
        return claims


class RestampingPauseStore(InMemoryDataStore):
    """Pausing an already paused task moves its paused_at (breaks the reference rule)."""

    async def update_tasks_paused_status(
        self, task_ids: Iterable[str], paused: bool, *, strict: bool = False
    ) -> set[str]:
        task_ids = list(task_ids)
        if paused:
            await super().update_tasks_paused_status(task_ids, False, strict=strict)
        return await super().update_tasks_paused_status(task_ids, paused, strict=strict)


class WallClockStore(InMemoryDataStore):
    """acquire uses the machine's clock instead of the ``now`` it is given."""

    async def acquire_tasks(
        self, *, worker_id: str, now: datetime, lease_until: datetime, limit: int, **options: Any
    ) -> list[Claim]:
        return await super().acquire_tasks(
            worker_id=worker_id, now=utcnow(), lease_until=lease_until, limit=limit, **options
        )


class MillisecondStore(InMemoryDataStore):
    """Keeps only milliseconds while the suite is told it keeps microseconds."""

    async def add_tasks(self, tasks: Iterable[Task], *, replace_existing: bool = True) -> None:
        trimmed = []
        for task in tasks:
            task.run_at = task.run_at - timedelta(microseconds=task.run_at.microsecond % 1000)
            trimmed.append(task)
        await super().add_tasks(trimmed, replace_existing=replace_existing)


class MillisecondIntervalStore(InMemoryDataStore):
    """Keeps intervals only to the millisecond (a float of milliseconds, say)."""

    async def add_tasks(self, tasks: Iterable[Task], *, replace_existing: bool = True) -> None:
        trimmed = []
        for task in tasks:
            if task.interval is not None:
                whole_ms = max(1, task.interval // timedelta(milliseconds=1))
                task.interval = timedelta(milliseconds=whole_ms)
            trimmed.append(task)
        await super().add_tasks(trimmed, replace_existing=replace_existing)


class IdOrderStore(InMemoryDataStore):
    """fetch_tasks returns tasks sorted by id, not in the order asked for."""

    async def fetch_tasks(self, task_ids: Iterable[str]) -> list[Task]:
        return sorted(await super().fetch_tasks(task_ids), key=lambda task: task.task_id)


class InsertionOrderGroupStore(InMemoryDataStore):
    """fetch_group_tasks returns the group in the order its tasks were stored."""

    async def fetch_group_tasks(self, group_id: str) -> list[Task]:
        await super().fetch_group_tasks(group_id)  # the id checks
        with self._state.lock:
            entries = list(self._state.entries.values())
        return [self._materialize(e) for e in entries if e.task.group_id == group_id]


class LenientReaderStore(InMemoryDataStore):
    """Readers answer [] for an invalid id instead of raising InvalidTaskError."""

    async def fetch_tasks(self, task_ids: Iterable[str]) -> list[Task]:
        try:
            return await super().fetch_tasks(task_ids)
        except InvalidTaskError:
            return []


class HalfWriteOnShutdownStore(InMemoryDataStore):
    """add_tasks writes task by task, and stops half-way when shutdown() comes."""

    _closing = False

    async def start(self) -> None:
        self._closing = False
        await super().start()

    async def shutdown(self) -> None:
        self._closing = True
        await super().shutdown()

    async def add_tasks(self, tasks: Iterable[Task], *, replace_existing: bool = True) -> None:
        for task in list(tasks):
            if self._closing:
                raise DataStoreError("shut down in the middle of add_tasks")
            await super().add_tasks([task], replace_existing=replace_existing)
            await asyncio.sleep(0)


BROKEN_STORES: dict[str, type[InMemoryDataStore]] = {
    cls.__name__: cls
    for cls in (
        LeaseIgnoringStore,
        TokenIgnoringStore,
        GreedyRemoveStore,
        EagerDeleteStore,
        RestampingPauseStore,
        WallClockStore,
        MillisecondStore,
        MillisecondIntervalStore,
        IdOrderStore,
        InsertionOrderGroupStore,
        LenientReaderStore,
        HalfWriteOnShutdownStore,
    )
}


# ---------------------------------------------------------------- shared by processes


def _open_lease_ignoring_file_store(url: URL, serializer: Serializer) -> DataStore:
    from taskshed_example_store.store import ExampleDataStore

    class LeaseIgnoringFileStore(ExampleDataStore):
        """The example file store whose acquire ignores leases held by other processes."""

        async def acquire_tasks(
            self,
            *,
            worker_id: str,
            now: datetime,
            lease_until: datetime,
            limit: int,
            **options: Any,
        ) -> list[Claim]:
            async with self._records_for(write=True) as records:
                for record in records.values():
                    record["token"] = record["lease_until"] = None
            return await super().acquire_tasks(
                worker_id=worker_id, now=now, lease_until=lease_until, limit=limit, **options
            )

    return LeaseIgnoringFileStore(path=url.path, serializer=serializer)


@hookimpl
def taskshed_datastore_backends() -> list[DataStoreBackend]:
    return [DataStoreBackend(("broken-example",), _open_lease_ignoring_file_store)]
