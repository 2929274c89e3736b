"""What a worker holds while it runs a task: the claim, and how it hands it back."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from taskshed.models import Task

#: How long a record that can't be decoded, or names a callback no worker here
#: knows, is held aside before it is offered again.
SET_ASIDE_FOR = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class Claim:
    """A task taken by one worker until ``lease_until``.

    ``token`` is unique to this acquisition; every later operation on the claim
    (complete, extend, release) is fenced by it, so a worker whose lease expired
    and was taken over can't disturb the new holder.
    """

    task: Task
    token: str
    lease_until: datetime

    @property
    def task_id(self) -> str:
        return self.task.task_id


@dataclass(frozen=True, slots=True)
class Completion:
    """The outcome of running a claimed task.

    ``next_run_at`` is ``None`` to remove the task (a one-off that ran), or the
    next occurrence of a recurring task.
    """

    task_id: str
    token: str
    next_run_at: datetime | None
