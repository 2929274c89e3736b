"""TaskShed 0.10's module path of the scheduler; it lives in :mod:`taskshed.schedulers`."""

from taskshed.datastores.base import DataStore
from taskshed.models import Task, TaskExecutionTime
from taskshed.schedulers import AsyncScheduler
from taskshed.workers.base import Callback
from taskshed.workers.event_driven import EventDrivenWorker

__all__ = [
    "AsyncScheduler",
    "Callback",
    "DataStore",
    "EventDrivenWorker",
    "Task",
    "TaskExecutionTime",
]
