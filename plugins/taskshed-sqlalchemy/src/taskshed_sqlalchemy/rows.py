"""Tasks to rows and back, in the units TaskShed 0.10 stored (epoch microseconds, compact JSON)."""

from __future__ import annotations

from typing import Any

from taskshed.errors import MalformedRecordError
from taskshed.models import Task
from taskshed.records import TASK_FIELDS, task_from_record
from taskshed.serializers.base import Serializer
from taskshed.timeutils import from_epoch_micros, to_epoch_micros

#: The columns a read selects, in this order.
TASK_COLUMNS = TASK_FIELDS


def task_to_row(task: Task, payload: str) -> dict[str, Any]:
    """The column values of a new or replaced task: unclaimed, kwargs already encoded."""
    return {
        "task_id": task.task_id,
        "run_at": to_epoch_micros(task.run_at),
        "paused": bool(task.paused),
        "callback": task.callback,
        "kwargs": payload,
        "run_type": task.run_type,
        "interval": task.interval_seconds(),
        "group_id": task.group_id,
        "coalesce": bool(task.coalesce),
        "paused_at": to_epoch_micros(task.paused_at) if task.paused_at is not None else None,
        "claim_token": None,
        "lease_until": None,
    }


def row_to_task(row: Any, serializer: Serializer) -> Task:
    """Rebuild a task from a row; :class:`MalformedRecordError` if it can't be."""
    mapping = row._mapping
    task_id = mapping["task_id"]
    tid = task_id if isinstance(task_id, str) else None
    try:
        run_at = from_epoch_micros(_integer(mapping["run_at"], "run_at"))
        paused_at_raw = mapping["paused_at"]
        paused_at = (
            from_epoch_micros(_integer(paused_at_raw, "paused_at"))
            if paused_at_raw is not None
            else None
        )
        interval = mapping["interval"]
        interval_seconds = float(interval) if interval is not None else None
    except (TypeError, ValueError, OverflowError) as exc:
        raise MalformedRecordError(f"task {tid!r}: {exc}", task_id=tid) from exc
    return task_from_record(
        serializer=serializer,
        task_id=task_id,
        callback=mapping["callback"],
        run_at=run_at,
        kwargs=mapping["kwargs"],
        run_type=mapping["run_type"],
        interval_seconds=interval_seconds,
        group_id=mapping["group_id"],
        paused=bool(mapping["paused"]),
        coalesce=bool(mapping["coalesce"]) if mapping["coalesce"] is not None else True,
        paused_at=paused_at,
    )


def _integer(value: Any, what: str) -> int:
    if value is None or isinstance(value, bool):
        raise ValueError(f"{what} is {value!r}, not a number of microseconds")
    return int(value)
