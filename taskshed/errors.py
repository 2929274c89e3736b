"""Every exception taskshed raises on purpose, in one place."""

from __future__ import annotations


class TaskshedError(Exception):
    """Base class of taskshed's own errors."""


class TaskNotFoundError(TaskshedError, LookupError):
    """A task id named in an update does not exist in the datastore."""


class IncorrectCallbackNameError(TaskshedError, LookupError):
    """A task names a callback that the worker's callback map does not hold."""


class InvalidTaskError(TaskshedError, ValueError):
    """A task (or an id, interval or time given for one) can't be stored as it is."""


class SerializationError(TaskshedError, ValueError):
    """A task's kwargs can't be encoded (or decoded) by the configured serializer.

    ``task_id`` and ``key`` name the task and the top-level kwarg at fault.
    """

    def __init__(self, message: str, *, task_id: str | None = None, key: str | None = None):
        super().__init__(message)
        self.task_id = task_id
        self.key = key


class MalformedRecordError(TaskshedError, ValueError):
    """A record read from a datastore can't be turned back into a task."""

    def __init__(self, message: str, *, task_id: str | None = None):
        super().__init__(message)
        self.task_id = task_id


class DataStoreError(TaskshedError):
    """The datastore could not carry out an operation (server down, connection lost, ...)."""


class DataStoreNotStartedError(DataStoreError, RuntimeError):
    """A datastore method was called before ``start()`` (or after ``shutdown()``)."""


class SchemaVersionError(DataStoreError):
    """The datastore's schema is older (or newer) than this release needs."""


class ConfigurationError(TaskshedError, ValueError):
    """Configuration (a URL, a serializer name, a pyproject table) is invalid."""


class UnknownBackendError(ConfigurationError, LookupError):
    """No installed plugin provides the requested URL scheme or serializer name."""


class PluginLoadError(TaskshedError, ImportError):
    """A plugin failed to load while ``TASKSHED_STRICT_PLUGINS=1`` was set."""


class DuplicateBackendError(TaskshedError):
    """Two plugins claim the same URL scheme or serializer name."""
