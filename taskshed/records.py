"""Rebuilding a Task from a stored record, with one typed error for anything malformed."""

from __future__ import annotations

from datetime import datetime, timedelta

from taskshed.errors import MalformedRecordError, SerializationError
from taskshed.models import Task
from taskshed.serializers.base import Serializer, decode_kwargs

#: A task's stored fields, named and ordered as TaskShed 0.10 stores them
#: (Redis hash fields, SQL columns).
TASK_FIELDS = (
    "task_id",
    "run_at",
    "paused",
    "callback",
    "kwargs",
    "run_type",
    "interval",
    "group_id",
    "coalesce",
    "paused_at",
)


def task_from_record(
    *,
    serializer: Serializer,
    task_id: object,
    callback: object,
    run_at: datetime,
    kwargs: object,
    run_type: object,
    interval_seconds: float | None,
    group_id: object,
    paused: bool,
    coalesce: bool,
    paused_at: datetime | None,
) -> Task:
    """Build a Task from decoded columns/fields; raise :class:`MalformedRecordError` if they don't fit.

    Stores convert their own time and number formats first (they differ per
    store) and hand the rest to this function, so every store rejects the same
    records for the same reasons.
    """
    tid = task_id if isinstance(task_id, str) else None
    try:
        if not isinstance(task_id, str) or not task_id:
            raise MalformedRecordError("record has no task_id")
        if not isinstance(callback, str) or not callback:
            raise MalformedRecordError("record has no callback name")
        if not isinstance(kwargs, str):
            raise MalformedRecordError("record's kwargs are not text")
        if run_type not in ("once", "recurring"):
            raise MalformedRecordError(f"record has run_type {run_type!r}")
        if group_id is not None and not isinstance(group_id, str):
            raise MalformedRecordError("record's group_id is not text")
        interval = None
        if interval_seconds is not None:
            interval = timedelta(seconds=float(interval_seconds))
        return Task(
            task_id=task_id,
            callback=callback,
            run_at=run_at,
            kwargs=decode_kwargs(serializer, kwargs, task_id=task_id),
            run_type=run_type,
            interval=interval,
            group_id=group_id or None,
            paused=bool(paused),
            coalesce=bool(coalesce),
            paused_at=paused_at,
        )
    except MalformedRecordError as exc:
        exc.task_id = tid
        raise
    except (SerializationError, TypeError, ValueError, OverflowError) as exc:
        raise MalformedRecordError(f"task {tid!r}: {exc}", task_id=tid) from exc
