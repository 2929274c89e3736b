"""TaskShed 0.10's module path of the worker base class; it lives in :mod:`taskshed.workers.base`."""

from taskshed.datastores.base import DataStore
from taskshed.models import Task
from taskshed.workers.base import BaseWorker, Callback

__all__ = ["BaseWorker", "Callback", "DataStore", "Task"]
