"""The metrics: what each event adds, with few and bounded labels (callback names, never task ids)."""

from __future__ import annotations

import threading
from datetime import datetime

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    start_http_server,
)

from taskshed.events import StoreErrorEvent, TaskEvent, WorkerEvent

#: Seconds a callback ran: from a few milliseconds to an hour.
DURATION_BUCKETS = (
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600,
)  # fmt: skip
#: Seconds a callback started after it was due: from a millisecond to minutes.
LAG_BUCKETS = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300,
)  # fmt: skip
#: Events that end a claim (``timed_out`` and ``lease_lost`` don't: an outcome follows).
_ENDS_CLAIM = {"succeeded", "failed", "retried", "released", "set_aside"}
_OUTCOMES = {"succeeded", "failed", "retried"}
_Key = tuple[str, str, datetime]


class TaskshedMetrics:
    """The collectors, registered in ``registry``, and the bookkeeping behind the gauges.

    Event hooks call :meth:`task_event` and friends from the workers' event
    threads (one per worker), so the bookkeeping takes a lock.
    """

    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        self.runs = Counter(
            "taskshed_runs",
            "Callback runs that ended, by outcome: succeeded, retried (failed, will run "
            "again) or failed (no attempt left)",
            ["callback", "outcome"],
            registry=registry,
        )
        self.timeouts = Counter(
            "taskshed_run_timeouts",
            "Callback runs cancelled for exceeding their timeout",
            ["callback"],
            registry=registry,
        )
        self.duration = Histogram(
            "taskshed_run_duration_seconds",
            "How long callbacks ran",
            ["callback"],
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        self.lag = Histogram(
            "taskshed_start_lag_seconds",
            "How late callbacks started after their task was due",
            ["callback"],
            buckets=LAG_BUCKETS,
            registry=registry,
        )
        self.claims = Counter(
            "taskshed_claims", "Task occurrences claimed", ["callback"], registry=registry
        )
        self.lease_losses = Counter(
            "taskshed_lease_losses",
            "Claims lost while held (taken over by another worker, or the task changed)",
            ["callback"],
            registry=registry,
        )
        self.released = Counter(
            "taskshed_released",
            "Claims handed back unrun (shutdown, or the task changed before its start)",
            ["callback"],
            registry=registry,
        )
        self.set_aside = Counter(
            "taskshed_set_aside",
            "Claimed tasks this worker could not run (unknown callback, kwargs that don't fit)",
            ["callback"],
            registry=registry,
        )
        self.store_errors = Counter(
            "taskshed_store_errors",
            "Failed datastore calls of workers (retried with backoff), by operation",
            ["operation"],
            registry=registry,
        )
        self.running = Gauge("taskshed_running_tasks", "Callbacks running now", registry=registry)
        self.claimed = Gauge(
            "taskshed_claimed_tasks",
            "Claims held now, running or waiting for their time or a free slot",
            registry=registry,
        )
        self.workers = Gauge(
            "taskshed_workers", "Workers running in this process", registry=registry
        )
        self._lock = threading.Lock()
        self._held: dict[_Key, bool] = {}  # claim -> started
        self._started = 0  # how many of _held have started (kept in step, not recounted)
        self._workers: set[str] = set()

    def task_event(self, event: TaskEvent) -> None:
        callback = event.task.callback
        kind = event.kind
        if kind == "claimed":
            self.claims.labels(callback).inc()
        elif kind == "started":
            if event.lag is not None:
                self.lag.labels(callback).observe(max(0.0, event.lag.total_seconds()))
        elif kind in _OUTCOMES:
            self.runs.labels(callback, kind).inc()
            if event.duration is not None:
                self.duration.labels(callback).observe(max(0.0, event.duration.total_seconds()))
        elif kind == "timed_out":
            self.timeouts.labels(callback).inc()
        elif kind == "lease_lost":
            self.lease_losses.labels(callback).inc()
        elif kind == "released":
            self.released.labels(callback).inc()
        elif kind == "set_aside":
            self.set_aside.labels(callback).inc()
        key = (event.worker_id, event.task.task_id, event.due_at)
        with self._lock:
            if kind == "claimed":
                self._started -= self._held.get(key, False)
                self._held[key] = False
            elif kind == "started":
                self._started += not self._held.get(key, False)
                self._held[key] = True
            elif kind in _ENDS_CLAIM:
                self._started -= self._held.pop(key, False)
            else:
                return
            self._update_gauges()

    def store_error(self, event: StoreErrorEvent) -> None:
        self.store_errors.labels(event.operation).inc()

    def worker_event(self, event: WorkerEvent) -> None:
        worker_id = event.info.worker_id
        with self._lock:
            if event.kind == "started":
                self._workers.add(worker_id)
            else:
                self._workers.discard(worker_id)
                # A callback abandoned at shutdown reports no outcome: forget its claim.
                for key in [k for k in self._held if k[0] == worker_id]:
                    self._started -= self._held.pop(key)
            self.workers.set(len(self._workers))
            self._update_gauges()

    def _update_gauges(self) -> None:
        self.claimed.set(len(self._held))
        self.running.set(self._started)


_default: TaskshedMetrics | None = None
_default_lock = threading.Lock()


def default_metrics() -> TaskshedMetrics:
    """The process's metrics, in ``prometheus_client``'s default registry (made on first use)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = TaskshedMetrics()
        return _default


def serve_metrics(port: int, address: str = "0.0.0.0") -> int:
    """Serve ``/metrics`` of the default registry on a daemon thread; returns the port bound."""
    default_metrics()
    server, _ = start_http_server(port, addr=address)
    return int(server.server_port)
