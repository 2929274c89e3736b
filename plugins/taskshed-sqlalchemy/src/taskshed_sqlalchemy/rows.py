"""Tasks to rows and back, in the units TaskShed 0.10 stored (epoch microseconds, compact JSON).

Durations of the second-wave fields are double seconds. A failed task is kept
with ``paused`` true (so that every "unpaused" predicate and index leaves it
out); :func:`taskshed.records.task_from_record` reads it back unpaused.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from taskshed.errors import MalformedRecordError
from taskshed.models import Task
from taskshed.records import TASK_FIELDS, task_from_record
from taskshed.serializers.base import Serializer
from taskshed.timeutils import from_epoch_micros, to_epoch_micros

#: The second-wave columns, read and written like the first ten.
EXTRA_FIELDS = (
    "cron",
    "timezone",
    "end_at",
    "jitter",
    "max_attempts",
    "retry_backoff",
    "timeout",
    "attempts",
    "last_error",
    "last_run_at",
    "failed_at",
    "occurrence_at",
)
#: The columns a read selects, in this order.
TASK_COLUMNS = (*TASK_FIELDS, *EXTRA_FIELDS, "claim_token", "lease_until", "claimed_by")


def micros(value: datetime | None) -> int | None:
    return to_epoch_micros(value) if value is not None else None


def seconds(value: timedelta | None) -> float | None:
    return value.total_seconds() if value is not None else None


def task_to_row(task: Task, payload: str) -> dict[str, Any]:
    """The column values of a new or replaced task: unclaimed, kwargs already encoded."""
    failed = task.failed_at is not None
    return {
        "task_id": task.task_id,
        "run_at": to_epoch_micros(task.run_at),
        "paused": bool(task.paused) or failed,
        "callback": task.callback,
        "kwargs": payload,
        "run_type": task.run_type,
        "interval": task.interval_seconds(),
        "group_id": task.group_id,
        "coalesce": bool(task.coalesce),
        "paused_at": micros(task.paused_at) if task.paused else None,
        "cron": task.cron,
        "timezone": task.timezone,
        "end_at": micros(task.end_at),
        "jitter": seconds(task.jitter),
        "max_attempts": task.max_attempts,
        "retry_backoff": seconds(task.retry_backoff),
        "timeout": seconds(task.timeout),
        "attempts": int(task.attempts),
        "last_error": task.last_error,
        "last_run_at": micros(task.last_run_at),
        "failed_at": micros(task.failed_at),
        "occurrence_at": micros(task.occurrence_at),
        "claim_token": None,
        "lease_until": None,
        "claimed_by": None,
    }


def row_to_task(row: Any, serializer: Serializer) -> Task:
    """Rebuild a task from a row; :class:`MalformedRecordError` if it can't be."""
    # A plain dict: a row's own mapping answers .get() through the Mapping ABC, in
    # Python, which for some fifteen columns was a sixth of a claim's CPU.
    mapping = row._asdict()
    task_id = mapping["task_id"]
    tid = task_id if isinstance(task_id, str) else None
    try:
        run_at = from_epoch_micros(_integer(mapping["run_at"], "run_at"))
        times = {
            name: _time(mapping.get(name), name)
            for name in ("paused_at", "end_at", "last_run_at", "failed_at", "occurrence_at")
        }
        interval = mapping["interval"]
        interval_seconds = float(interval) if interval is not None else None
        held = mapping.get("claim_token") is not None
        lease_until = _time(mapping.get("lease_until"), "lease_until") if held else None
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
        paused_at=times["paused_at"],
        cron=mapping.get("cron"),
        timezone=mapping.get("timezone"),
        end_at=times["end_at"],
        jitter_seconds=mapping.get("jitter"),
        max_attempts=mapping.get("max_attempts"),
        retry_backoff_seconds=mapping.get("retry_backoff"),
        timeout_seconds=mapping.get("timeout"),
        attempts=mapping.get("attempts") or 0,
        last_error=mapping.get("last_error"),
        last_run_at=times["last_run_at"],
        failed_at=times["failed_at"],
        occurrence_at=times["occurrence_at"],
        claimed_by=mapping.get("claimed_by") if lease_until is not None else None,
        lease_until=lease_until,
    )


def _time(value: Any, what: str) -> datetime | None:
    return from_epoch_micros(_integer(value, what)) if value is not None else None


def _integer(value: Any, what: str) -> int:
    if value is None or isinstance(value, bool):
        raise ValueError(f"{what} is {value!r}, not a number of microseconds")
    return int(value)
