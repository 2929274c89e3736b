"""Occurrence arithmetic shared by every store and worker: what runs next, and when.

Plain values in, plain values out (no Task here): the worker calls these with a
task's fields. A recurring task always advances from its NOMINAL time (the
schedule's, kept in ``occurrence_at`` when jitter or a retry moved ``run_at``),
never from when it ran, so it does not drift.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from taskshed.cron import CronSchedule
from taskshed.errors import InvalidTaskError
from taskshed.timeutils import next_run_at, to_utc

_MICROSECOND = timedelta(microseconds=1)
_random = random.Random()


def next_interval_occurrence(
    nominal: datetime, interval: timedelta, *, coalesce: bool, now: datetime
) -> datetime:
    """The occurrence after ``nominal`` of an interval schedule that ran at ``now``.

    Without ``coalesce`` it is ``nominal + interval`` (every missed occurrence runs
    in turn); with it, a task that fell behind jumps to its first occurrence after
    ``now`` (the missed ones ran once, as the run that just finished).
    """
    return next_run_at(nominal, interval, coalesce=coalesce, now=now)


def next_cron_occurrence(
    nominal: datetime, schedule: CronSchedule, *, coalesce: bool, now: datetime
) -> datetime | None:
    """The fire time after ``nominal`` of a cron schedule that ran at ``now``, or None.

    Without ``coalesce`` it is the fire time after ``nominal``; with it, when that
    one is already due (the run that just finished was the one catch-up run), the
    first fire time after ``now``. None when the schedule fires no more.
    """
    following = schedule.next_after(nominal)
    if coalesce and following is not None and following <= to_utc(now):
        return schedule.next_after(now)
    return following


def apply_end(next_at: datetime | None, end_at: datetime | None) -> datetime | None:
    """``next_at``, or None when it is later than ``end_at`` (no run after the end)."""
    if next_at is None or end_at is None:
        return next_at
    return next_at if to_utc(next_at) <= to_utc(end_at) else None


def jittered(
    nominal: datetime, jitter: timedelta | None, rng: random.Random | None = None
) -> datetime:
    """``nominal`` plus a uniform random delay in ``[0, jitter]`` (whole microseconds).

    The result is where ``run_at`` goes; the nominal time stays the base of the
    next occurrence (the worker keeps it in ``occurrence_at``).
    """
    if jitter is None or not jitter:
        return nominal
    if jitter < timedelta(0):
        raise InvalidTaskError(f"jitter must not be negative, got {jitter}")
    delay = (rng or _random).randint(0, jitter // _MICROSECOND)
    return nominal + delay * _MICROSECOND
