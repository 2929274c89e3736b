"""The scheduler: the API applications use to add, change and remove tasks."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any, Literal

from taskshed.datastores.base import DataStore
from taskshed.models import Task, TaskExecutionTime
from taskshed.timeutils import utcnow
from taskshed.workers.base import BaseWorker, Callback

_NEITHER = "Must specify either a list of Task IDs or a group ID."


class AsyncScheduler:
    """Adds, changes and removes tasks in a datastore; tells an attached worker of changes.

    Workers in other processes learn of changes by asking the store; a worker
    passed as ``worker`` (same process) is told at once, so an
    ``EventDrivenWorker`` wakes exactly when the next task is due.
    """

    def __init__(self, datastore: DataStore, *, worker: BaseWorker | None = None) -> None:
        self._datastore = datastore
        self._worker = worker
        self._started = False

    async def start(self) -> None:
        """Start the datastore, then the attached worker (a second call is a no-op)."""
        if self._started:
            return
        await self._datastore.start()
        if self._worker is not None:
            await self._worker.start()
        self._started = True

    async def shutdown(self) -> None:
        """Stop the attached worker (letting callbacks finish), then close the datastore."""
        if self._worker is not None:
            await self._worker.shutdown()
        await self._datastore.shutdown()
        self._started = False

    def add_callback(self, name: str, fn: Callback) -> None:
        """Add a callback to the attached worker's map (``RuntimeError`` without a worker)."""
        if self._worker is None:
            raise RuntimeError("This scheduler has no worker attached to add callbacks to.")
        self._worker.add_callback(name, fn)

    async def add_task(
        self,
        callback: str,
        run_at: datetime | None = None,
        kwargs: dict[str, Any] | None = None,
        run_type: Literal["once", "recurring"] = "once",
        interval: timedelta | None = None,
        task_id: str | None = None,
        group_id: str | None = None,
        paused: bool = False,
        coalesce: bool = True,
        *,
        replace_existing: bool = True,
    ) -> Task:
        """Schedule one task; ``run_at=None`` means now. Returns the stored task.

        Raises ``ValueError`` (a recurring task without a positive interval),
        :class:`~taskshed.errors.InvalidTaskError` or
        :class:`~taskshed.errors.SerializationError` before anything is stored.
        """
        fields: dict[str, Any] = {}
        if task_id is not None:
            fields["task_id"] = task_id
        task = Task(
            callback=callback,
            run_at=run_at or utcnow(),
            kwargs=kwargs if kwargs is not None else {},
            run_type=run_type,
            interval=interval,
            group_id=group_id,
            paused=paused,
            coalesce=coalesce,
            **fields,
        )
        await self._datastore.add_tasks((task,), replace_existing=replace_existing)
        await self._notify_worker(task.run_at)
        return task

    async def add_tasks(self, tasks: Iterable[Task], *, replace_existing: bool = True) -> None:
        """Schedule many tasks in one transaction (or pipeline / script)."""
        await self._datastore.add_tasks(tasks, replace_existing=replace_existing)
        await self._notify_worker()

    async def fetch_tasks(
        self, *, task_ids: Iterable[str] | None = None, group_id: str | None = None
    ) -> list[Task]:
        """Tasks by ids, or every task of a group."""
        if task_ids:
            return await self._datastore.fetch_tasks(task_ids)
        if group_id:
            return await self._datastore.fetch_group_tasks(group_id)
        raise ValueError(_NEITHER)

    async def pause_tasks(
        self, *, task_ids: Iterable[str] | None = None, group_id: str | None = None
    ) -> None:
        """Pause tasks by ids or by group; paused tasks are never claimed."""
        await self._set_paused(task_ids, group_id, paused=True)

    async def resume_tasks(
        self, *, task_ids: Iterable[str] | None = None, group_id: str | None = None
    ) -> None:
        """Resume paused tasks; they run on their schedule again."""
        await self._set_paused(task_ids, group_id, paused=False)

    async def remove_tasks(
        self, *, task_ids: Iterable[str] | None = None, group_id: str | None = None
    ) -> None:
        """Remove tasks by ids or by group, for good."""
        if task_ids:
            await self._datastore.remove_tasks(task_ids)
        elif group_id:
            await self._datastore.remove_group_tasks(group_id)
        else:
            raise ValueError(_NEITHER)
        await self._notify_worker()

    async def update_execution_times(self, *, tasks: Iterable[TaskExecutionTime]) -> None:
        """Move tasks to new times (``TaskNotFoundError`` if one doesn't exist)."""
        await self._datastore.update_execution_times(tasks)
        await self._notify_worker()

    async def _set_paused(
        self, task_ids: Iterable[str] | None, group_id: str | None, *, paused: bool
    ) -> None:
        if task_ids:
            await self._datastore.update_tasks_paused_status(task_ids, paused)
        elif group_id:
            await self._datastore.update_group_paused_status(group_id, paused)
        else:
            raise ValueError(_NEITHER)
        await self._notify_worker()

    async def _notify_worker(self, run_at: datetime | None = None) -> None:
        if self._worker is not None:
            await self._worker.update_schedule(run_at)
