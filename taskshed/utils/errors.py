"""TaskShed 0.10 import path of the errors; the definitions live in :mod:`taskshed.errors`."""

from taskshed.errors import IncorrectCallbackNameError, TaskNotFoundError

__all__ = ["IncorrectCallbackNameError", "TaskNotFoundError"]
