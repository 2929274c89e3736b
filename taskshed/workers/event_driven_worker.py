"""TaskShed 0.10's module path of the event-driven worker; it lives in :mod:`taskshed.workers.event_driven`."""

from taskshed.datastores.base import DataStore
from taskshed.workers.base import BaseWorker, Callback
from taskshed.workers.event_driven import EventDrivenWorker

__all__ = ["BaseWorker", "Callback", "DataStore", "EventDrivenWorker"]
