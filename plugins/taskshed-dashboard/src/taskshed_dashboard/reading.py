"""What the pages show, read through the datastore contract only (no store-specific code)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, TypeVar

from taskshed.datastores.base import DataStore
from taskshed.listing import TaskQuery
from taskshed.models import TASK_STATES, Task
from taskshed.worker_info import WorkerInfo
from taskshed_dashboard.masking import mask_secrets

#: Counts stop here ("10,000+"): a count stays cheap however many tasks are stored.
COUNT_CAP = 10_000
#: Rows in the overview's short lists.
SHORT_LIST = 10

T = TypeVar("T")


@dataclass(frozen=True)
class Count:
    """A count that may have stopped at :data:`COUNT_CAP`."""

    value: int
    capped: bool = False

    def __str__(self) -> str:
        return f"{self.value:,}+" if self.capped else f"{self.value:,}"


@dataclass(frozen=True)
class Section(Generic[T]):
    """One part of a page: its value, or why the store couldn't give it."""

    value: T | None = None
    problem: str | None = None


@dataclass
class Overview:
    now: datetime
    counts: Section[dict[str, Count]] = field(default_factory=Section)
    next_runs: Section[list[Task]] = field(default_factory=Section)
    due: Section[list[Task]] = field(default_factory=Section)
    failures: Section[list[Task]] = field(default_factory=Section)
    workers: Section[list[WorkerInfo]] = field(default_factory=Section)


async def section(call: Awaitable[T]) -> Section[T]:
    """Run one read; a store that lacks the method or fails gives a readable problem instead."""
    try:
        return Section(await call)
    except NotImplementedError:
        return Section(problem="this datastore does not support it")
    except Exception as exc:
        return Section(problem=describe_error(exc))


def describe_error(exc: BaseException) -> str:
    """``ErrorClass: message`` with any credentials in URLs masked."""
    text = str(exc).strip()
    name = type(exc).__name__
    return mask_secrets(f"{name}: {text}" if text else name)


async def count(store: DataStore, query: TaskQuery) -> Count:
    value = await store.count_tasks(query, limit=COUNT_CAP + 1)
    return Count(min(value, COUNT_CAP), capped=value > COUNT_CAP)


async def state_counts(
    store: DataStore, now: datetime, group_id: str | None = None
) -> dict[str, Count]:
    """Tasks by state, and ``all``; every count judged at the same ``now``.

    Every task is in exactly one state, so ``all`` is their sum (one query fewer).
    """
    values = await asyncio.gather(
        *(count(store, TaskQuery(state=state, group_id=group_id, now=now)) for state in TASK_STATES)
    )
    counts: dict[str, Count] = dict(zip(TASK_STATES, values, strict=True))
    total = Count(sum(c.value for c in values), capped=any(c.capped for c in values))
    return {"all": total, **counts}


async def first_tasks(store: DataStore, query: TaskQuery) -> list[Task]:
    return (await store.list_tasks(query)).tasks


async def read_overview(store: DataStore) -> Overview:
    now = await store.current_time()
    overview = Overview(now=now)
    (
        overview.counts,
        overview.next_runs,
        overview.due,
        overview.failures,
        overview.workers,
    ) = await asyncio.gather(
        section(state_counts(store, now)),
        section(first_tasks(store, TaskQuery(state="scheduled", now=now, limit=SHORT_LIST))),
        section(first_tasks(store, TaskQuery(state="due", now=now, limit=SHORT_LIST))),
        section(first_tasks(store, TaskQuery(state="failed", now=now, limit=SHORT_LIST))),
        section(store.fetch_workers(now)),
    )
    if overview.failures.value:
        # The listing is ordered by due time; the latest failure first reads better.
        overview.failures = Section(sorted(overview.failures.value, key=_failed_at, reverse=True))
    return overview


def _failed_at(task: Task) -> datetime:
    return task.failed_at or task.run_at
