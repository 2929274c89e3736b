"""The task records users schedule, exactly as TaskShed 0.10 defines them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from uuid import uuid4

from taskshed.errors import InvalidTaskError

RunType = Literal["once", "recurring"]


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
    """A schedulable call of ``callback`` with ``kwargs``, once or every ``interval``.

    ``run_at`` and ``paused_at`` are converted to UTC (a naive datetime means
    local time). A recurring task needs a positive ``interval``; a task created
    paused without ``paused_at`` is stamped with the current time.
    """

    callback: str
    run_at: datetime
    run_type: RunType = "once"
    task_id: str = field(default_factory=_new_task_id)
    kwargs: dict[str, Any] = field(default_factory=dict)
    interval: timedelta | None = None
    group_id: str | None = None
    paused: bool = False
    coalesce: bool = True
    paused_at: datetime | None = None

    def __post_init__(self) -> None:
        if self.run_type not in ("once", "recurring"):
            raise InvalidTaskError(
                f"run_type must be 'once' or 'recurring', not {self.run_type!r}."
            )
        if self.run_type == "recurring":
            if self.interval is None:
                raise InvalidTaskError("An 'interval' must be provided for recurring tasks.")
            if not isinstance(self.interval, timedelta):
                raise InvalidTaskError("A recurring task's 'interval' must be a timedelta.")
            if self.interval <= timedelta(0):
                raise InvalidTaskError("A recurring task's 'interval' must be positive.")
        self.run_at = _utc(self.run_at, "run_at")
        if self.paused_at is not None:
            self.paused_at = _utc(self.paused_at, "paused_at")
        elif self.paused:
            self.paused_at = datetime.now(UTC)

    def interval_seconds(self) -> float | None:
        """The interval in seconds, or ``None`` when the task has none."""
        if self.interval:
            return self.interval.total_seconds()
        return None
