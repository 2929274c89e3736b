"""A worker running a known schedule while a fault is injected, and the bookkeeping to judge it.

:class:`Schedule` adds one-off tasks due over a few seconds and one recurring
task (``coalesce=False``, so every missed occurrence must run), counts every
callback run, and at the end checks: each one-off ran exactly once and left
the store; the recurring task ran exactly once per occurrence it advanced over.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from taskshed.datastores.base import DataStore
from taskshed.models import Task
from taskshed.timeutils import utcnow
from taskshed.workers import EventDrivenWorker

INTERVAL = timedelta(milliseconds=250)


class Schedule:
    def __init__(self, one_offs: int = 30, spread: float = 4.0) -> None:
        self.tag = uuid.uuid4().hex[:8]
        self.group = f"sched-{self.tag}"
        self.one_off_ids = [f"once-{self.tag}-{i:03d}" for i in range(one_offs)]
        self.recurring_id = f"every-{self.tag}"
        self.spread = spread
        self.runs: Counter[str] = Counter()
        self.ticks = 0
        self.progress = asyncio.Event()
        self.t0: datetime | None = None

    def callbacks(self) -> dict[str, Callable[..., Awaitable[None]]]:
        async def once(task: str) -> None:
            self.runs[task] += 1
            self.progress.set()

        async def tick() -> None:
            self.ticks += 1
            self.progress.set()

        return {"once": once, "tick": tick}

    def tasks(self, start: datetime | None = None) -> list[Task]:
        start = start or utcnow()
        self.t0 = start + timedelta(milliseconds=100)
        step = self.spread / max(1, len(self.one_off_ids))
        tasks = [
            Task(
                callback="once",
                run_at=start + timedelta(seconds=0.2 + i * step),
                task_id=task_id,
                kwargs={"task": task_id},
                group_id=self.group,
            )
            for i, task_id in enumerate(self.one_off_ids)
        ]
        tasks.append(
            Task(
                callback="tick",
                run_at=self.t0,
                task_id=self.recurring_id,
                run_type="recurring",
                interval=INTERVAL,
                coalesce=False,
                group_id=self.group,
            )
        )
        return tasks

    @property
    def done(self) -> int:
        return sum(1 for task_id in self.one_off_ids if self.runs[task_id])

    async def wait_for(self, condition: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(
                    f"timed out after {timeout} s waiting for {what}: {self.describe()}"
                )
            self.progress.clear()
            try:
                await asyncio.wait_for(self.progress.wait(), min(remaining, 0.5))
            except TimeoutError:
                pass

    async def wait_all_one_offs(self, timeout: float = 40.0) -> None:
        await self.wait_for(
            lambda: self.done == len(self.one_off_ids), timeout, "every one-off task"
        )

    async def check(self, store: DataStore) -> dict[str, int]:
        """After the worker stopped: exactly-once per one-off and per recurring occurrence."""
        duplicates = {t: n for t, n in self.runs.items() if n > 1}
        missing = [t for t in self.one_off_ids if self.runs[t] == 0]
        left = [t.task_id for t in await store.fetch_tasks(self.one_off_ids)]
        assert not duplicates and not missing and not left, self.describe()
        (recurring,) = await store.fetch_tasks([self.recurring_id])
        assert self.t0 is not None
        advanced = (recurring.run_at - self.t0) / INTERVAL
        assert abs(advanced - round(advanced)) < 0.01, advanced
        assert self.ticks == round(advanced), (
            f"recurring task ran {self.ticks} times but advanced over {advanced:.2f} occurrences"
        )
        return {"one_offs": len(self.one_off_ids), "occurrences": self.ticks}

    def describe(self) -> str:
        duplicates = {t: n for t, n in self.runs.items() if n > 1}
        missing = [t for t in self.one_off_ids if self.runs[t] == 0]
        return f"{self.done}/{len(self.one_off_ids)} one-offs ran, duplicates={duplicates}, missing={missing[:5]}, ticks={self.ticks}"


def make_worker(schedule: Schedule, store: DataStore, **options: object) -> EventDrivenWorker:
    options.setdefault("lease", timedelta(seconds=10))
    return EventDrivenWorker(
        schedule.callbacks(), store, max_sleep=timedelta(milliseconds=100), **options
    )
