"""The upcoming fire times of a task, as its schedule plans them (for the task page)."""

from __future__ import annotations

from datetime import datetime

from taskshed.cron import CronSchedule
from taskshed.errors import InvalidTaskError
from taskshed.models import Task
from taskshed.schedule import apply_end, next_cron_occurrence, next_interval_occurrence


def upcoming_fire_times(task: Task, count: int = 5) -> list[datetime]:
    """``run_at``, then the schedule's next ``count - 1`` occurrences (none after ``end_at``).

    The first entry is when the task is due now (jitter and retries included);
    the rest are the schedule's nominal times, counted from the current
    occurrence the way a worker advances them when every run happens
    (coalescing only changes what happens after a worker falls behind).
    A one-off or failed task has just its ``run_at``.
    """
    times = [task.run_at]
    if task.failed_at is not None or task.run_type == "once":
        return times
    nominal = task.scheduled_for
    schedule = None
    if task.run_type == "cron" and task.cron:
        try:
            schedule = CronSchedule.parse(task.cron, task.timezone)
        except InvalidTaskError:
            return times
    while len(times) < count:
        following: datetime | None
        if schedule is not None:
            following = next_cron_occurrence(nominal, schedule, coalesce=False, now=nominal)
        elif task.interval:
            following = next_interval_occurrence(
                nominal, task.interval, coalesce=False, now=nominal
            )
        else:
            break
        if following is None or (following := apply_end(following, task.end_at)) is None:
            break
        times.append(following)
        nominal = following
    return times
