"""Listing tasks: the filters and pages every store's ``list_tasks`` understands."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from datetime import datetime

from taskshed.errors import InvalidTaskError
from taskshed.models import TASK_STATES, Task, TaskState
from taskshed.timeutils import from_epoch_micros, to_epoch_micros, to_utc

#: Most tasks one page may hold.
MAX_PAGE_SIZE = 1000


@dataclass(frozen=True, slots=True)
class TaskCursor:
    """Where a page ends: the ``(run_at, task_id)`` of its last task (pages are in that order)."""

    run_at: datetime
    task_id: str

    def encode(self) -> str:
        """An opaque, URL-safe text form (for ``--after`` options and links)."""
        raw = json.dumps([to_epoch_micros(self.run_at), self.task_id], separators=(",", ":"))
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> TaskCursor:
        try:
            padded = text + "=" * (-len(text) % 4)
            micros, task_id = json.loads(base64.urlsafe_b64decode(padded.encode()))
            if not isinstance(micros, int) or not isinstance(task_id, str):
                raise ValueError(text)
            return cls(from_epoch_micros(micros), task_id)
        except (ValueError, TypeError, binascii.Error, OverflowError):
            raise InvalidTaskError(f"{text!r} is not a task list cursor") from None

    @classmethod
    def after(cls, task: Task) -> TaskCursor:
        return cls(task.run_at, task.task_id)


@dataclass(frozen=True, kw_only=True)
class TaskQuery:
    """Which tasks to list; every filter given must hold (they are ANDed).

    ``state`` is judged at ``now`` (the store's clock when omitted), as
    :func:`taskshed.models.task_state` does. ``due_after <= run_at < due_before``.
    Results come ordered by ``(run_at, task_id)``; ``after`` continues past a cursor.
    """

    group_id: str | None = None
    callback: str | None = None
    state: TaskState | None = None
    claimed_by: str | None = None
    due_before: datetime | None = None
    due_after: datetime | None = None
    now: datetime | None = None
    limit: int = 100
    after: TaskCursor | None = None

    def __post_init__(self) -> None:
        if self.state is not None and self.state not in TASK_STATES:
            raise InvalidTaskError(
                f"state must be one of {', '.join(TASK_STATES)}, not {self.state!r}"
            )
        if isinstance(self.limit, bool) or not isinstance(self.limit, int):
            raise InvalidTaskError(f"limit must be a whole number, not {self.limit!r}")
        if not 1 <= self.limit <= MAX_PAGE_SIZE:
            raise InvalidTaskError(f"limit must be between 1 and {MAX_PAGE_SIZE}")
        for name in ("due_before", "due_after", "now"):
            value = getattr(self, name)
            if value is not None:
                if not isinstance(value, datetime):
                    raise InvalidTaskError(f"{name} must be a datetime")
                object.__setattr__(self, name, to_utc(value))
        if self.after is not None and not isinstance(self.after, TaskCursor):
            raise InvalidTaskError("after must be a TaskCursor")

    def matches(self, task: Task, now: datetime) -> bool:
        """Whether ``task`` passes every filter but the cursor (the reference semantics)."""
        from taskshed.models import task_state

        if self.group_id is not None and task.group_id != self.group_id:
            return False
        if self.callback is not None and task.callback != self.callback:
            return False
        if self.claimed_by is not None and task.claimed_by != self.claimed_by:
            return False
        if self.due_before is not None and not task.run_at < self.due_before:
            return False
        if self.due_after is not None and not task.run_at >= self.due_after:
            return False
        return self.state is None or task_state(task, self.now or now) == self.state

    def is_after_cursor(self, task: Task) -> bool:
        if self.after is None:
            return True
        return (task.run_at, task.task_id) > (self.after.run_at, self.after.task_id)


@dataclass(frozen=True, slots=True)
class TaskPage:
    """One page of a listing; ``next_cursor`` is ``None`` on the last page."""

    tasks: list[Task] = field(default_factory=list)
    next_cursor: TaskCursor | None = None
