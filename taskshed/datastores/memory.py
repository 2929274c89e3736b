"""A datastore in this process's memory: fast, simple, gone when the process ends."""

from __future__ import annotations

import asyncio
import copy
import logging
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from taskshed.claims import Claim, Completion
from taskshed.datastores.base import DataStore
from taskshed.errors import TaskNotFoundError
from taskshed.models import Task, TaskExecutionTime
from taskshed.serializers.base import Serializer, decode_kwargs
from taskshed.serializers.json import JSONSerializer
from taskshed.timeutils import utcnow
from taskshed.validation import check_execution_times, check_identifier, check_ids

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Entry:
    task: Task
    payload: str
    token: str | None = None
    lease_until: datetime | None = None

    def wakeup(self) -> datetime:
        if self.token is not None and self.lease_until is not None:
            return max(self.task.run_at, self.lease_until)
        return self.task.run_at


class InMemoryDataStore(DataStore):
    """Tasks kept in a dict; for prototypes, tests and single-process apps.

    Kwargs pass through the serializer like in any other store, so a value
    that a persistent store would reject is rejected here too, and callers
    never share mutable kwargs with the store.
    """

    def __init__(self, *, serializer: Serializer | None = None) -> None:
        self.serializer = serializer or JSONSerializer()
        self._entries: dict[str, _Entry] = {}
        self._lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"InMemoryDataStore(tasks={len(self._entries)})"

    async def start(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    # ------------------------------------------------------------------ helpers

    def _materialize(self, entry: _Entry) -> Task:
        task = copy.copy(entry.task)
        task.kwargs = decode_kwargs(self.serializer, entry.payload, task_id=task.task_id)
        return task

    def _get(self, task_id: str) -> _Entry:
        try:
            return self._entries[task_id]
        except KeyError:
            raise TaskNotFoundError(f"task with ID {task_id} not found.") from None

    @staticmethod
    def _set_paused(entry: _Entry, paused: bool, now: datetime) -> None:
        task = entry.task
        if paused and not task.paused:
            entry.task = replace(task, paused=True, paused_at=task.paused_at or now)
        elif not paused:
            entry.task = replace(task, paused=False, paused_at=None)

    def _held(self, task_id: str, token: str) -> _Entry | None:
        entry = self._entries.get(task_id)
        if entry is None or entry.token != token:
            return None
        return entry

    # ------------------------------------------------------------------ writing

    async def add_tasks(self, tasks: Iterable[Task], *, replace_existing: bool = True) -> None:
        prepared = self.prepare_tasks(tasks)
        async with self._lock:
            for task, payload in prepared:
                if replace_existing or task.task_id not in self._entries:
                    stored = replace(task, kwargs={})
                    self._entries[task.task_id] = _Entry(stored, payload)

    async def update_execution_times(self, tasks: Iterable[TaskExecutionTime]) -> None:
        times = check_execution_times(tasks)
        async with self._lock:
            entries = [self._get(item.task_id) for item in times]
            for entry, item in zip(entries, times, strict=True):
                entry.task = replace(entry.task, run_at=item.run_at)
                entry.token = entry.lease_until = None

    async def update_tasks_paused_status(self, task_ids: Iterable[str], paused: bool) -> None:
        ids = check_ids(task_ids)
        now = utcnow()
        async with self._lock:
            entries = [self._get(task_id) for task_id in ids]
            for entry in entries:
                self._set_paused(entry, paused, now)

    async def update_group_paused_status(self, group_id: str, paused: bool) -> None:
        check_identifier(group_id, "group_id")
        now = utcnow()
        async with self._lock:
            for entry in self._entries.values():
                if entry.task.group_id == group_id:
                    self._set_paused(entry, paused, now)

    async def remove_tasks(self, task_ids: Iterable[str]) -> None:
        ids = check_ids(task_ids)
        async with self._lock:
            for task_id in ids:
                self._entries.pop(task_id, None)

    async def remove_all_tasks(self) -> None:
        async with self._lock:
            self._entries.clear()

    async def remove_group_tasks(self, group_id: str) -> None:
        check_identifier(group_id, "group_id")
        async with self._lock:
            doomed = [tid for tid, e in self._entries.items() if e.task.group_id == group_id]
            for task_id in doomed:
                del self._entries[task_id]

    # ------------------------------------------------------------------ reading

    async def fetch_due_tasks(self, dt: datetime) -> list[Task]:
        async with self._lock:
            due = [e for e in self._entries.values() if not e.task.paused and e.task.run_at <= dt]
            due.sort(key=lambda e: e.task.run_at)
            return [self._materialize(e) for e in due]

    async def fetch_next_wakeup(self) -> datetime | None:
        async with self._lock:
            times = [e.wakeup() for e in self._entries.values() if not e.task.paused]
            return min(times) if times else None

    async def fetch_tasks(self, task_ids: Iterable[str]) -> list[Task]:
        ids = check_ids(task_ids)
        async with self._lock:
            return [self._materialize(self._entries[t]) for t in ids if t in self._entries]

    async def fetch_group_tasks(self, group_id: str) -> list[Task]:
        check_identifier(group_id, "group_id")
        async with self._lock:
            return [
                self._materialize(e) for e in self._entries.values() if e.task.group_id == group_id
            ]

    # ------------------------------------------------------------------ claims

    async def acquire_tasks(
        self, *, worker_id: str, now: datetime, lease_until: datetime, limit: int
    ) -> list[Claim]:
        if limit <= 0:
            return []
        async with self._lock:
            free = [
                e
                for e in self._entries.values()
                if not e.task.paused
                and e.task.run_at <= now
                and (e.token is None or (e.lease_until is not None and e.lease_until <= now))
            ]
            free.sort(key=lambda e: e.task.run_at)
            claims = []
            for entry in free[:limit]:
                entry.token = f"{worker_id}/{uuid.uuid4().hex}"
                entry.lease_until = lease_until
                claims.append(Claim(self._materialize(entry), entry.token, lease_until))
            return claims

    async def complete_tasks(self, completions: Sequence[Completion]) -> set[str]:
        done: set[str] = set()
        async with self._lock:
            for item in completions:
                entry = self._held(item.task_id, item.token)
                if entry is None:
                    continue
                if item.next_run_at is None:
                    del self._entries[item.task_id]
                else:
                    entry.task = replace(entry.task, run_at=item.next_run_at)
                    entry.token = entry.lease_until = None
                done.add(item.task_id)
        return done

    async def extend_leases(self, claims: Sequence[Claim], lease_until: datetime) -> set[str]:
        held: set[str] = set()
        async with self._lock:
            for claim in claims:
                entry = self._held(claim.task_id, claim.token)
                if entry is not None:
                    entry.lease_until = lease_until
                    held.add(claim.task_id)
        return held

    async def release_tasks(self, claims: Sequence[Claim]) -> set[str]:
        released: set[str] = set()
        async with self._lock:
            for claim in claims:
                entry = self._held(claim.task_id, claim.token)
                if entry is not None:
                    entry.token = entry.lease_until = None
                    released.add(claim.task_id)
        return released
