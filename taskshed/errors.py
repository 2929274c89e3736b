"""Every exception taskshed raises on purpose, in one place."""

from __future__ import annotations

from datetime import timedelta


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


class PermanentDataStoreError(DataStoreError):
    """The datastore refused for a reason that retrying won't fix.

    A wrong password, an unknown database, a missing driver or schema: stores
    raise it (from ``start()`` mostly) so that ``taskshed worker`` stops with
    one line at start-up instead of retrying forever. After a worker has once
    connected, every store error is retried as before.
    """


class SchemaVersionError(PermanentDataStoreError):
    """The datastore's schema is older (or newer) than this release needs."""


class ConfigurationError(TaskshedError, ValueError):
    """Configuration (a URL, a serializer name, a pyproject table) is invalid."""


class UnknownBackendError(ConfigurationError, LookupError):
    """No installed plugin provides the requested URL scheme or serializer name."""


class PluginLoadError(TaskshedError, ImportError):
    """A plugin failed to load while ``TASKSHED_STRICT_PLUGINS=1`` was set."""


class DuplicateBackendError(TaskshedError):
    """Two plugins claim the same URL scheme or serializer name."""


class Retry(TaskshedError):
    """Raised by a callback to ask for another attempt, after ``delay`` (default: the backoff).

    The attempt counts against the task's ``max_attempts``; when none is left the
    run fails as if the callback had raised any other exception.
    """

    def __init__(self, message: str = "", *, delay: float | timedelta | None = None) -> None:
        super().__init__(message or "the callback asked for a retry")
        seconds: float | None = None
        if isinstance(delay, timedelta):
            seconds = delay.total_seconds()
        elif isinstance(delay, (int, float)) and not isinstance(delay, bool):
            seconds = float(delay)
        elif delay is not None:
            raise TypeError(f"Retry(delay=...) takes seconds or a timedelta, not {delay!r}")
        if seconds is not None and not 0 <= seconds < float("inf"):
            raise ValueError("Retry(delay=...) must be a finite duration >= 0")
        #: Seconds until the next attempt, or ``None`` for the task's backoff.
        self.delay = seconds


class Abort(TaskshedError):
    """Raised by a callback to give up at once: no more attempts of this occurrence.

    A one-off task is kept as failed; a recurring or cron task records the error
    and moves on to its next occurrence.
    """


class TaskTimeoutError(TaskshedError, TimeoutError):
    """A callback ran longer than its task's ``timeout`` and was cancelled."""
