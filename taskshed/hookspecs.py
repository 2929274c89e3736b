"""The hooks a taskshed plugin may implement (mark implementations with ``taskshed.hookimpl``).

None of these hooks is first-result: the host calls every implementation and
collects the answers into a registry keyed by name, so which plugin serves a
URL scheme never depends on the order plugins were registered in.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import TYPE_CHECKING

from taskshed.backends import DataStoreBackend, NotifierBackend, SerializerBackend
from taskshed.markers import hookspec

if TYPE_CHECKING:
    from taskshed.events import ScheduleEvent, StoreErrorEvent, TaskEvent, WorkerEvent
    from taskshed.workers.base import BaseWorker

# ---------------------------------------------------------------- discovery


@hookspec
def taskshed_datastore_backends() -> Sequence[DataStoreBackend]:
    """Return the datastores this plugin provides.

    :return: One :class:`~taskshed.backends.DataStoreBackend` per store, each
        naming the URL schemes it serves. Two plugins claiming one scheme is a
        :class:`~taskshed.errors.DuplicateBackendError` when that scheme is used.
    """
    raise NotImplementedError


@hookspec
def taskshed_serializers() -> Sequence[SerializerBackend]:
    """Return the serializers this plugin provides, each under a unique name."""
    raise NotImplementedError


@hookspec
def taskshed_notifier_backends() -> Sequence[NotifierBackend]:
    """Return the notifiers this plugin provides, each naming the URL schemes it serves.

    A notifier is chosen by URL (``TASKSHED_NOTIFIER``, ``[tool.taskshed] notifier``,
    ``--notifier``); without one a worker uses its store's own
    (:meth:`~taskshed.datastores.base.DataStore.create_notifier`), if any.
    """
    raise NotImplementedError


# ---------------------------------------------------------------- command line


@hookspec
def taskshed_add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add sub-commands to the ``taskshed`` command line.

    :param subparsers: The ``add_subparsers()`` object of the top-level parser.
        Each command sets ``func=`` (``callable(args) -> int``) with
        ``set_defaults``.
    """


@hookspec
def taskshed_worker_options(parser: argparse.ArgumentParser) -> None:
    """Add options to ``taskshed worker`` (``--metrics-port``, say).

    :param parser: The ``taskshed worker`` sub-command's parser. Use option
        names unlikely to clash with the core's or other plugins' (a duplicate
        is an ``argparse`` error at start-up).
    """


@hookspec
def taskshed_worker_starting(worker: BaseWorker, args: argparse.Namespace) -> None:
    """``taskshed worker`` built ``worker`` and is about to start it.

    Called once, on the worker's event loop thread, after the first connection
    to the store succeeded. Start what the options of
    :func:`taskshed_worker_options` ask for (a metrics endpoint on a daemon
    thread, say); it lives as long as the process. Raise
    :class:`~taskshed.errors.ConfigurationError` for a bad value: the command
    then exits with that one line.

    :param worker: The worker, not yet started (``worker.subscribe`` works).
    :param args: Every parsed option of the command, the plugins' included.
    """


# ---------------------------------------------------------------- events
#
# Observers: each hook receives one event object and returns nothing. They are
# called from the event bus's thread (never the worker's loop), in emission
# order; a raising implementation is logged once and skipped.


@hookspec
def taskshed_task_claimed(event: TaskEvent) -> None:
    """A worker claimed an occurrence (it may start a little later: prefetch, free slot)."""


@hookspec
def taskshed_task_started(event: TaskEvent) -> None:
    """A callback started; ``event.lag`` is how late after ``due_at``."""


@hookspec
def taskshed_task_succeeded(event: TaskEvent) -> None:
    """A callback returned; ``event.duration`` is how long it ran."""


@hookspec
def taskshed_task_failed(event: TaskEvent) -> None:
    """A run failed with ``event.error`` and no attempt is left for this occurrence.

    A one-off task is now kept as failed; a recurring or cron task moved on to
    ``event.next_run_at``.
    """


@hookspec
def taskshed_task_retried(event: TaskEvent) -> None:
    """A run failed with ``event.error``; the occurrence runs again at ``event.next_run_at``."""


@hookspec
def taskshed_task_timed_out(event: TaskEvent) -> None:
    """A callback exceeded its timeout and was cancelled (a retried or failed event follows)."""


@hookspec
def taskshed_task_lease_lost(event: TaskEvent) -> None:
    """A worker's claim was lost while it held it (taken over, or the task changed)."""


@hookspec
def taskshed_task_released(event: TaskEvent) -> None:
    """A claim was handed back unrun (shutdown, or the task changed before its start)."""


@hookspec
def taskshed_task_set_aside(event: TaskEvent) -> None:
    """A claimed task could not be run here (unknown callback, kwargs that don't fit)."""


@hookspec
def taskshed_tasks_added(event: ScheduleEvent) -> None:
    """A scheduler stored tasks (``event.tasks``)."""


@hookspec
def taskshed_tasks_changed(event: ScheduleEvent) -> None:
    """A scheduler re-timed, paused, resumed or retried tasks (``event.change`` says which)."""


@hookspec
def taskshed_tasks_removed(event: ScheduleEvent) -> None:
    """A scheduler removed tasks (by ids, or a whole ``event.group_id``)."""


@hookspec
def taskshed_worker_started(event: WorkerEvent) -> None:
    """A worker started (``event.info`` is what it registers in the store)."""


@hookspec
def taskshed_worker_stopped(event: WorkerEvent) -> None:
    """A worker finished shutting down."""


@hookspec
def taskshed_store_error(event: StoreErrorEvent) -> None:
    """A worker's datastore call failed; the worker retries with backoff."""
