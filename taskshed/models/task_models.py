"""TaskShed 0.10's module path of the task models; they live in :mod:`taskshed.models`."""

from taskshed.models import Task, TaskExecutionTime

#: The JSON separators 0.10 stored kwargs with (compact: no spaces).
COMPACT_JSON_SEPARATORS = (",", ":")

__all__ = ["COMPACT_JSON_SEPARATORS", "Task", "TaskExecutionTime"]
