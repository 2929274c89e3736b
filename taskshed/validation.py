"""Checks every task passes before any datastore writes it (G6 in docs/concepts.md)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from taskshed.errors import InvalidTaskError, SerializationError
from taskshed.models import Task, TaskExecutionTime
from taskshed.timeutils import EPOCH, MAX_RUN_AT

#: Longest task id, group id or callback name, in characters.
MAX_ID_LENGTH = 255
#: Largest encoded kwargs, in bytes: what TaskShed 0.10's MySQL column (MEDIUMTEXT) holds.
MAX_KWARGS_BYTES = 16 * 1024 * 1024 - 1
#: Longest interval a recurring task may have.
MAX_INTERVAL = timedelta(days=365 * 100)
#: Longest timeout, retry backoff and jitter a task may have.
MAX_POLICY_DURATION = timedelta(days=365)
#: Most attempts a task may be given.
MAX_ATTEMPTS = 1000
#: Longest cron expression, in characters.
MAX_CRON_LENGTH = 200


def check_identifier(value: object, what: str) -> str:
    """Return ``value`` if it can serve as an id or name in every datastore, else raise."""
    if not isinstance(value, str):
        raise InvalidTaskError(f"{what} must be a string, not {type(value).__name__}.")
    if not value:
        raise InvalidTaskError(f"{what} must not be empty.")
    if len(value) > MAX_ID_LENGTH:
        raise InvalidTaskError(
            f"{what} is {len(value)} characters long; the limit is {MAX_ID_LENGTH}."
        )
    if "\x00" in value:
        raise InvalidTaskError(f"{what} must not contain a NUL character.")
    if value[-1] == " ":
        # MySQL and MariaDB compare with PAD SPACE collations, where "a" and
        # "a " are the same key; refusing the trailing space keeps ids distinct
        # in every store.
        raise InvalidTaskError(f"{what} must not end with a space.")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidTaskError(f"{what} is not valid Unicode text: {exc.reason}.") from None
    return value


def check_run_at(value: datetime, what: str = "run_at") -> datetime:
    if not isinstance(value, datetime):
        raise InvalidTaskError(f"{what} must be a datetime, not {type(value).__name__}.")
    if value < EPOCH or value >= MAX_RUN_AT:
        raise InvalidTaskError(
            f"{what} {value.isoformat()} is outside the storable range "
            f"{EPOCH.isoformat()} .. {MAX_RUN_AT.isoformat()}."
        )
    return value


def check_task(task: Task) -> Task:
    """Validate one task; raise :class:`InvalidTaskError` naming the task and the field."""
    if not isinstance(task, Task):
        raise InvalidTaskError(f"expected a Task, got {type(task).__name__}.")
    task_id = check_identifier(task.task_id, "task_id")
    try:
        check_identifier(task.callback, "callback")
        if task.group_id is not None:
            check_identifier(task.group_id, "group_id")
        check_run_at(task.run_at)
        if task.interval is not None:
            if not isinstance(task.interval, timedelta):
                raise InvalidTaskError("interval must be a timedelta.")
            if task.interval <= timedelta(0):
                raise InvalidTaskError("interval must be positive.")
            if task.interval > MAX_INTERVAL:
                raise InvalidTaskError(f"interval must be at most {MAX_INTERVAL.days} days.")
        if task.run_type == "recurring" and task.interval is None:
            raise InvalidTaskError("a recurring task needs an interval.")
        _check_policy(task)
        if not isinstance(task.kwargs, dict) or not all(isinstance(k, str) for k in task.kwargs):
            raise InvalidTaskError("kwargs must be a dict with string keys.")
    except InvalidTaskError as exc:
        raise InvalidTaskError(f"task {task_id!r}: {exc}") from None
    return task


def _check_policy(task: Task) -> None:
    """The fields added after 0.10: cron, end, jitter, attempts, backoff, timeout, run state."""
    if task.cron is not None and len(task.cron) > MAX_CRON_LENGTH:
        raise InvalidTaskError(f"cron must be at most {MAX_CRON_LENGTH} characters.")
    if task.timezone is not None:
        check_identifier(task.timezone, "timezone")
    for name in ("jitter", "retry_backoff", "timeout"):
        value = getattr(task, name)
        if value is not None and value > MAX_POLICY_DURATION:
            raise InvalidTaskError(f"{name} must be at most {MAX_POLICY_DURATION.days} days.")
    if task.max_attempts is not None and task.max_attempts > MAX_ATTEMPTS:
        raise InvalidTaskError(f"max_attempts must be at most {MAX_ATTEMPTS}.")
    if task.attempts > MAX_ATTEMPTS:
        raise InvalidTaskError(f"attempts must be at most {MAX_ATTEMPTS}.")
    for name in ("end_at", "last_run_at", "failed_at", "occurrence_at"):
        value = getattr(task, name)
        if value is not None:
            check_run_at(value, name)
    if task.end_at is not None and task.end_at < task.scheduled_for:
        raise InvalidTaskError("end_at is before the task's first run: it would never run.")


def check_tasks(tasks: Iterable[Task]) -> list[Task]:
    """Validate every task before anything is written; duplicates keep the last one."""
    by_id: dict[str, Task] = {}
    for task in tasks:
        check_task(task)
        by_id.pop(task.task_id, None)
        by_id[task.task_id] = task
    return list(by_id.values())


def check_execution_times(times: Iterable[TaskExecutionTime]) -> list[TaskExecutionTime]:
    checked = []
    for item in times:
        check_identifier(item.task_id, "task_id")
        check_run_at(item.run_at)
        checked.append(item)
    return checked


def check_ids(task_ids: Iterable[str] | str, what: str = "task_id") -> list[str]:
    """A list of ids from an iterable (a lone string is taken as one id, not its letters)."""
    if isinstance(task_ids, str):
        task_ids = [task_ids]
    return [check_identifier(task_id, what) for task_id in dict.fromkeys(task_ids)]


def check_kwargs_size(task: Task, payload: str) -> str:
    """Return ``payload`` if every store can hold it, else raise naming the task."""
    size = len(payload.encode("utf-8"))
    if size > MAX_KWARGS_BYTES:
        raise SerializationError(
            f"task {task.task_id!r}: kwargs take {size} bytes encoded; the limit is "
            f"{MAX_KWARGS_BYTES} (keep large data elsewhere and pass a reference)",
            task_id=task.task_id,
        )
    return payload
