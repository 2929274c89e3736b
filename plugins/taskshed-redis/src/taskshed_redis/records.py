"""A task as a Redis hash: the 0.10 string fields, plus our claim fields beside them.

The reference fields keep the meaning 0.10 gave them (``run_at`` is always the
task's scheduled time, in epoch seconds); a claim only adds ``claim_token`` and
``lease_until``, which 0.10 never reads.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime

from taskshed.errors import MalformedRecordError
from taskshed.models import Task
from taskshed.records import TASK_FIELDS, task_from_record
from taskshed.serializers.base import Serializer
from taskshed.timeutils import from_epoch_seconds, to_epoch_seconds

#: The fields TaskShed 0.10 writes, in its order.
REFERENCE_FIELDS = TASK_FIELDS
CLAIM_TOKEN = "claim_token"
LEASE_UNTIL = "lease_until"
#: Score of a paused task in the schedule, as 0.10 writes it.
PAUSED_SCORE = "+inf"


def epoch_text(dt: datetime) -> str:
    """``dt`` as epoch seconds, written the way 0.10 wrote its floats (exact to the microsecond)."""
    return repr(to_epoch_seconds(dt))


def task_fields(task: Task, payload: str) -> list[str]:
    """The hash fields of ``task``, values in :data:`REFERENCE_FIELDS` order."""
    interval = task.interval_seconds()
    return [
        task.task_id,
        epoch_text(task.run_at),
        "1" if task.paused else "0",
        task.callback,
        payload,
        task.run_type,
        repr(interval) if interval is not None else "",
        task.group_id or "",
        "1" if task.coalesce else "0",
        epoch_text(task.paused_at) if task.paused_at is not None else "",
    ]


def queue_score(task: Task) -> str:
    return PAUSED_SCORE if task.paused else epoch_text(task.run_at)


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


def task_from_hash(task_id: str, fields: Mapping[str, object], serializer: Serializer) -> Task:
    """Rebuild a task from its hash; :class:`MalformedRecordError` if the fields don't fit.

    Hashes written by 0.10 releases before ``coalesce`` and ``paused_at``
    existed lack those fields; they read as ``coalesce=1`` and no pause time.
    """
    try:
        values = {name: text(value) for name, value in fields.items()}
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
    paused_at_text = values.get("paused_at", "")
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
        paused_at=_instant(paused_at_text, "paused_at", task_id) if paused_at_text else None,
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
