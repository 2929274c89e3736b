from datetime import datetime, timedelta, timezone

import pytest

from taskshed.models import Task, TaskExecutionTime


def test_run_at_is_converted_to_utc():
    tz = timezone(timedelta(hours=5, minutes=30))
    task = Task(callback="cb", run_at=datetime(2030, 1, 1, 12, 0, tzinfo=tz))
    assert task.run_at == datetime(2030, 1, 1, 6, 30, tzinfo=timezone.utc)
    assert task.run_at.tzinfo == timezone.utc


def test_naive_run_at_means_local_time(far_from_utc):
    naive = datetime(2030, 6, 1, 12, 0)
    task = Task(callback="cb", run_at=naive)
    # Asia/Kolkata is UTC+05:30 all year.
    assert task.run_at == datetime(2030, 6, 1, 6, 30, tzinfo=timezone.utc)


def test_defaults_match_the_reference():
    task = Task(callback="cb", run_at=datetime.now(timezone.utc))
    assert task.run_type == "once"
    assert len(task.task_id) == 32
    assert task.kwargs == {}
    assert task.interval is None and task.group_id is None
    assert task.paused is False and task.coalesce is True and task.paused_at is None
    assert task.interval_seconds() is None


@pytest.mark.parametrize("interval", [None, timedelta(0), timedelta(seconds=-1)])
def test_recurring_task_needs_a_positive_interval(interval):
    with pytest.raises(ValueError):
        Task(
            callback="cb",
            run_at=datetime.now(timezone.utc),
            run_type="recurring",
            interval=interval,
        )


def test_task_created_paused_is_stamped():
    task = Task(callback="cb", run_at=datetime.now(timezone.utc), paused=True)
    assert task.paused_at is not None and task.paused_at.tzinfo == timezone.utc


def test_interval_seconds():
    task = Task(
        callback="cb",
        run_at=datetime.now(timezone.utc),
        run_type="recurring",
        interval=timedelta(minutes=1, milliseconds=500),
    )
    assert task.interval_seconds() == 60.5


def test_task_execution_time_is_utc():
    tz = timezone(timedelta(hours=-3))
    item = TaskExecutionTime(task_id="a", run_at=datetime(2030, 1, 1, tzinfo=tz))
    assert item.run_at == datetime(2030, 1, 1, 3, tzinfo=timezone.utc)


def test_keyword_only():
    with pytest.raises(TypeError):
        Task("cb", datetime.now(timezone.utc))  # type: ignore[misc]
