"""TaskShed 0.10's module path of the polling worker; it lives in :mod:`taskshed.workers.polling`."""

from taskshed.datastores.base import DataStore
from taskshed.workers.base import BaseWorker, Callback
from taskshed.workers.polling import PollingWorker

__all__ = ["BaseWorker", "Callback", "DataStore", "PollingWorker"]
