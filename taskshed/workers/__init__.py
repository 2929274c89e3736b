"""Workers: they claim due tasks from a datastore and run their callbacks."""

from taskshed.workers.base import BaseWorker, Callback
from taskshed.workers.event_driven import EventDrivenWorker
from taskshed.workers.polling import PollingWorker

__all__ = ["BaseWorker", "Callback", "EventDrivenWorker", "PollingWorker"]
