"""What runs next: interval and cron occurrences, coalescing, end_at and jitter."""

from __future__ import annotations

import ast
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import taskshed.cron
import taskshed.schedule
from taskshed.cron import CronSchedule
from taskshed.errors import InvalidTaskError
from taskshed.schedule import (
    apply_end,
    jittered,
    next_cron_occurrence,
    next_interval_occurrence,
)

T0 = datetime(2027, 1, 1, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
EVERY_MINUTE = CronSchedule.parse("* * * * *")


def berlin(text: str) -> datetime:
    return datetime.fromisoformat(text)


# --- interval ---------------------------------------------------------------------------


def test_interval_on_time_advances_by_one_interval():
    now = T0 + timedelta(seconds=1)
    assert next_interval_occurrence(T0, MINUTE, coalesce=True, now=now) == T0 + MINUTE
    assert next_interval_occurrence(T0, MINUTE, coalesce=False, now=now) == T0 + MINUTE


def test_interval_behind_with_coalesce_jumps_past_now():
    now = T0 + timedelta(minutes=10, seconds=30)
    assert next_interval_occurrence(T0, MINUTE, coalesce=True, now=now) == T0 + 11 * MINUTE


def test_interval_behind_without_coalesce_runs_every_missed_occurrence():
    now = T0 + timedelta(minutes=10, seconds=30)
    assert next_interval_occurrence(T0, MINUTE, coalesce=False, now=now) == T0 + MINUTE


# --- cron -------------------------------------------------------------------------------


def test_cron_on_time_is_the_fire_time_after_the_nominal_one():
    now = T0 + timedelta(seconds=2)
    for coalesce in (True, False):
        assert next_cron_occurrence(T0, EVERY_MINUTE, coalesce=coalesce, now=now) == T0 + MINUTE


def test_cron_behind_without_coalesce_runs_every_missed_fire_time():
    now = T0 + timedelta(hours=3, seconds=5)
    assert next_cron_occurrence(T0, EVERY_MINUTE, coalesce=False, now=now) == T0 + MINUTE


def test_cron_behind_with_coalesce_runs_once_then_the_first_fire_time_after_now():
    now = T0 + timedelta(hours=3, seconds=5)
    expected = T0 + timedelta(hours=3, minutes=1)
    assert next_cron_occurrence(T0, EVERY_MINUTE, coalesce=True, now=now) == expected


def test_cron_coalesce_when_now_is_exactly_a_fire_time_moves_past_it():
    now = T0 + timedelta(minutes=5)
    expected = T0 + timedelta(minutes=6)
    assert next_cron_occurrence(T0, EVERY_MINUTE, coalesce=True, now=now) == expected


def test_cron_coalesce_across_the_repeated_hour_does_not_run_the_second_pass():
    schedule = CronSchedule.parse("*/30 * * * *", "Europe/Berlin")
    nominal = berlin("2027-10-31T02:30+02:00")
    now = berlin("2027-10-31T02:40+01:00")  # the worker was down for an hour and ten minutes
    # The fire time after the nominal one (03:00 CET) is not due yet: it is next.
    expected = berlin("2027-10-31T03:00+01:00")
    assert next_cron_occurrence(nominal, schedule, coalesce=True, now=now) == expected
    assert next_cron_occurrence(nominal, schedule, coalesce=False, now=now) == expected


def test_cron_coalesce_after_downtime_over_the_gap():
    schedule = CronSchedule.parse("*/30 * * * *", "Europe/Berlin")
    nominal = berlin("2027-03-28T01:30+01:00")
    now = berlin("2027-03-28T03:10+02:00")
    assert next_cron_occurrence(nominal, schedule, coalesce=False, now=now) == berlin(
        "2027-03-28T03:00+02:00"
    )
    assert next_cron_occurrence(nominal, schedule, coalesce=True, now=now) == berlin(
        "2027-03-28T03:30+02:00"
    )


def test_cron_coalesce_when_the_following_fire_time_is_exactly_now_moves_past_it():
    now = T0 + MINUTE
    assert next_cron_occurrence(T0, EVERY_MINUTE, coalesce=True, now=now) == T0 + 2 * MINUTE
    assert next_cron_occurrence(T0, EVERY_MINUTE, coalesce=False, now=now) == T0 + MINUTE


def test_cron_with_no_further_fire_time_is_none():
    schedule = CronSchedule.parse("0 0 1 1 *")
    nominal = datetime(9999, 1, 1, tzinfo=UTC)
    assert next_cron_occurrence(nominal, schedule, coalesce=False, now=nominal) is None
    assert next_cron_occurrence(nominal, schedule, coalesce=True, now=nominal) is None


def test_cron_coalesce_takes_a_naive_now_as_local_time():
    now = (T0 + timedelta(hours=3, seconds=5)).astimezone().replace(tzinfo=None)
    expected = T0 + timedelta(hours=3, minutes=1)
    assert next_cron_occurrence(T0, EVERY_MINUTE, coalesce=True, now=now) == expected


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(["*/7 * * * *", "0 */3 * * *", "30 2 * * *", "15 */10 * * * *"]),
    st.sampled_from(["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe"]),
    st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2029, 1, 1)),
    st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=3)),
)
def test_cron_occurrences_are_fire_times_and_coalesced_ones_are_not_due(
    expression, zone, nominal, downtime
):
    schedule = CronSchedule.parse(expression, zone)
    nominal = nominal.replace(tzinfo=UTC)
    now = nominal + downtime
    following = schedule.next_after(nominal)
    assert next_cron_occurrence(nominal, schedule, coalesce=False, now=now) == following
    coalesced = next_cron_occurrence(nominal, schedule, coalesce=True, now=now)
    assert coalesced is not None and following is not None
    assert coalesced >= following
    if following > now:
        assert coalesced == following
    else:
        assert coalesced > now
        assert coalesced == schedule.next_after(now)


# --- end_at -----------------------------------------------------------------------------


def test_end_at_keeps_occurrences_up_to_and_including_it():
    assert apply_end(T0, T0 + MINUTE) == T0
    assert apply_end(T0, T0) == T0
    assert apply_end(T0 + MINUTE, T0) is None


def test_without_end_at_or_next_time_nothing_changes():
    assert apply_end(T0, None) == T0
    assert apply_end(None, T0) is None
    assert apply_end(None, None) is None


def test_end_at_compares_instants_not_offsets():
    end_at = berlin("2027-01-01T01:00+01:00")  # == T0
    assert apply_end(T0, end_at) == T0
    assert apply_end(T0 + timedelta(microseconds=1), end_at) is None
    naive_local_end = T0.astimezone().replace(tzinfo=None)
    assert apply_end(T0, naive_local_end) == T0
    assert apply_end(T0 + timedelta(microseconds=1), naive_local_end) is None


# --- jitter -----------------------------------------------------------------------------


def test_no_jitter_keeps_the_nominal_time():
    assert jittered(T0, None) == T0
    assert jittered(T0, timedelta(0)) == T0


def test_jitter_is_spread_over_the_whole_range_and_stays_inside_it():
    rng = random.Random(1234)
    jitter = timedelta(seconds=10)
    delays = [jittered(T0, jitter, rng) - T0 for _ in range(2000)]
    assert min(delays) >= timedelta(0)
    assert max(delays) <= jitter
    assert min(delays) < timedelta(seconds=1)
    assert max(delays) > timedelta(seconds=9)
    below_half = sum(delay < jitter / 2 for delay in delays)
    assert 850 < below_half < 1150


class _Extreme(random.Random):
    """Returns the top of every randint range."""

    def randint(self, a: int, b: int) -> int:
        return b


class _Lowest(random.Random):
    """Returns the bottom of every randint range."""

    def randint(self, a: int, b: int) -> int:
        return a


def test_jitter_may_reach_both_bounds_to_the_microsecond():
    jitter = timedelta(seconds=3, microseconds=7)
    assert jittered(T0, jitter, _Extreme()) == T0 + jitter
    assert jittered(T0, jitter, _Lowest()) == T0


def test_jitter_is_seeded_by_the_rng_given():
    jitter = timedelta(minutes=5)
    first = [jittered(T0, jitter, random.Random(7)) for _ in range(3)]
    assert first == [jittered(T0, jitter, random.Random(7)) for _ in range(3)]


def test_jitter_without_an_rng_still_varies():
    jitter = timedelta(hours=1)
    assert len({jittered(T0, jitter) for _ in range(20)}) > 1


def test_negative_jitter_is_refused():
    with pytest.raises(InvalidTaskError, match="jitter"):
        jittered(T0, timedelta(seconds=-1))


@pytest.mark.parametrize("module", [taskshed.cron, taskshed.schedule])
def test_the_schedule_modules_do_not_import_the_task_model(module):
    # taskshed.models imports them: they take plain values, so there is no cycle.
    tree = ast.parse(Path(module.__file__).read_text())
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    imported |= {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    assert not {name for name in imported if name and name.startswith("taskshed.models")}
