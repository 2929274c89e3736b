"""A task as a Redis hash: the 0.10 string fields, plus our claim fields beside them.

The reference fields keep the meaning 0.10 gave them (``run_at`` is always the
task's scheduled time, in epoch seconds); a claim only adds ``claim_token`` and
``lease_until``, which 0.10 never reads.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime, timedelta

from taskshed.errors import MalformedRecordError
from taskshed.models import Task
from taskshed.records import TASK_FIELDS, task_from_record
from taskshed.serializers.base import Serializer
from taskshed.timeutils import from_epoch_seconds, to_epoch_seconds

#: The fields TaskShed 0.10 writes, in its order.
REFERENCE_FIELDS = TASK_FIELDS
CLAIM_TOKEN = "claim_token"
LEASE_UNTIL = "lease_until"


def epoch_text(dt: datetime) -> str:
    """``dt`` as epoch seconds, written the way 0.10 wrote its floats (exact to the microsecond)."""
    return repr(to_epoch_seconds(dt))


def task_fields(task: Task, payload: str) -> list[str]:
    """The hash of ``task`` as field/value pairs: 0.10's ten fields, then the new ones it has.

    A new field is written only when it holds something (``attempts`` when
    above 0), so a task that uses none of them is stored exactly as 0.10
    stored it.
    """
    interval = task.interval_seconds()
    pairs = [
        "task_id", task.task_id,
        "run_at", epoch_text(task.run_at),
        "paused", "1" if task.paused else "0",
        "callback", task.callback,
        "kwargs", payload,
        "run_type", task.run_type,
        "interval", repr(interval) if interval is not None else "",
        "group_id", task.group_id or "",
        "coalesce", "1" if task.coalesce else "0",
        "paused_at", epoch_text(task.paused_at) if task.paused_at is not None else "",
    ]  # fmt: skip
    for name, value in new_fields(task):
        if value:
            pairs += [name, value]
    return pairs


def new_fields(task: Task) -> list[tuple[str, str]]:
    """The fields beyond 0.10's, as text ('' when unset)."""
    return [
        ("cron", task.cron or ""),
        ("timezone", task.timezone or ""),
        ("end_at", optional_epoch(task.end_at)),
        ("jitter", seconds_text(task.jitter)),
        ("max_attempts", str(task.max_attempts) if task.max_attempts is not None else ""),
        ("retry_backoff", seconds_text(task.retry_backoff)),
        ("timeout", seconds_text(task.timeout)),
        ("attempts", str(task.attempts) if task.attempts else ""),
        ("last_error", task.last_error or ""),
        ("last_run_at", optional_epoch(task.last_run_at)),
        ("failed_at", optional_epoch(task.failed_at)),
        ("occurrence_at", optional_epoch(task.occurrence_at)),
    ]


def optional_epoch(dt: datetime | None) -> str:
    return "" if dt is None else epoch_text(dt)


def seconds_text(value: timedelta | None) -> str:
    return "" if value is None else repr(value.total_seconds())


def text(value: object) -> str:
    """A reply value as text: redis-py gives bytes unless the client decodes responses."""
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, str):
        return value
    raise TypeError(f"unexpected reply value of type {type(value).__name__}")


def pairs_to_dict(flat: list[object]) -> dict[str, object]:
    """An HGETALL-style flat list ``[field, value, ...]`` as a dict (values left undecoded)."""
    return {text(flat[i]): flat[i + 1] for i in range(0, len(flat) - 1, 2)}


def task_from_hash(
    task_id: str,
    fields: Mapping[str, object],
    serializer: Serializer,
    holder: object = None,
) -> Task:
    """Rebuild a task from its hash; :class:`MalformedRecordError` if the fields don't fit.

    Hashes written by 0.10 releases before ``coalesce`` and ``paused_at``
    existed lack those fields; they read as ``coalesce=1`` and no pause time.
    The fields taskshed added are optional too. ``holder`` is the worker id
    the holders index names for a claimed task.
    """
    try:
        values = {name: text(value) for name, value in fields.items()}
        holder_id = None if holder is None or holder is False else text(holder)
    except (UnicodeDecodeError, TypeError) as exc:
        raise MalformedRecordError(
            f"task {task_id!r}: a field is not UTF-8 text ({type(exc).__name__})", task_id=task_id
        ) from None
    if not values:
        raise MalformedRecordError(
            f"task {task_id!r}: the schedule names it but it has no hash", task_id=task_id
        )
    stored_id = values.get("task_id")
    if stored_id != task_id:
        reason = "no task_id field" if stored_id is None else "its task_id field names another id"
        raise MalformedRecordError(f"task {task_id!r}: {reason}", task_id=task_id)
    interval_text = values.get("interval", "")
    claimed = bool(values.get(CLAIM_TOKEN))

    def instant(name: str) -> datetime | None:
        value = values.get(name, "")
        return _instant(value, name, task_id) if value else None

    def seconds(name: str) -> float | None:
        value = values.get(name, "")
        return _number(value, name, task_id) if value else None

    def whole(name: str) -> int | None:
        value = values.get(name, "")
        if not value:
            return None
        try:
            return int(value)
        except ValueError:
            raise MalformedRecordError(
                f"task {task_id!r}: {name} is not a whole number", task_id=task_id
            ) from None

    return task_from_record(
        serializer=serializer,
        task_id=task_id,
        callback=values.get("callback"),
        run_at=_instant(values.get("run_at"), "run_at", task_id),
        kwargs=values.get("kwargs"),
        run_type=values.get("run_type"),
        interval_seconds=_seconds(interval_text, task_id) if interval_text else None,
        group_id=values.get("group_id") or None,
        paused=_flag(values.get("paused"), "paused", task_id),
        coalesce=_flag(values.get("coalesce", "1"), "coalesce", task_id),
        paused_at=instant("paused_at"),
        cron=values.get("cron") or None,
        timezone=values.get("timezone") or None,
        end_at=instant("end_at"),
        jitter_seconds=seconds("jitter"),
        max_attempts=whole("max_attempts"),
        retry_backoff_seconds=seconds("retry_backoff"),
        timeout_seconds=seconds("timeout"),
        attempts=whole("attempts") or 0,
        last_error=values.get("last_error") or None,
        last_run_at=instant("last_run_at"),
        failed_at=instant("failed_at"),
        occurrence_at=instant("occurrence_at"),
        claimed_by=holder_id if claimed else None,
        lease_until=instant(LEASE_UNTIL) if claimed and holder_id else None,
    )


def _number(value: str | None, what: str, task_id: str) -> float:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise MalformedRecordError(
            f"task {task_id!r}: {what} is not a number", task_id=task_id
        ) from None
    if not math.isfinite(number):
        raise MalformedRecordError(f"task {task_id!r}: {what} is not finite", task_id=task_id)
    return number


def _instant(value: str | None, what: str, task_id: str) -> datetime:
    try:
        return from_epoch_seconds(_number(value, what, task_id))
    except OverflowError:
        raise MalformedRecordError(
            f"task {task_id!r}: {what} is out of range", task_id=task_id
        ) from None


def _seconds(value: str, task_id: str) -> float:
    seconds = _number(value, "interval", task_id)
    if seconds <= 0:
        raise MalformedRecordError(f"task {task_id!r}: interval is not positive", task_id=task_id)
    return seconds


def _flag(value: str | None, what: str, task_id: str) -> bool:
    if value in ("0", "1"):
        return value == "1"
    # 0.10 wrote int(bool); accept Python's spelling too, nothing else.
    if value in ("True", "False"):
        return value == "True"
    raise MalformedRecordError(f"task {task_id!r}: {what} is not 0 or 1", task_id=task_id)
