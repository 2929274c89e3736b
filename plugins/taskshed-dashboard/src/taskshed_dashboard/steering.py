"""The dashboard's actions: pause, resume, run now, retry and remove tasks or a group.

Each goes through :class:`~taskshed.schedulers.AsyncScheduler`, so workers hear
of the change (the store's notifier) and plugins get their ``taskshed_tasks_*``
events, exactly as when an application changes its schedule. The tasks are read
first so that the report can say precisely what changed and what was left alone.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from taskshed.errors import TaskNotFoundError
from taskshed.listing import MAX_PAGE_SIZE, TaskQuery
from taskshed.models import Task, task_state
from taskshed.schedulers import AsyncScheduler

Action = Literal["pause", "resume", "run_now", "retry", "remove"]
ACTIONS: tuple[Action, ...] = ("pause", "resume", "run_now", "retry", "remove")
#: Most tasks one "run now" or "retry" on a whole group changes (they are listed first).
GROUP_BATCH_LIMIT = 10_000
#: Most ids one selection may hold.
MAX_SELECTION = 1000

VERBS: dict[Action, str] = {
    "pause": "Pause",
    "resume": "Resume",
    "run_now": "Run now",
    "retry": "Retry",
    "remove": "Remove",
}


@dataclass(frozen=True)
class Target:
    """What an action applies to: some task ids, or a whole group."""

    task_ids: tuple[str, ...] = ()
    group_id: str | None = None

    @property
    def is_group(self) -> bool:
        return self.group_id is not None


@dataclass
class Report:
    """What an action changed, and what it left alone and why."""

    action: Action
    target: Target
    changed: list[str] = field(default_factory=list)
    changed_count: int = 0
    #: (reason, ids) pairs for tasks the action did not change.
    skipped: list[tuple[str, list[str]]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def skip(self, reason: str, ids: Iterable[str]) -> None:
        ids = sorted(ids)
        if ids:
            self.skipped.append((reason, ids))

    @property
    def summary(self) -> str:
        past = {
            "pause": "Paused",
            "resume": "Resumed",
            "run_now": "Made due now:",
            "retry": "Re-queued",
            "remove": "Removed",
        }[self.action]
        noun = "task" if self.changed_count == 1 else "tasks"
        where = f" of group {self.target.group_id}" if self.target.is_group else ""
        return f"{past} {self.changed_count:,} {noun}{where}."


@dataclass(frozen=True)
class Preview:
    """What a confirmation asks about: how many tasks an action would touch."""

    action: Action
    target: Target
    count: int
    sample: list[str]


def needs_confirmation(action: Action, target: Target) -> bool:
    """Removing always asks first; so does anything acting on a whole group."""
    return action == "remove" or target.is_group


class Steering:
    """Applies actions through a scheduler and reports on them."""

    def __init__(self, scheduler: AsyncScheduler) -> None:
        self.scheduler = scheduler
        self.store = scheduler.datastore

    async def preview(self, action: Action, target: Target) -> Preview:
        if target.group_id is not None:
            query = TaskQuery(group_id=target.group_id, limit=5)
            if action == "retry":
                query = TaskQuery(group_id=target.group_id, state="failed", limit=5)
            total = await self.store.count_tasks(query)
            page = await self.store.list_tasks(query)
            return Preview(action, target, total, [t.task_id for t in page.tasks])
        tasks = await self.store.fetch_tasks(target.task_ids)
        return Preview(action, target, len(tasks), [t.task_id for t in tasks])

    async def apply(self, action: Action, target: Target) -> Report:
        if target.group_id is not None:
            return await self._apply_to_group(action, target.group_id, target)
        return await self._apply_to_tasks(action, target)

    # ------------------------------------------------------------------ by ids

    async def _apply_to_tasks(self, action: Action, target: Target) -> Report:
        report = Report(action, target)
        ids = list(target.task_ids)
        now = await self.store.current_time()
        tasks = await self.store.fetch_tasks(ids)
        found = {task.task_id for task in tasks}
        report.skip("not found (removed meanwhile?)", set(ids) - found)
        states = {task.task_id: task_state(task, now) for task in tasks}
        failed = {i for i, s in states.items() if s == "failed"}

        if action in ("pause", "resume"):
            paused = {i for i, s in states.items() if s == "paused"}
            if action == "pause":
                await self.scheduler.pause_tasks(task_ids=sorted(found))
                report.skip("already paused", paused)
                self._changed(report, found - failed - paused)
            else:
                await self.scheduler.resume_tasks(task_ids=sorted(found))
                report.skip("not paused", found - paused - failed)
                self._changed(report, paused)
            report.skip("failed (left as they are; retry them)", failed)
        elif action == "run_now":
            claimed = {i for i, s in states.items() if s == "claimed"}
            moving = found - failed - claimed
            moved = await self._run_now(moving)
            paused_moved = {i for i in moved if states[i] == "paused"}
            report.skip("running or claimed by a worker right now", claimed)
            report.skip("failed: use retry", failed)
            report.skip("not found (removed meanwhile?)", moving - moved)
            self._changed(report, moved)
            if paused_moved:
                report.notes.append(
                    f"{len(paused_moved):,} of them are paused: they run once resumed."
                )
        elif action == "retry":
            retried = await self.scheduler.retry_tasks(task_ids=sorted(found))
            report.skip("not failed", found - retried)
            self._changed(report, retried)
        elif action == "remove":
            await self.scheduler.remove_tasks(task_ids=sorted(found))
            left = {t.task_id for t in await self.store.fetch_tasks(sorted(found))}
            report.skip("still there (replaced meanwhile?)", left)
            self._changed(report, found - left)
        return report

    async def _run_now(self, ids: set[str]) -> set[str]:
        """Make ``ids`` due now; ids removed meanwhile are left out (the store is strict)."""
        remaining = sorted(ids)
        moved: set[str] = set()
        for start in range(0, len(remaining), MAX_PAGE_SIZE):
            chunk = remaining[start : start + MAX_PAGE_SIZE]
            try:
                await self.scheduler.run_now(task_ids=chunk)
            except TaskNotFoundError:
                # One of them vanished after we read it; nothing of the chunk changed.
                present = [t.task_id for t in await self.store.fetch_tasks(chunk)]
                if present:
                    await self.scheduler.run_now(task_ids=present)
                chunk = present
            moved.update(chunk)
        return moved

    @staticmethod
    def _changed(report: Report, ids: Iterable[str]) -> None:
        report.changed = sorted(ids)
        report.changed_count = len(report.changed)

    # ------------------------------------------------------------------ by group

    async def _apply_to_group(self, action: Action, group_id: str, target: Target) -> Report:
        report = Report(action, target)
        store = self.store
        now = await store.current_time()

        async def count(state: str | None = None) -> int:
            return await store.count_tasks(
                TaskQuery(group_id=group_id, state=state, now=now)  # type: ignore[arg-type]
            )

        if action == "pause":
            before = await count("paused")
            total, failed = await count(), await count("failed")
            await self.scheduler.pause_tasks(group_id=group_id)
            report.changed_count = max(total - failed - before, 0)
            _note_left_alone(report, before, "already paused")
            _note_left_alone(report, failed, "failed, left as they are")
        elif action == "resume":
            paused = await count("paused")
            await self.scheduler.resume_tasks(group_id=group_id)
            report.changed_count = paused
        elif action == "remove":
            total = await count()
            await self.scheduler.remove_tasks(group_id=group_id)
            report.changed_count = total
        elif action == "retry":
            retried = 0
            while retried < GROUP_BATCH_LIMIT:
                page = await store.list_tasks(
                    TaskQuery(group_id=group_id, state="failed", now=now, limit=MAX_PAGE_SIZE)
                )
                if not page.tasks:
                    break
                done = await self.scheduler.retry_tasks(
                    task_ids=[t.task_id for t in page.tasks], run_at=None
                )
                retried += len(done)
                if not done:
                    break
            report.changed_count = retried
            if retried >= GROUP_BATCH_LIMIT and await count("failed"):
                report.notes.append(
                    f"Stopped after {GROUP_BATCH_LIMIT:,} tasks; more failed tasks remain: "
                    "retry the group again."
                )
        elif action == "run_now":
            tasks = await self._group_tasks(group_id, now, limit=GROUP_BATCH_LIMIT + 1)
            if len(tasks) > GROUP_BATCH_LIMIT:
                report.notes.append(
                    f"The group has more than {GROUP_BATCH_LIMIT:,} tasks; nothing was changed. "
                    "Select the tasks to run from the task list instead."
                )
                return report
            states = {t.task_id: task_state(t, now) for t in tasks}
            eligible = {i for i, s in states.items() if s not in ("failed", "claimed")}
            moved = await self._run_now(eligible)
            report.changed_count = len(moved)
            _note_left_alone(
                report,
                sum(1 for s in states.values() if s == "claimed"),
                "running or claimed right now",
            )
            _note_left_alone(
                report, sum(1 for s in states.values() if s == "failed"), "failed: use retry"
            )
        return report

    async def _group_tasks(self, group_id: str, now: datetime, *, limit: int) -> list[Task]:
        tasks: list[Task] = []
        query = TaskQuery(group_id=group_id, now=now, limit=MAX_PAGE_SIZE)
        while len(tasks) < limit:
            page = await self.store.list_tasks(query)
            tasks.extend(page.tasks)
            if page.next_cursor is None:
                break
            query = TaskQuery(
                group_id=group_id, now=now, limit=MAX_PAGE_SIZE, after=page.next_cursor
            )
        return tasks


def _note_left_alone(report: Report, count: int, why: str) -> None:
    if count:
        report.notes.append(f"{count:,} left alone: {why}.")
