"""What happens to tasks, as reports for observers: event objects and the bus that delivers them.

Workers and schedulers *emit* events; the :class:`EventBus` hands them to
plugin hooks (``taskshed_task_started`` and friends, see
:mod:`taskshed.hookspecs`) and to in-process subscribers on a thread of its
own, in order, off the hot path. An observer that is slow delays only other
observers; one that raises is logged (once per observer) and never changes
what happens to a task.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from taskshed.models import Task
from taskshed.worker_info import WorkerInfo

log = logging.getLogger("taskshed.events")

TaskEventKind = Literal[
    "claimed",
    "started",
    "succeeded",
    "failed",
    "retried",
    "timed_out",
    "lease_lost",
    "released",
    "set_aside",
]
TASK_EVENT_KINDS: tuple[TaskEventKind, ...] = (
    "claimed",
    "started",
    "succeeded",
    "failed",
    "retried",
    "timed_out",
    "lease_lost",
    "released",
    "set_aside",
)
ScheduleEventKind = Literal["added", "changed", "removed"]
WorkerEventKind = Literal["started", "stopped"]


@dataclass(frozen=True, slots=True)
class TaskEvent:
    """Something that happened to one claimed occurrence of a task, in one worker.

    Times are the store's clock. ``due_at`` is the occurrence's ``run_at``;
    ``started_at``/``finished_at`` are set once the callback started/ended.
    ``attempt`` counts from 1. ``error`` is the exception of a failed, retried
    or timed-out run; ``next_run_at`` is when the task runs next (a retry or the
    next occurrence), ``None`` when it is gone or kept as failed.
    """

    kind: TaskEventKind
    task: Task
    worker_id: str
    at: datetime
    due_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    attempt: int = 1
    error: BaseException | None = None
    next_run_at: datetime | None = None
    reason: str = ""

    @property
    def lag(self) -> timedelta | None:
        """How late the callback started after it was due."""
        return None if self.started_at is None else self.started_at - self.due_at

    @property
    def duration(self) -> timedelta | None:
        """How long the callback ran."""
        if self.started_at is None or self.finished_at is None:
            return None
        return self.finished_at - self.started_at


@dataclass(frozen=True, slots=True)
class ScheduleEvent:
    """Tasks added, changed (re-timed, paused, resumed, retried) or removed through a scheduler."""

    kind: ScheduleEventKind
    at: datetime
    task_ids: tuple[str, ...] = ()
    group_id: str | None = None
    tasks: tuple[Task, ...] = ()
    change: str = ""


@dataclass(frozen=True, slots=True)
class WorkerEvent:
    """A worker started or stopped."""

    kind: WorkerEventKind
    info: WorkerInfo
    at: datetime


@dataclass(frozen=True, slots=True)
class StoreErrorEvent:
    """A datastore call of a worker failed (it is retried with backoff)."""

    worker_id: str
    operation: str
    error: BaseException
    at: datetime


Event = TaskEvent | ScheduleEvent | WorkerEvent | StoreErrorEvent
Subscriber = Callable[[Any], Any]


def hook_name(event: Event) -> str:
    """The pluggy hook that receives ``event``."""
    if isinstance(event, TaskEvent):
        return f"taskshed_task_{event.kind}"
    if isinstance(event, ScheduleEvent):
        return f"taskshed_tasks_{event.kind}"
    if isinstance(event, WorkerEvent):
        return f"taskshed_worker_{event.kind}"
    return "taskshed_store_error"


_Entry = tuple[Subscriber, "asyncio.AbstractEventLoop | None"]


class Subscribers:
    """The subscribers of an event bus, kept apart so that a new bus can take them over.

    A worker makes its bus anew when it starts (that is when it knows its
    plugins); what was subscribed before ``start()`` moves to the new bus, and
    the unsubscribe functions handed out earlier keep working.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        #: Replaced whole on every change, so readers iterate without a lock.
        self.entries: tuple[_Entry, ...] = ()

    def add(self, entry: _Entry) -> None:
        with self._lock:
            self.entries = (*self.entries, entry)

    def remove(self, entry: _Entry) -> None:
        with self._lock:
            self.entries = tuple(e for e in self.entries if e is not entry)


def find_observers(plugin_manager: Any | None) -> Callable[[], Any]:
    """What a lazy :class:`EventBus` calls to find its hooks.

    ``plugin_manager`` when one was given, else the installed plugins' (the
    default registry's, whose discovery the bus runs on its own thread and
    logs if it fails).
    """

    def find() -> Any:
        if plugin_manager is not None:
            return plugin_manager
        from taskshed.registry import default_registry

        return default_registry().plugin_manager

    return find


class EventBus:
    """Delivers events to plugin hooks and subscribers from one background thread.

    :meth:`emit` is cheap and thread-safe; when nobody listens it does nothing,
    so a worker without observers pays one attribute check per event.
    """

    def __init__(
        self,
        plugin_manager: Any | Callable[[], Any] | None = None,
        *,
        name: str = "taskshed",
        lazy: bool = False,
        subscribers: Subscribers | None = None,
    ) -> None:
        """``lazy``: ``plugin_manager`` is a function that finds it, called on the bus's thread.

        Finding plugins reads installed distributions' metadata (tenths of a
        second); a worker shouldn't wait for that before claiming. Events
        emitted meanwhile are queued and delivered once the hooks are known.
        """
        self._name = name
        #: Shared with the bus this one replaces, when given.
        self.subscribers = subscribers if subscribers is not None else Subscribers()
        # Emitters append (thread-safe) and poke the thread only when it sleeps: at
        # thousands of events a second the thread drains them in batches.
        self._pending: collections.deque[Any] = collections.deque()
        self._ready = threading.Event()
        self._stop = False
        self._impls: dict[str, list[Any]] = {}
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._warned: set[str] = set()
        self._pm: Any | None = None
        #: Whether any plugin implements an event hook; ``None`` while still finding out.
        self._hooked: bool | None
        if lazy and plugin_manager is not None:
            self._find_pm: Callable[[], Any] | None = plugin_manager
            self._hooked = None
            self._start_thread()
        else:
            self._find_pm = None
            self._pm = plugin_manager
            self._hooked = self._has_hooks()

    def _has_hooks(self) -> bool:
        if self._pm is None:
            return False
        for name in self._hook_names():
            caller = getattr(self._pm.hook, name, None)
            impls = caller.get_hookimpls() if caller is not None else []
            if impls:
                self._impls[name] = list(impls)
        return bool(self._impls)

    @staticmethod
    def _hook_names() -> list[str]:
        names = [f"taskshed_task_{kind}" for kind in TASK_EVENT_KINDS]
        names += [f"taskshed_tasks_{kind}" for kind in ("added", "changed", "removed")]
        names += ["taskshed_worker_started", "taskshed_worker_stopped", "taskshed_store_error"]
        return names

    @property
    def active(self) -> bool:
        """Whether any hook or subscriber listens (emitters may skip building events if not)."""
        return self._hooked is not False or bool(self.subscribers.entries)

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Call ``callback(event)`` for every event; returns a function that unsubscribes.

        A plain function is called on the bus's thread; a coroutine function is
        scheduled on the event loop that was running when it subscribed.
        """
        try:
            loop: asyncio.AbstractEventLoop | None = (
                asyncio.get_running_loop() if asyncio.iscoroutinefunction(callback) else None
            )
        except RuntimeError:
            raise RuntimeError(
                "subscribe a coroutine function from inside its event loop"
            ) from None
        entry: _Entry = (callback, loop)
        subscribers = self.subscribers
        subscribers.add(entry)

        def unsubscribe() -> None:
            subscribers.remove(entry)

        return unsubscribe

    def emit(self, event: Event) -> None:
        if self._hooked is False and not self.subscribers.entries:
            return
        if self._thread is None:
            self._start_thread()
        self._pending.append(event)
        if not self._ready.is_set():
            self._ready.set()

    def _start_thread(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name=f"{self._name}-events", daemon=True
                )
                self._thread.start()

    def close(self, timeout: float = 5.0) -> None:
        """Deliver what was emitted (up to ``timeout`` seconds), then stop the thread."""
        thread = self._thread
        if thread is None:
            return
        self._stop = True
        self._ready.set()
        thread.join(timeout)
        if thread.is_alive():
            log.warning("event observers are still busy after %.0f s; not waiting longer", timeout)
        self._thread = None

    def _run(self) -> None:
        if self._find_pm is not None:
            try:
                self._pm = self._find_pm()
            except Exception as exc:
                log.warning("%s: plugins unavailable for events (%s)", self._name, exc)
            self._hooked = self._has_hooks()
        while True:
            self._ready.wait()
            self._ready.clear()
            while self._pending:
                self._deliver(self._pending.popleft())
            if self._stop:
                return

    def _deliver(self, event: Event) -> None:
        if self._hooked:
            name = hook_name(event)
            for impl in self._impls.get(name, ()):
                try:
                    impl.function(event=event)
                except Exception:
                    self._report(impl.plugin_name, name)
        for callback, loop in self.subscribers.entries:
            try:
                if loop is None:
                    callback(event)
                else:
                    asyncio.run_coroutine_threadsafe(_guarded(callback, event, self), loop)
            except Exception:
                self._report(getattr(callback, "__qualname__", repr(callback)), "subscriber")

    def _report(self, who: str, where: str) -> None:
        if who in self._warned:
            log.debug("event observer %s raised again in %s", who, where, exc_info=True)
            return
        self._warned.add(who)
        log.exception(
            "event observer %s raised in %s; the task is unaffected (further errors of this "
            "observer are logged at DEBUG)",
            who,
            where,
        )


async def _guarded(callback: Subscriber, event: Event, bus: EventBus) -> None:
    try:
        await callback(event)
    except Exception:
        bus._report(getattr(callback, "__qualname__", repr(callback)), "subscriber")
