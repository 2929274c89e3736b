"""A datastore in this process's memory: fast, simple, gone when the process ends."""

from __future__ import annotations

import heapq
import itertools
import threading
import uuid
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from taskshed.claims import Claim, Completion
from taskshed.datastores.base import DataStore
from taskshed.errors import TaskNotFoundError
from taskshed.listing import TaskCursor, TaskPage, TaskQuery
from taskshed.models import Task, TaskExecutionTime
from taskshed.notifiers.local import LocalChannel, LocalNotifier
from taskshed.serializers.base import Serializer, decode_kwargs
from taskshed.serializers.json import JSONSerializer
from taskshed.timeutils import to_utc, utcnow
from taskshed.validation import check_execution_times, check_identifier, check_ids
from taskshed.worker_info import WorkerInfo

# A schedule entry: (when it can next be claimed, tie-breaker, task id, entry version).
_HeapItem = tuple[datetime, int, str, int]


@dataclass(slots=True)
class _Entry:
    task: Task  # kwargs left empty: the encoded payload is the stored form
    payload: str
    # What decoding ``payload`` gives, kept when a shallow copy of it is the same thing
    # (JSON with only scalar values): handing out a copy skips decoding every claim.
    flat: dict[str, Any] | None = None
    version: int = 0
    token: str | None = None
    lease_until: datetime | None = None
    claimed_by: str | None = None

    @property
    def claimed(self) -> bool:
        return self.token is not None and self.lease_until is not None

    def claimable_from(self) -> datetime | None:
        """When this task can next be claimed, or ``None`` (paused or failed)."""
        if self.task.paused or self.task.failed_at is not None:
            return None
        if self.claimed and self.lease_until is not None and self.lease_until > self.task.run_at:
            return self.lease_until
        return self.task.run_at


def _place(target: list[_HeapItem], item: _HeapItem, taken_from: list[_HeapItem] | None) -> None:
    """Push ``item`` into ``target``; the head of ``taken_from`` (if given) goes.

    Into the heap it leaves, with one sift for both (``heapreplace``).
    """
    if taken_from is target:
        heapq.heapreplace(target, item)
        return
    if taken_from is not None:
        heapq.heappop(taken_from)
    heapq.heappush(target, item)


@dataclass
class _State:
    """Everything one store holds; shared by the store and its siblings (any thread)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    entries: dict[str, _Entry] = field(default_factory=dict)
    # Two heaps per callback name, with stale items skipped lazily (their version is old):
    # tasks not claimed, by run_at, and claims, by the end of their lease. A claim's
    # item goes stale when its run is recorded; kept apart, those stale items sit in a
    # heap as small as the claims in flight, not among every task stored (where each
    # wake-up would pop them from a heap of a million).
    heaps: dict[str, list[_HeapItem]] = field(default_factory=dict)
    leases: dict[str, list[_HeapItem]] = field(default_factory=dict)
    workers: dict[str, WorkerInfo] = field(default_factory=dict)
    channel: LocalChannel = field(default_factory=LocalChannel)
    counter: Iterator[int] = field(default_factory=itertools.count)

    def touch(self, entry: _Entry, *, taken_from: list[_HeapItem] | None = None) -> None:
        """Record that ``entry`` changed: a new version, and a schedule item if it is claimable.

        ``taken_from``: the heap whose head is the entry's item, which goes (a pop,
        or with the push into that same heap one sift for both).
        """
        # Versions come from one counter, so a task removed and added again never
        # matches an item its earlier self left in a heap.
        entry.version = version = next(self.counter)
        when = entry.claimable_from()
        if when is None:
            if taken_from is not None:
                heapq.heappop(taken_from)
            return
        task = entry.task
        name = task.callback
        heaps = self.leases if entry.claimed else self.heaps
        target = heaps.get(name)
        if target is None:
            target = heaps[name] = []
            self.heaps.setdefault(name, [])  # every callback with tasks has both heaps
            self.leases.setdefault(name, [])
        _place(target, (when, version, task.task_id, version), taken_from)

    def lease(self, entry: _Entry, *, taken_from: list[_HeapItem]) -> None:
        """:meth:`touch` for an entry just claimed from the head of ``taken_from``.

        A claimable entry that is claimed is neither paused nor failed, so its
        item goes into its callback's lease heap (which :meth:`touch` made
        with its schedule heap), keyed by the later of lease end and run_at.
        """
        entry.version = version = next(self.counter)
        task = entry.task
        lease_until = entry.lease_until
        assert lease_until is not None
        run_at = task.run_at
        item = (lease_until if lease_until > run_at else run_at, version, task.task_id, version)
        _place(self.leases[task.callback], item, taken_from)

    def live_head(self, heap: list[_HeapItem]) -> _HeapItem | None:
        """The earliest item of ``heap`` that is not stale (the stale ones before it dropped)."""
        entries = self.entries
        while heap:
            item = heap[0]
            entry = entries.get(item[2])
            if entry is not None and entry.version == item[3]:
                return item
            heapq.heappop(heap)
        return None

    def head(self, callback: str) -> tuple[_HeapItem, list[_HeapItem]] | None:
        """The earliest live item of ``callback`` and the heap it heads (stale items dropped)."""
        best: tuple[_HeapItem, list[_HeapItem]] | None = None
        for heap in (self.heaps.get(callback), self.leases.get(callback)):
            item = self.live_head(heap) if heap is not None else None
            # Whole items compare as their first two fields do: versions are unique.
            if item is not None and (best is None or item < best[0]):
                best = (item, heap)  # type: ignore[assignment]
        return best


def _task_of(fields: dict[str, Any]) -> Task:
    """A task with exactly these fields, without running its checks again (they passed when
    the task they come from was made)."""
    task = object.__new__(Task)
    task.__dict__ = fields
    return task


def _copy(task: Task) -> Task:
    """A shallow copy of a task (see :func:`_task_of`)."""
    return _task_of(task.__dict__.copy())


_SCALARS = (str, int, float, bool, type(None))


def _flat_kwargs(serializer: Serializer, kwargs: dict[str, Any]) -> dict[str, Any] | None:
    """A copy of ``kwargs`` equal to what the JSON serializer decodes them to, or ``None``.

    Only for :class:`JSONSerializer` itself and string keys with scalar values,
    which JSON gives back as they went in; anything else (lists, nested
    objects, other serializers, subclasses of str or int) is decoded as stored.
    """
    if type(serializer) is not JSONSerializer:
        return None
    for key, value in kwargs.items():
        if type(key) is not str or type(value) not in _SCALARS:
            return None
    return dict(kwargs)


class InMemoryDataStore(DataStore):
    """Tasks kept in a dict; for prototypes, tests and single-process apps.

    Kwargs pass through the serializer like in any other store, so a value
    that a persistent store would reject is rejected here too, and callers
    never share mutable kwargs with the store. A sibling (for a worker's
    heartbeat thread) shares the same tasks; every method is thread-safe.
    """

    def __init__(
        self, *, serializer: Serializer | None = None, _state: _State | None = None
    ) -> None:
        self.serializer = serializer or JSONSerializer()
        self._state = _state or _State()

    def __repr__(self) -> str:
        return f"InMemoryDataStore(tasks={len(self._state.entries)})"

    async def start(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    def sibling(self) -> InMemoryDataStore:
        return InMemoryDataStore(serializer=self.serializer, _state=self._state)

    def create_notifier(self) -> LocalNotifier:
        return LocalNotifier(self._state.channel)

    # ------------------------------------------------------------------ helpers

    def _materialize(self, entry: _Entry) -> Task:
        stored = entry.task
        fields = stored.__dict__.copy()  # one copy, with the claim's fields set in it
        flat = entry.flat
        fields["kwargs"] = (
            flat.copy()
            if flat is not None
            else decode_kwargs(self.serializer, entry.payload, task_id=stored.task_id)
        )
        if entry.claimed:
            fields["claimed_by"] = entry.claimed_by
            fields["lease_until"] = entry.lease_until
        return _task_of(fields)

    def _held(self, task_id: str, token: str) -> _Entry | None:
        entry = self._state.entries.get(task_id)
        if entry is None or not entry.claimed or entry.token != token:
            return None
        return entry

    @staticmethod
    def _drop_claim(entry: _Entry) -> None:
        entry.token = entry.lease_until = entry.claimed_by = None

    def _set_paused(self, entry: _Entry, paused: bool, now: datetime) -> None:
        task = entry.task
        if task.failed_at is not None:
            return
        if paused and not task.paused:
            entry.task = replace(task, paused=True, paused_at=task.paused_at or now)
        elif not paused and task.paused:
            entry.task = replace(task, paused=False, paused_at=None)
        else:
            return
        self._state.touch(entry)

    def _callbacks(self, callbacks: Collection[str] | None) -> Iterable[str]:
        return list(self._state.heaps) if callbacks is None else set(callbacks)

    # ------------------------------------------------------------------ writing

    async def add_tasks(self, tasks: Iterable[Task], *, replace_existing: bool = True) -> None:
        prepared = self.prepare_tasks(tasks)
        state = self._state
        with state.lock:
            for task, payload in prepared:
                old = state.entries.get(task.task_id)
                if old is not None and not replace_existing:
                    continue
                stored = _copy(task)  # validated already; kwargs live encoded in the payload
                stored.kwargs, stored.claimed_by, stored.lease_until = {}, None, None
                entry = _Entry(stored, payload, _flat_kwargs(self.serializer, task.kwargs))
                state.entries[task.task_id] = entry
                state.touch(entry)

    async def update_execution_times(self, tasks: Iterable[TaskExecutionTime]) -> None:
        times = check_execution_times(tasks)
        state = self._state
        with state.lock:
            entries = [state.entries.get(item.task_id) for item in times]
            for entry, item in zip(entries, times, strict=True):
                if entry is None:
                    raise TaskNotFoundError(f"task with ID {item.task_id} not found.")
            for entry, item in zip(entries, times, strict=True):
                assert entry is not None
                entry.task = replace(entry.task, run_at=item.run_at, occurrence_at=None)
                self._drop_claim(entry)
                state.touch(entry)

    async def update_tasks_paused_status(
        self, task_ids: Iterable[str], paused: bool, *, strict: bool = False
    ) -> set[str]:
        ids = check_ids(task_ids)
        now = utcnow()
        state = self._state
        with state.lock:
            found = [state.entries[t] for t in ids if t in state.entries]
            if strict and len(found) < len(ids):
                missing = next(t for t in ids if t not in state.entries)
                raise TaskNotFoundError(f"task with ID {missing} not found.")
            for entry in found:
                self._set_paused(entry, paused, now)
            return {entry.task.task_id for entry in found}

    async def update_group_paused_status(self, group_id: str, paused: bool) -> int:
        check_identifier(group_id, "group_id")
        now = utcnow()
        state = self._state
        with state.lock:
            members = [e for e in state.entries.values() if e.task.group_id == group_id]
            for entry in members:
                self._set_paused(entry, paused, now)
            return len(members)

    async def remove_tasks(self, task_ids: Iterable[str]) -> set[str]:
        ids = check_ids(task_ids)
        with self._state.lock:
            return {t for t in ids if self._state.entries.pop(t, None) is not None}

    async def remove_all_tasks(self) -> None:
        with self._state.lock:
            self._state.entries.clear()
            self._state.heaps.clear()
            self._state.leases.clear()

    async def remove_group_tasks(self, group_id: str) -> int:
        check_identifier(group_id, "group_id")
        entries = self._state.entries
        with self._state.lock:
            doomed = [tid for tid, e in entries.items() if e.task.group_id == group_id]
            for task_id in doomed:
                del entries[task_id]
            return len(doomed)

    async def retry_tasks(self, task_ids: Iterable[str], run_at: datetime) -> set[str]:
        ids = check_ids(task_ids)
        run_at = to_utc(run_at)
        state = self._state
        retried: set[str] = set()
        with state.lock:
            for task_id in ids:
                entry = state.entries.get(task_id)
                if entry is None or entry.task.failed_at is None:
                    continue
                entry.task = replace(
                    entry.task, failed_at=None, attempts=0, run_at=run_at, occurrence_at=None
                )
                self._drop_claim(entry)
                state.touch(entry)
                retried.add(task_id)
        return retried

    # ------------------------------------------------------------------ reading

    async def fetch_due_tasks(self, dt: datetime) -> list[Task]:
        dt = to_utc(dt)
        with self._state.lock:
            due = [
                e
                for e in self._state.entries.values()
                if not e.task.paused and e.task.failed_at is None and e.task.run_at <= dt
            ]
            due.sort(key=lambda e: (e.task.run_at, e.task.task_id))
            return [self._materialize(e) for e in due]

    async def fetch_next_wakeup(
        self, *, callbacks: Collection[str] | None = None
    ) -> datetime | None:
        state = self._state
        with state.lock:
            heads = [state.head(name) for name in self._callbacks(callbacks)]
            times = [head[0][0] for head in heads if head is not None]
            return min(times) if times else None

    async def fetch_tasks(self, task_ids: Iterable[str]) -> list[Task]:
        ids = check_ids(task_ids)
        entries = self._state.entries
        with self._state.lock:
            return [self._materialize(entries[t]) for t in ids if t in entries]

    async def fetch_group_tasks(self, group_id: str) -> list[Task]:
        check_identifier(group_id, "group_id")
        with self._state.lock:
            members = [e for e in self._state.entries.values() if e.task.group_id == group_id]
            members.sort(key=lambda e: (e.task.run_at, e.task.task_id))
            return [self._materialize(e) for e in members]

    def _matching(self, query: TaskQuery, now: datetime) -> list[_Entry]:
        """Entries passing ``query``'s filters, in ``(run_at, task_id)`` order (kwargs undecoded)."""
        matching = []
        for entry in self._state.entries.values():
            task = entry.task
            if entry.claimed:
                task = replace(task, claimed_by=entry.claimed_by, lease_until=entry.lease_until)
            if query.matches(task, now):
                matching.append(entry)
        matching.sort(key=lambda e: (e.task.run_at, e.task.task_id))
        return matching

    async def list_tasks(self, query: TaskQuery) -> TaskPage:
        now = query.now or utcnow()
        with self._state.lock:
            rows = [e for e in self._matching(query, now) if query.is_after_cursor(e.task)]
            tasks = [self._materialize(entry) for entry in rows[: query.limit]]
        more = len(rows) > query.limit
        return TaskPage(tasks, TaskCursor.after(tasks[-1]) if more and tasks else None)

    async def count_tasks(self, query: TaskQuery, *, limit: int | None = None) -> int:
        now = query.now or utcnow()
        with self._state.lock:
            count = len(self._matching(query, now))
        return count if limit is None else min(count, limit)

    # ------------------------------------------------------------------ claims

    async def acquire_tasks(
        self,
        *,
        worker_id: str,
        now: datetime,
        lease_until: datetime,
        limit: int,
        callbacks: Collection[str] | None = None,
    ) -> list[Claim]:
        if limit <= 0:
            return []
        now, lease_until = to_utc(now), to_utc(lease_until)
        state = self._state
        claims: list[Claim] = []
        # One random part per call, numbered per task: unique, and cheaper than a uuid each.
        batch = f"{worker_id}/{uuid.uuid4().hex}/"
        with state.lock:
            # The heaps with something claimable now. A claim's new lease item can't be
            # claimable in this same call unless the lease has already ended (checked).
            sources: list[list[_HeapItem]] = []
            reclaims = False  # a lapsed lease is taken over: its run_at may be earlier
            for name in self._callbacks(callbacks):
                for heap, of_leases in (
                    (state.heaps.get(name), False),
                    (state.leases.get(name), True),
                ):
                    first = state.live_head(heap) if heap is not None else None
                    if first is not None and first[0] <= now:
                        sources.append(heap)  # type: ignore[arg-type]
                        reclaims |= of_leases
            ended = lease_until <= now
            parked: list[tuple[list[_HeapItem], _HeapItem]] = []
            while sources and len(claims) < limit:
                best: _HeapItem | None = None
                best_heap = sources[0]
                for heap in sources:
                    item = state.live_head(heap)
                    # Whole items compare as their first two fields do: versions are unique.
                    if item is not None and (best is None or item < best):
                        best, best_heap = item, heap
                if best is None or best[0] > now:
                    break
                entry = state.entries[best[2]]
                if ended and entry.token is not None and entry.token.startswith(batch):
                    # Claimed already in this call, under a lease that has ended: its
                    # item is set aside until the call is over, and the next one looked at.
                    parked.append((best_heap, heapq.heappop(best_heap)))
                    continue
                entry.token = token = f"{batch}{len(claims)}"
                entry.lease_until = lease_until
                entry.claimed_by = worker_id
                state.lease(entry, taken_from=best_heap)
                claims.append(Claim(self._materialize(entry), token, lease_until))
            for heap, item in parked:
                heapq.heappush(heap, item)
        if reclaims:
            claims.sort(key=lambda c: (c.task.run_at, c.task_id))
        return claims

    async def complete_tasks(self, completions: Sequence[Completion]) -> set[str]:
        done: set[str] = set()
        names: set[str] = set()
        state = self._state
        with state.lock:
            for item in completions:
                entry = self._held(item.task_id, item.token)
                if entry is None:
                    continue
                if item.removes:
                    del state.entries[item.task_id]
                else:
                    changes: dict[str, object] = {
                        "attempts": item.attempts,
                        "last_error": item.last_error,
                        "last_run_at": item.last_run_at,
                    }
                    if item.failed_at is not None:
                        changes["failed_at"] = item.failed_at
                    else:
                        changes["run_at"] = item.next_run_at
                        changes["occurrence_at"] = item.occurrence_at
                    entry.task = replace(entry.task, **changes)  # type: ignore[arg-type]
                    self._drop_claim(entry)
                    state.touch(entry)
                done.add(item.task_id)
                names.add(entry.task.callback)
            for name in names:
                state.head(name)  # finished claims leave their lease items: drop them now
        return done

    async def extend_leases(self, claims: Sequence[Claim], lease_until: datetime) -> set[str]:
        lease_until = to_utc(lease_until)
        held: set[str] = set()
        with self._state.lock:
            for claim in claims:
                entry = self._held(claim.task_id, claim.token)
                if entry is not None:
                    entry.lease_until = lease_until
                    self._state.touch(entry)
                    held.add(claim.task_id)
        return held

    async def release_tasks(self, claims: Sequence[Claim]) -> set[str]:
        released: set[str] = set()
        with self._state.lock:
            for claim in claims:
                entry = self._held(claim.task_id, claim.token)
                if entry is not None:
                    self._drop_claim(entry)
                    self._state.touch(entry)
                    released.add(claim.task_id)
        return released

    # ------------------------------------------------------------------ worker registry

    async def register_worker(self, info: WorkerInfo) -> None:
        with self._state.lock:
            self._state.workers[info.worker_id] = info

    async def remove_worker(self, worker_id: str) -> None:
        with self._state.lock:
            self._state.workers.pop(worker_id, None)

    async def fetch_workers(self, now: datetime) -> list[WorkerInfo]:
        now = to_utc(now)
        with self._state.lock:
            workers = self._state.workers
            for worker_id in [w for w, info in workers.items() if info.expires_at <= now]:
                del workers[worker_id]
            return sorted(workers.values(), key=lambda info: info.worker_id)
