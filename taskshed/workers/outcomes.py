"""From how a run ended to what the store records: retries, failures, next occurrences."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from taskshed.claims import Claim, Completion
from taskshed.events import TaskEventKind
from taskshed.models import Task, bounded_error
from taskshed.schedule import (
    apply_end,
    jittered,
    next_cron_occurrence,
    next_interval_occurrence,
)
from taskshed.workers.backoff import exponential_delay
from taskshed.workers.options import WorkerOptions
from taskshed.workers.running import Outcome, describe_error


@dataclass(slots=True)
class Settlement:
    """What to write for one finished run, and what to report about it.

    Not frozen: one is made per run, and a frozen dataclass costs more to make.
    """

    completion: Completion
    events: tuple[TaskEventKind, ...]
    next_run_at: datetime | None
    attempt: int


def next_occurrence(task: Task, now: datetime) -> tuple[datetime, datetime | None] | None:
    """``(run_at, occurrence_at)`` of the occurrence after the current one, or ``None`` if none.

    Computed from the schedule's own time of the current occurrence (so jitter
    and retries never make a schedule drift); ``occurrence_at`` is set when
    jitter moved ``run_at`` off it.
    """
    nominal = task.scheduled_for
    following: datetime | None
    if task.run_type == "recurring" and task.interval is not None:
        following = next_interval_occurrence(
            nominal, task.interval, coalesce=task.coalesce, now=now
        )
    elif task.run_type == "cron" and task.cron:
        from taskshed.cron import CronSchedule

        schedule = CronSchedule.parse(task.cron, task.timezone)
        following = next_cron_occurrence(nominal, schedule, coalesce=task.coalesce, now=now)
    else:
        return None
    following = apply_end(following, task.end_at) if following is not None else None
    if following is None:
        return None
    run_at = jittered(following, task.jitter)
    return run_at, (following if run_at != following else None)


_SUCCEEDED: tuple[TaskEventKind, ...] = ("succeeded",)


def finished_once(claim: Claim, started_at: datetime) -> Completion:
    """The completion of a run after which the task is done for good: the store deletes it.

    A one-off that succeeded, or a schedule past its last occurrence; only the
    fields that say so are set.
    """
    return Completion(claim.task.task_id, claim.token, None, last_run_at=started_at)


def settle(
    claim: Claim,
    outcome: Outcome,
    *,
    started_at: datetime,
    now: datetime,
    options: WorkerOptions,
    rng: random.Random | None = None,
) -> Settlement:
    """The completion of ``claim`` after ``outcome``: success, a retry, a failure kept or moved on."""
    task = claim.task
    attempt = task.attempts + 1
    if outcome.kind == "succeeded":
        following = next_occurrence(task, now) if task.run_type != "once" else None
        if following is None:
            completion = finished_once(claim, started_at)
        else:
            completion = Completion(
                task.task_id,
                claim.token,
                following[0],
                attempts=0,
                last_error=None,
                last_run_at=started_at,
                occurrence_at=following[1],
            )
        return Settlement(completion, _SUCCEEDED, completion.next_run_at, attempt)

    assert outcome.error is not None
    error = bounded_error(describe_error(outcome.error))
    lead: tuple[TaskEventKind, ...] = ("timed_out",) if outcome.kind == "timed_out" else ()
    max_attempts = task.max_attempts or options.max_attempts
    if outcome.kind != "abort" and attempt < max_attempts:
        if outcome.delay is not None:
            delay = outcome.delay
        else:
            base = (task.retry_backoff or options.retry_backoff).total_seconds()
            cap = max(base, options.retry_backoff_max.total_seconds())
            delay = exponential_delay(base, cap, attempt, rng)
        retry_at = now + timedelta(seconds=delay)
        completion = Completion(
            task.task_id,
            claim.token,
            retry_at,
            attempts=attempt,
            last_error=error,
            last_run_at=started_at,
            occurrence_at=task.scheduled_for,
        )
        return Settlement(completion, (*lead, "retried"), retry_at, attempt)

    following = next_occurrence(task, now)
    if task.run_type == "once" or (following is None and task.end_at is None):
        # A one-off that used its attempts is kept as failed, for a person to see and retry.
        completion = Completion(
            task.task_id,
            claim.token,
            None,
            attempts=attempt,
            last_error=error,
            last_run_at=started_at,
            failed_at=now,
        )
        return Settlement(completion, (*lead, "failed"), None, attempt)
    # A schedule keeps going (or ends at end_at); the error stays on record.
    completion = Completion(
        task.task_id,
        claim.token,
        following[0] if following else None,
        attempts=0,
        last_error=error,
        last_run_at=started_at,
        occurrence_at=following[1] if following else None,
    )
    return Settlement(completion, (*lead, "failed"), completion.next_run_at, attempt)
