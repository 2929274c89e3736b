"""What a worker holds while it runs a task: the claim, and how it hands it back."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any

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
    """The outcome of running a claimed task, applied only while ``token`` still holds it.

    - ``failed_at`` set: the task is kept as failed (never claimed again until
      retried); ``attempts``, ``last_error`` and ``last_run_at`` are recorded.
    - else ``next_run_at is None``: the task is deleted (a one-off that ran, or
      a schedule that has ended).
    - else the task moves to ``next_run_at``, unclaimed, with ``attempts``,
      ``last_error``, ``last_run_at`` and ``occurrence_at`` (the nominal time of
      that occurrence when ``next_run_at`` is off it: a retry or jitter) recorded.

    The three-argument form ``Completion(task_id, token, next_run_at)`` records
    a clean success.
    """

    task_id: str
    token: str
    next_run_at: datetime | None
    attempts: int = 0
    last_error: str | None = None
    last_run_at: datetime | None = None
    failed_at: datetime | None = None
    occurrence_at: datetime | None = None

    @property
    def removes(self) -> bool:
        """Whether applying this completion deletes the task."""
        return self.failed_at is None and self.next_run_at is None


# A worker makes a Claim and a Completion for every run. The __init__ a frozen dataclass
# is given calls object.__setattr__ once per field; setting each slot through its own
# descriptor does the same in about half the time. Both classes stay frozen (assigning an
# attribute raises), and the signatures, defaults, repr, equality and hash are the
# dataclass's own (tests/core/test_claims.py compares the two).
def _slot_setters(cls: type) -> tuple[Any, ...]:
    """Each field's slot descriptor ``__set__``, in the order of the dataclass's fields."""
    return tuple(cls.__dict__[field.name].__set__ for field in fields(cls))


_claim_slots = _slot_setters(Claim)


def _claim_init(self: Claim, task: Task, token: str, lease_until: datetime) -> None:
    set_task, set_token, set_lease = _claim_slots
    set_task(self, task)
    set_token(self, token)
    set_lease(self, lease_until)


_completion_slots = _slot_setters(Completion)


def _completion_init(
    self: Completion,
    task_id: str,
    token: str,
    next_run_at: datetime | None,
    attempts: int = 0,
    last_error: str | None = None,
    last_run_at: datetime | None = None,
    failed_at: datetime | None = None,
    occurrence_at: datetime | None = None,
) -> None:
    a, b, c, d, e, f, g, h = _completion_slots
    a(self, task_id)
    b(self, token)
    c(self, next_run_at)
    d(self, attempts)
    e(self, last_error)
    f(self, last_run_at)
    g(self, failed_at)
    h(self, occurrence_at)


setattr(Claim, "__init__", _claim_init)  # noqa: B010 - mypy refuses a direct assignment
setattr(Completion, "__init__", _completion_init)  # noqa: B010
