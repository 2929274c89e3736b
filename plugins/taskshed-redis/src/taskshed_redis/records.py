"""A task as a Redis hash: the 0.10 string fields, plus our claim fields beside them.

The reference fields keep the meaning 0.10 gave them (``run_at`` is always the
task's scheduled time, in epoch seconds); a claim only adds ``claim_token`` and
``lease_until``, which 0.10 never reads.
"""

from __future__ import annotations

import functools
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
    pairs = iter(flat)
    try:
        # The usual reply, all bytes: decoded in one pass (a trailing odd item is dropped).
        return {name.decode(): value for name, value in zip(pairs, pairs, strict=False)}  # type: ignore[attr-defined]
    except AttributeError:  # a client that decodes replies, or something else: field by field
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
        try:
            values = {name: value.decode() for name, value in fields.items()}  # type: ignore[attr-defined]
        except AttributeError:  # not all bytes: text() says which are text and which aren't
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
    get = values.get
    interval_text = get("interval", "")
    claimed = bool(get(CLAIM_TOKEN))
    # Optional fields are mostly absent or empty: each is converted only when it holds text.
    return task_from_record(
        serializer=serializer,
        task_id=task_id,
        callback=get("callback"),
        run_at=_instant(get("run_at"), "run_at", task_id),
        kwargs=get("kwargs"),
        run_type=get("run_type"),
        interval_seconds=_seconds(interval_text, task_id) if interval_text else None,
        group_id=get("group_id") or None,
        paused=_flag(get("paused"), "paused", task_id),
        coalesce=_flag(get("coalesce", "1"), "coalesce", task_id),
        paused_at=_instant(v, "paused_at", task_id) if (v := get("paused_at")) else None,
        cron=get("cron") or None,
        timezone=get("timezone") or None,
        end_at=_instant(v, "end_at", task_id) if (v := get("end_at")) else None,
        jitter_seconds=_number(v, "jitter", task_id) if (v := get("jitter")) else None,
        max_attempts=_whole(v, "max_attempts", task_id) if (v := get("max_attempts")) else None,
        retry_backoff_seconds=(
            _number(v, "retry_backoff", task_id) if (v := get("retry_backoff")) else None
        ),
        timeout_seconds=_number(v, "timeout", task_id) if (v := get("timeout")) else None,
        attempts=_whole(v, "attempts", task_id) if (v := get("attempts")) else 0,
        last_error=get("last_error") or None,
        last_run_at=_instant(v, "last_run_at", task_id) if (v := get("last_run_at")) else None,
        failed_at=_instant(v, "failed_at", task_id) if (v := get("failed_at")) else None,
        occurrence_at=(
            _instant(v, "occurrence_at", task_id) if (v := get("occurrence_at")) else None
        ),
        claimed_by=holder_id if claimed else None,
        lease_until=(
            _instant(v, LEASE_UNTIL, task_id)
            if claimed and holder_id and (v := get(LEASE_UNTIL))
            else None
        ),
    )


def _whole(value: str, what: str, task_id: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise MalformedRecordError(
            f"task {task_id!r}: {what} is not a whole number", task_id=task_id
        ) from None


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


@functools.lru_cache(maxsize=4096)
def _instant_of_text(value: str) -> datetime | None:
    """The instant a stored epoch text names; ``None`` if it names none (see :func:`_instant`).

    Cached: the tasks of a burst mostly share their ``run_at``, and a batch
    of claims its ``lease_until``, so most look-ups skip the conversion.
    """
    try:
        return from_epoch_seconds(float(value))  # inf and nan raise too
    except (ValueError, OverflowError):
        return None


def _instant(value: str | None, what: str, task_id: str) -> datetime:
    found = _instant_of_text(value) if type(value) is str else None
    if found is not None:
        return found
    try:  # not an instant: say why
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
