"""TaskShed 0.10's module path of the in-memory store; it lives in :mod:`taskshed.datastores.memory`."""

from taskshed.datastores.base import DataStore
from taskshed.datastores.memory import InMemoryDataStore
from taskshed.errors import TaskNotFoundError
from taskshed.models import Task, TaskExecutionTime

__all__ = ["DataStore", "InMemoryDataStore", "Task", "TaskExecutionTime", "TaskNotFoundError"]
