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
    cron: object = None,
    timezone: object = None,
    end_at: datetime | None = None,
    jitter_seconds: float | None = None,
    max_attempts: object = None,
    retry_backoff_seconds: float | None = None,
    timeout_seconds: float | None = None,
    attempts: object = 0,
    last_error: object = None,
    last_run_at: datetime | None = None,
    failed_at: datetime | None = None,
    occurrence_at: datetime | None = None,
    claimed_by: object = None,
    lease_until: datetime | None = None,
) -> Task:
    """Build a Task from decoded columns/fields; raise :class:`MalformedRecordError` if they don't fit.

    Stores convert their own time and number formats first (they differ per
    store) and hand the rest to this function, so every store rejects the same
    records for the same reasons. A failed task reads ``paused=False`` whatever
    the store keeps (a store may hold failed tasks as paused internally); a
    claim is reported only when both its holder and its lease are present.
    """
    tid = task_id if isinstance(task_id, str) else None
    try:
        if not isinstance(task_id, str) or not task_id:
            raise MalformedRecordError("record has no task_id")
        if not isinstance(callback, str) or not callback:
            raise MalformedRecordError("record has no callback name")
        if not isinstance(kwargs, str):
            raise MalformedRecordError("record's kwargs are not text")
        if run_type not in ("once", "recurring", "cron"):
            raise MalformedRecordError(f"record has run_type {run_type!r}")
        for name, value in (("cron", cron), ("timezone", timezone), ("last_error", last_error)):
            if value is not None and not isinstance(value, str):
                raise MalformedRecordError(f"record's {name} is not text")
        if claimed_by is not None and not isinstance(claimed_by, str):
            raise MalformedRecordError("record's claim holder is not text")
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
            paused=bool(paused) and failed_at is None,
            coalesce=bool(coalesce),
            paused_at=paused_at if failed_at is None else None,
            cron=cron or None,  # type: ignore[arg-type]
            timezone=timezone or None,  # type: ignore[arg-type]
            end_at=end_at,
            jitter=_seconds(jitter_seconds),
            max_attempts=int(max_attempts) if max_attempts is not None else None,  # type: ignore[call-overload]
            retry_backoff=_seconds(retry_backoff_seconds),
            timeout=_seconds(timeout_seconds),
            attempts=int(attempts or 0),  # type: ignore[call-overload]
            last_error=last_error,  # type: ignore[arg-type]
            last_run_at=last_run_at,
            failed_at=failed_at,
            occurrence_at=occurrence_at,
            claimed_by=claimed_by if lease_until is not None else None,
            lease_until=lease_until if claimed_by is not None else None,
        )
    except MalformedRecordError as exc:
        exc.task_id = tid
        raise
    except (SerializationError, TypeError, ValueError, OverflowError) as exc:
        raise MalformedRecordError(f"task {tid!r}: {exc}", task_id=tid) from exc


def _seconds(value: float | None) -> timedelta | None:
    return None if value is None else timedelta(seconds=float(value))
