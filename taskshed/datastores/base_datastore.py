"""TaskShed 0.10's module path of the datastore contract; it lives in :mod:`taskshed.datastores.base`."""

from taskshed.datastores.base import DataStore
from taskshed.models import Task, TaskExecutionTime

__all__ = ["DataStore", "Task", "TaskExecutionTime"]
