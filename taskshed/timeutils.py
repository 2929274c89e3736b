"""Time arithmetic shared by every store and worker: UTC conversion, epoch units, recurrence."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: The latest instant a task may be scheduled for (the reference stores epoch
#: microseconds; every supported datastore can hold this).
MAX_RUN_AT = datetime(9999, 12, 31, tzinfo=UTC)
_MICROS = timedelta(microseconds=1)


def utcnow() -> datetime:
    """The current time as an aware UTC datetime."""
    return datetime.now(UTC)


def to_utc(dt: datetime) -> datetime:
    """``dt`` as an aware UTC datetime; a naive one is taken as local time."""
    return dt.astimezone(UTC)


def to_epoch_micros(dt: datetime) -> int:
    """Whole microseconds since the Unix epoch (the reference's SQL unit)."""
    return (to_utc(dt) - EPOCH) // _MICROS


def from_epoch_micros(value: int) -> datetime:
    return EPOCH + timedelta(microseconds=int(value))


def to_epoch_seconds(dt: datetime) -> float:
    """Seconds since the Unix epoch as a float (the reference's Redis unit)."""
    return to_epoch_micros(dt) / 1_000_000


def from_epoch_seconds(value: float) -> datetime:
    # Round through integer microseconds so that a float score read back from
    # Redis lands on the instant that was written.
    return EPOCH + timedelta(microseconds=round(float(value) * 1_000_000))


def next_run_at(
    run_at: datetime, interval: timedelta, *, coalesce: bool, now: datetime
) -> datetime:
    """The occurrence that follows ``run_at`` once it has fired at ``now``.

    Recurring tasks advance from their scheduled time, never from the moment
    they ran, so they do not drift. With ``coalesce`` a task that fell behind
    jumps to its first occurrence after ``now`` (the missed ones fire once, as a
    single run); without it the next occurrence is simply ``run_at + interval``
    and each missed occurrence fires in turn.
    """
    following = run_at + interval
    if coalesce and following <= now:
        missed = (now - run_at) // interval
        following = run_at + interval * (missed + 1)
    return following
