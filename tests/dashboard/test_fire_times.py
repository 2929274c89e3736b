"""The task page's upcoming fire times follow the schedule's own arithmetic."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from taskshed_dashboard.fire_times import upcoming_fire_times

from taskshed.models import Task

T0 = datetime(2030, 3, 28, 8, 0, tzinfo=UTC)


def test_a_one_off_task_fires_once() -> None:
    task = Task(callback="c", run_at=T0)
    assert upcoming_fire_times(task) == [T0]


def test_an_interval_task_advances_from_its_nominal_time_until_its_end() -> None:
    jittered = Task(
        callback="c",
        run_type="recurring",
        interval=timedelta(hours=1),
        run_at=T0 + timedelta(seconds=7),
        occurrence_at=T0,
        end_at=T0 + timedelta(hours=2, minutes=30),
        jitter=timedelta(seconds=10),
    )
    assert upcoming_fire_times(jittered) == [
        T0 + timedelta(seconds=7),
        T0 + timedelta(hours=1),
        T0 + timedelta(hours=2),
    ]


def test_a_cron_task_fires_on_its_zones_wall_clock_across_a_dst_change() -> None:
    # Europe/Paris moves to summer time on 2030-03-31: 09:00 local is 08:00 UTC, then 07:00.
    first = datetime(2030, 3, 29, 8, 0, tzinfo=UTC)
    task = Task(
        callback="c", run_type="cron", cron="0 9 * * *", timezone="Europe/Paris", run_at=first
    )
    assert upcoming_fire_times(task, count=4) == [
        first,
        datetime(2030, 3, 30, 8, 0, tzinfo=UTC),
        datetime(2030, 3, 31, 7, 0, tzinfo=UTC),
        datetime(2030, 4, 1, 7, 0, tzinfo=UTC),
    ]


def test_a_failed_task_shows_only_its_due_time() -> None:
    task = Task(
        callback="c",
        run_type="recurring",
        interval=timedelta(minutes=5),
        run_at=T0,
        failed_at=T0,
    )
    assert upcoming_fire_times(task) == [T0]
