"""The task records users schedule: TaskShed 0.10's fields, plus cron, failure policy and run state."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from uuid import uuid4

from taskshed.errors import InvalidTaskError

RunType = Literal["once", "recurring", "cron"]
#: Where a task stands, as :func:`task_state` tells it.
TaskState = Literal["scheduled", "due", "claimed", "paused", "failed"]
TASK_STATES: tuple[TaskState, ...] = ("scheduled", "due", "claimed", "paused", "failed")
RUN_TYPES: tuple[RunType, ...] = ("once", "recurring", "cron")

#: Longest ``last_error`` kept with a task, in characters.
MAX_ERROR_LENGTH = 2000


def _new_task_id() -> str:
    return uuid4().hex


def _utc(value: datetime, what: str) -> datetime:
    # A naive datetime means local time, as in the reference.
    if not isinstance(value, datetime):
        raise InvalidTaskError(f"{what} must be a datetime, not {type(value).__name__}.")
    try:
        return value.astimezone(UTC)
    except (OverflowError, ValueError) as exc:
        raise InvalidTaskError(f"{what} {value!r} has no UTC equivalent: {exc}") from None


def _optional_utc(value: datetime | None, what: str) -> datetime | None:
    return None if value is None else _utc(value, what)


def _duration(
    value: timedelta | float | None, what: str, *, zero: bool = False
) -> timedelta | None:
    """A duration given as a timedelta or seconds; positive (or >= 0 with ``zero``)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (timedelta, int, float)):
        raise InvalidTaskError(f"{what} must be a timedelta or a number of seconds, not {value!r}.")
    if isinstance(value, timedelta):
        duration = value
    else:
        try:
            duration = timedelta(seconds=value)
        except (OverflowError, ValueError):
            raise InvalidTaskError(f"{what} {value!r} is not a usable number of seconds.") from None
    if duration < timedelta(0) or (duration == timedelta(0) and not zero):
        raise InvalidTaskError(f"{what} must be {'zero or more' if zero else 'positive'}.")
    return duration


def _flag(value: object, what: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidTaskError(f"{what} must be True or False, not {value!r}.")
    return value


def bounded_error(text: str) -> str:
    """``text`` cut to :data:`MAX_ERROR_LENGTH` characters (the end marked), for ``last_error``."""
    if len(text) <= MAX_ERROR_LENGTH:
        return text
    return text[: MAX_ERROR_LENGTH - 1] + "…"


@dataclass(kw_only=True)
class TaskExecutionTime:
    """A new ``run_at`` for an existing task; ``run_at`` is converted to UTC."""

    task_id: str
    run_at: datetime

    def __post_init__(self) -> None:
        # A naive datetime means local time, as in the reference.
        self.run_at = _utc(self.run_at, "run_at")


@dataclass(kw_only=True)
class Task:
    """A schedulable call of ``callback`` with ``kwargs``: once, every ``interval``, or on ``cron``.

    The first ten fields are TaskShed 0.10's. ``run_at`` and the other times are
    converted to UTC (a naive datetime means local time); ``run_at`` may be
    omitted: it is then now, or for a cron task its first fire time after now.
    A recurring task needs a positive ``interval``, a cron task a ``cron``
    expression (and an optional IANA ``timezone``, UTC by default). A task
    created paused without ``paused_at`` is stamped with the current time.

    ``max_attempts``, ``retry_backoff`` and ``timeout`` are the failure policy;
    ``None`` takes the worker's default. ``attempts`` through ``lease_until``
    are kept by the store: they are read back, never needed when adding a task.
    """

    callback: str
    run_at: datetime = None  # type: ignore[assignment]  # filled in by __post_init__
    run_type: RunType = "once"
    task_id: str = field(default_factory=_new_task_id)
    kwargs: dict[str, Any] = field(default_factory=dict)
    interval: timedelta | None = None
    group_id: str | None = None
    paused: bool = False
    coalesce: bool = True
    paused_at: datetime | None = None
    # -- schedule
    cron: str | None = None
    timezone: str | None = None
    end_at: datetime | None = None
    jitter: timedelta | None = None
    # -- failure policy (None: the worker's default)
    max_attempts: int | None = None
    retry_backoff: timedelta | None = None
    timeout: timedelta | None = None
    # -- run state, kept by the store
    attempts: int = 0
    last_error: str | None = None
    last_run_at: datetime | None = None
    failed_at: datetime | None = None
    occurrence_at: datetime | None = None
    claimed_by: str | None = field(default=None, compare=False)
    lease_until: datetime | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.run_type not in RUN_TYPES:
            raise InvalidTaskError(
                f"run_type must be 'once', 'recurring' or 'cron', not {self.run_type!r}."
            )
        self.paused = _flag(self.paused, "paused")
        self.coalesce = _flag(self.coalesce, "coalesce")
        if self.run_type == "recurring":
            if self.interval is None:
                raise InvalidTaskError("An 'interval' must be provided for recurring tasks.")
            if not isinstance(self.interval, timedelta):
                raise InvalidTaskError("A recurring task's 'interval' must be a timedelta.")
            if self.interval <= timedelta(0):
                raise InvalidTaskError("A recurring task's 'interval' must be positive.")
        elif self.interval is not None and self.run_type == "cron":
            raise InvalidTaskError("a cron task takes a 'cron' expression, not an 'interval'.")
        self._check_schedule()
        self.end_at = _optional_utc(self.end_at, "end_at")
        self.jitter = _duration(self.jitter, "jitter", zero=True)
        self.retry_backoff = _duration(self.retry_backoff, "retry_backoff")
        self.timeout = _duration(self.timeout, "timeout")
        self._check_counts()
        self.last_run_at = _optional_utc(self.last_run_at, "last_run_at")
        self.failed_at = _optional_utc(self.failed_at, "failed_at")
        self.occurrence_at = _optional_utc(self.occurrence_at, "occurrence_at")
        self.lease_until = _optional_utc(self.lease_until, "lease_until")
        if self.run_at is None:
            self._first_run_at()
        else:
            self.run_at = _utc(self.run_at, "run_at")
        if self.paused_at is not None:
            self.paused_at = _utc(self.paused_at, "paused_at")
        elif self.paused:
            self.paused_at = datetime.now(UTC)

    def _check_schedule(self) -> None:
        if self.run_type == "cron":
            if not isinstance(self.cron, str) or not self.cron.strip():
                raise InvalidTaskError("A cron task needs a 'cron' expression.")
            from taskshed.cron import CronSchedule

            CronSchedule.parse(self.cron, self.timezone)  # raises InvalidTaskError
            return
        if self.cron is not None:
            raise InvalidTaskError(f"'cron' is only for run_type='cron', not {self.run_type!r}.")
        if self.timezone is not None:
            raise InvalidTaskError("'timezone' only applies to cron tasks.")
        if self.run_type == "once":
            for name in ("end_at", "jitter"):
                if getattr(self, name) is not None:
                    raise InvalidTaskError(f"{name!r} only applies to recurring and cron tasks.")

    def _check_counts(self) -> None:
        if self.max_attempts is not None and (
            isinstance(self.max_attempts, bool)
            or not isinstance(self.max_attempts, int)
            or self.max_attempts < 1
        ):
            raise InvalidTaskError(
                f"max_attempts must be a whole number of at least 1, not {self.max_attempts!r}."
            )
        if (
            isinstance(self.attempts, bool)
            or not isinstance(self.attempts, int)
            or self.attempts < 0
        ):
            raise InvalidTaskError(f"attempts must be a whole number >= 0, not {self.attempts!r}.")
        if self.last_error is not None:
            if not isinstance(self.last_error, str):
                raise InvalidTaskError("last_error must be text.")
            self.last_error = bounded_error(self.last_error)

    def _first_run_at(self) -> None:
        now = datetime.now(UTC)
        if self.run_type != "cron":
            self.run_at = now
            return
        from taskshed.cron import CronSchedule
        from taskshed.schedule import jittered

        assert self.cron is not None
        first = CronSchedule.parse(self.cron, self.timezone).next_after(now)
        if first is None:
            raise InvalidTaskError(f"cron expression {self.cron!r} never fires.")
        self.run_at = jittered(first, self.jitter)
        self.occurrence_at = first if self.run_at != first else None

    @property
    def failed(self) -> bool:
        """Whether the task used up its attempts and is kept as failed (never claimed)."""
        return self.failed_at is not None

    @property
    def scheduled_for(self) -> datetime:
        """The schedule's own time of the current occurrence (``run_at`` before jitter or retries)."""
        return self.occurrence_at or self.run_at

    def interval_seconds(self) -> float | None:
        """The interval in seconds, or ``None`` when the task has none."""
        if self.interval:
            return self.interval.total_seconds()
        return None


def task_state(task: Task, now: datetime) -> TaskState:
    """Where ``task`` stands at ``now``: failed, paused, claimed, due or scheduled (in that order)."""
    if task.failed_at is not None:
        return "failed"
    if task.paused:
        return "paused"
    if task.claimed_by is not None and task.lease_until is not None and task.lease_until > now:
        return "claimed"
    if task.run_at <= now:
        return "due"
    return "scheduled"
