"""The scheduler: the API applications use to add, change, inspect and remove tasks."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from taskshed.datastores.base import DataStore
from taskshed.events import EventBus, ScheduleEvent, ScheduleEventKind, find_observers
from taskshed.listing import TaskPage, TaskQuery
from taskshed.models import RunType, Task, TaskExecutionTime
from taskshed.notifiers.base import Notice, Notifier
from taskshed.timeutils import utcnow
from taskshed.validation import check_ids
from taskshed.worker_info import WorkerInfo
from taskshed.workers.base import BaseWorker, Callback

log = logging.getLogger("taskshed.schedulers")

_NEITHER = "Must specify either a list of Task IDs or a group ID."


class AsyncScheduler:
    """Adds, changes and removes tasks in a datastore; tells workers of changes.

    A worker passed as ``worker`` (same process) is told at once, so an
    ``EventDrivenWorker`` wakes exactly when the next task is due. Workers in
    other processes hear of changes through ``notifier`` — by default the
    store's own (Redis pub/sub, PostgreSQL ``NOTIFY``); ``None`` turns that off
    — or else within their polling interval.
    """

    def __init__(
        self,
        datastore: DataStore,
        *,
        worker: BaseWorker | None = None,
        notifier: Notifier | str | None = "store",
        plugin_manager: Any | None = None,
    ) -> None:
        self._datastore = datastore
        self._worker = worker
        self._notifier_choice = notifier
        self._notifier: Notifier | None = None
        self._plugin_manager = plugin_manager
        self._bus: EventBus | None = None
        self._started = False

    @property
    def datastore(self) -> DataStore:
        return self._datastore

    async def start(self) -> None:
        """Start the datastore, the notifier, then the attached worker (a second call is a no-op)."""
        if self._started:
            return
        await self._datastore.start()
        await self._start_notifier()
        self._bus = EventBus(
            find_observers(self._plugin_manager), name="taskshed-scheduler", lazy=True
        )
        if self._worker is not None:
            await self._worker.start()
        self._started = True

    async def shutdown(self) -> None:
        """Stop the attached worker (letting callbacks finish), then close the datastore."""
        if self._worker is not None:
            await self._worker.shutdown()
        if self._notifier is not None:
            with contextlib.suppress(Exception):
                await self._notifier.shutdown()
            self._notifier = None
        if self._bus is not None:
            self._bus.close()
            self._bus = None
        await self._datastore.shutdown()
        self._started = False

    def add_callback(self, name: str, fn: Callback) -> None:
        """Add a callback to the attached worker's map (``RuntimeError`` without a worker)."""
        if self._worker is None:
            raise RuntimeError("This scheduler has no worker attached to add callbacks to.")
        self._worker.add_callback(name, fn)

    # ------------------------------------------------------------------ adding

    async def add_task(
        self,
        callback: str,
        run_at: datetime | None = None,
        kwargs: dict[str, Any] | None = None,
        run_type: RunType = "once",
        interval: timedelta | None = None,
        task_id: str | None = None,
        group_id: str | None = None,
        paused: bool = False,
        coalesce: bool = True,
        *,
        replace_existing: bool = True,
        cron: str | None = None,
        timezone: str | None = None,
        end_at: datetime | None = None,
        jitter: timedelta | float | None = None,
        max_attempts: int | None = None,
        retry_backoff: timedelta | float | None = None,
        timeout: timedelta | float | None = None,
    ) -> Task:
        """Schedule one task; ``run_at=None`` means now (a cron task: its next fire time).

        Returns the stored task. Raises ``ValueError`` (a recurring task
        without a positive interval),
        :class:`~taskshed.errors.InvalidTaskError` (a bad cron expression or
        time zone, say) or :class:`~taskshed.errors.SerializationError` before
        anything is stored.
        """
        fields: dict[str, Any] = {}
        if task_id is not None:
            fields["task_id"] = task_id
        task = Task(
            callback=callback,
            run_at=run_at,  # type: ignore[arg-type]  # None: now, or the first cron fire time
            kwargs=kwargs if kwargs is not None else {},
            run_type=run_type,
            interval=interval,
            group_id=group_id,
            paused=paused,
            coalesce=coalesce,
            cron=cron,
            timezone=timezone,
            end_at=end_at,
            jitter=jitter,  # type: ignore[arg-type]  # seconds are accepted too
            max_attempts=max_attempts,
            retry_backoff=retry_backoff,  # type: ignore[arg-type]
            timeout=timeout,  # type: ignore[arg-type]
            **fields,
        )
        await self._datastore.add_tasks((task,), replace_existing=replace_existing)
        await self._changed("added", task.run_at, tasks=(task,))
        return task

    async def add_tasks(self, tasks: Iterable[Task], *, replace_existing: bool = True) -> None:
        """Schedule many tasks in one transaction (or pipeline / script)."""
        tasks = list(tasks)
        await self._datastore.add_tasks(tasks, replace_existing=replace_existing)
        earliest = min((task.run_at for task in tasks), default=None)
        await self._changed("added", earliest, tasks=tuple(tasks))

    # ------------------------------------------------------------------ reading

    async def fetch_tasks(
        self, *, task_ids: Iterable[str] | None = None, group_id: str | None = None
    ) -> list[Task]:
        """Tasks by ids, or every task of a group."""
        if task_ids:
            return await self._datastore.fetch_tasks(task_ids)
        if group_id:
            return await self._datastore.fetch_group_tasks(group_id)
        raise ValueError(_NEITHER)

    async def list_tasks(self, query: TaskQuery | None = None, **filters: Any) -> TaskPage:
        """One page of tasks: ``list_tasks(state="failed", group_id="reports", limit=50)``.

        Filters are those of :class:`~taskshed.listing.TaskQuery`; pass
        ``after=page.next_cursor`` for the next page.
        """
        return await self._datastore.list_tasks(query or TaskQuery(**filters))

    async def count_tasks(self, query: TaskQuery | None = None, **filters: Any) -> int:
        """How many tasks match (same filters as :meth:`list_tasks`)."""
        return await self._datastore.count_tasks(query or TaskQuery(**filters))

    async def fetch_failed_tasks(
        self, *, group_id: str | None = None, limit: int = 1000
    ) -> list[Task]:
        """Tasks kept as failed (a one-off that used its attempts), oldest due first."""
        page = await self._datastore.list_tasks(
            TaskQuery(state="failed", group_id=group_id, limit=limit)
        )
        return page.tasks

    async def fetch_workers(self) -> list[WorkerInfo]:
        """The workers registered in the store and still heartbeating."""
        return await self._datastore.fetch_workers(await self._datastore.current_time())

    # ------------------------------------------------------------------ changing

    async def pause_tasks(
        self,
        *,
        task_ids: Iterable[str] | None = None,
        group_id: str | None = None,
        strict: bool = False,
    ) -> set[str] | int:
        """Pause tasks by ids or by group; paused tasks are never claimed.

        Ids that don't exist are skipped (as in TaskShed 0.10); ``strict=True``
        raises :class:`~taskshed.errors.TaskNotFoundError` instead and changes nothing.
        Returns the ids found, or for a group how many tasks it has.
        """
        return await self._set_paused(task_ids, group_id, paused=True, strict=strict)

    async def resume_tasks(
        self,
        *,
        task_ids: Iterable[str] | None = None,
        group_id: str | None = None,
        strict: bool = False,
    ) -> set[str] | int:
        """Resume paused tasks; they run on their schedule again (missing ids are skipped).

        Returns the ids found, or for a group how many tasks it has.
        """
        return await self._set_paused(task_ids, group_id, paused=False, strict=strict)

    async def remove_tasks(
        self, *, task_ids: Iterable[str] | None = None, group_id: str | None = None
    ) -> set[str] | int:
        """Remove tasks by ids or by group, for good; returns the ids removed (or a group's count)."""
        removed: set[str] | int
        if task_ids:
            ids = check_ids(task_ids)
            removed = await self._datastore.remove_tasks(ids)
            await self._changed("removed", None, task_ids=tuple(ids))
        elif group_id:
            removed = await self._datastore.remove_group_tasks(group_id)
            await self._changed("removed", None, group_id=group_id)
        else:
            raise ValueError(_NEITHER)
        return removed

    async def update_execution_times(self, *, tasks: Iterable[TaskExecutionTime]) -> None:
        """Move tasks to new times (``TaskNotFoundError`` if one doesn't exist)."""
        tasks = list(tasks)
        await self._datastore.update_execution_times(tasks)
        earliest = min((item.run_at for item in tasks), default=None)
        await self._changed(
            "changed", earliest, task_ids=tuple(t.task_id for t in tasks), change="retimed"
        )

    async def run_now(self, *, task_ids: Iterable[str]) -> None:
        """Make tasks due now (their claims, if any, are dropped)."""
        now = await self._datastore.current_time()
        await self.update_execution_times(
            tasks=[
                TaskExecutionTime(task_id=task_id, run_at=now) for task_id in check_ids(task_ids)
            ]
        )

    async def retry_tasks(
        self, *, task_ids: Iterable[str], run_at: datetime | None = None
    ) -> set[str]:
        """Re-queue failed tasks (due now, or at ``run_at``) with their attempts reset.

        Returns the ids re-queued; ids that are unknown or not failed are ignored.
        """
        when = run_at or await self._datastore.current_time()
        retried = await self._datastore.retry_tasks(check_ids(task_ids), when)
        if retried:
            await self._changed("changed", when, task_ids=tuple(sorted(retried)), change="retried")
        return retried

    async def _set_paused(
        self, task_ids: Iterable[str] | None, group_id: str | None, *, paused: bool, strict: bool
    ) -> set[str] | int:
        change = "paused" if paused else "resumed"
        found: set[str] | int
        if task_ids:
            ids = check_ids(task_ids)
            found = await self._datastore.update_tasks_paused_status(ids, paused, strict=strict)
            await self._changed("changed", None, task_ids=tuple(ids), change=change)
        elif group_id:
            found = await self._datastore.update_group_paused_status(group_id, paused)
            await self._changed("changed", None, group_id=group_id, change=change)
        else:
            raise ValueError(_NEITHER)
        return found

    # ------------------------------------------------------------------ telling others

    async def _start_notifier(self) -> None:
        choice = self._notifier_choice
        if choice is None or self._notifier is not None:
            return
        from taskshed.config import resolve_notifier

        try:
            notifier = resolve_notifier(choice, self._datastore)
        except Exception as exc:
            log.warning("no notifier (%s); workers elsewhere poll for changes", exc)
            return
        if notifier is None:
            return
        try:
            await notifier.start()
        except Exception as exc:
            log.warning(
                "notifier %s unavailable (%s); workers in other processes see changes "
                "within their polling interval",
                notifier.describe(),
                exc,
            )
            return
        self._notifier = notifier

    async def _changed(
        self,
        kind: ScheduleEventKind,
        earliest: datetime | None,
        *,
        tasks: tuple[Task, ...] = (),
        task_ids: tuple[str, ...] = (),
        group_id: str | None = None,
        change: str = "",
    ) -> None:
        if self._worker is not None:
            await self._worker.update_schedule(earliest)
        if self._notifier is not None and kind != "removed":
            # A hint: workers elsewhere re-check the store at once.
            await self._notifier.publish(Notice("schedule", earliest))
        if self._bus is not None and self._bus.active:
            self._bus.emit(
                ScheduleEvent(
                    kind,
                    utcnow(),
                    task_ids=task_ids or tuple(task.task_id for task in tasks),
                    group_id=group_id,
                    tasks=tasks,
                    change=change,
                )
            )
