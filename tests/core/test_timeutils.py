from datetime import datetime, timedelta, timezone

from taskshed.timeutils import (
    from_epoch_micros,
    from_epoch_seconds,
    next_run_at,
    to_epoch_micros,
    to_epoch_seconds,
    to_utc,
)

T0 = datetime(2030, 1, 1, tzinfo=timezone.utc)
MINUTE = timedelta(minutes=1)


def test_epoch_micros_round_trip_exactly():
    dt = datetime(2031, 5, 6, 7, 8, 9, 123456, tzinfo=timezone.utc)
    assert from_epoch_micros(to_epoch_micros(dt)) == dt


def test_a_naive_instant_given_to_a_store_means_local_time(far_from_utc):
    # What the stores do with the `now`, `lease_until` and `dt` they are given.
    naive = datetime(2031, 5, 6, 12, 0)
    in_kolkata = datetime(2031, 5, 6, 6, 30, tzinfo=timezone.utc)  # UTC+05:30 all year
    assert to_utc(naive) == in_kolkata
    assert to_epoch_micros(naive) == to_epoch_micros(in_kolkata)
    assert to_epoch_seconds(naive) == to_epoch_seconds(in_kolkata)


def test_epoch_seconds_round_trip_to_the_microsecond_for_current_dates():
    dt = datetime(2031, 5, 6, 7, 8, 9, 123456, tzinfo=timezone.utc)
    assert from_epoch_seconds(to_epoch_seconds(dt)) == dt


def test_on_time_recurrence_advances_by_one_interval():
    assert next_run_at(T0, MINUTE, coalesce=True, now=T0 + timedelta(seconds=1)) == T0 + MINUTE


def test_coalesce_jumps_to_the_first_occurrence_after_now():
    now = T0 + timedelta(minutes=10, seconds=30)
    assert next_run_at(T0, MINUTE, coalesce=True, now=now) == T0 + timedelta(minutes=11)


def test_coalesce_at_an_exact_occurrence_moves_past_it():
    now = T0 + timedelta(minutes=3)
    assert next_run_at(T0, MINUTE, coalesce=True, now=now) == T0 + timedelta(minutes=4)


def test_without_coalesce_each_missed_occurrence_follows():
    now = T0 + timedelta(minutes=10, seconds=30)
    assert next_run_at(T0, MINUTE, coalesce=False, now=now) == T0 + MINUTE


def test_recurrence_does_not_drift_with_late_runs():
    run_at = T0
    for late in (0.9, 0.5, 0.99, 0.1):
        run_at = next_run_at(run_at, MINUTE, coalesce=True, now=run_at + timedelta(seconds=late))
    assert run_at == T0 + 4 * MINUTE
