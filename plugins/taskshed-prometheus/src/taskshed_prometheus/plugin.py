"""The taskshed plugin entry point: event hooks that feed the metrics, and ``--metrics-port``."""

from __future__ import annotations

import argparse
import logging
from typing import TYPE_CHECKING

from taskshed.errors import ConfigurationError
from taskshed.markers import hookimpl

if TYPE_CHECKING:
    from taskshed.events import StoreErrorEvent, TaskEvent, WorkerEvent
    from taskshed.workers.base import BaseWorker

log = logging.getLogger("taskshed.prometheus")


def _task(event: TaskEvent) -> None:
    # Imported here so that listing plugins doesn't import prometheus_client.
    from taskshed_prometheus.metrics import default_metrics

    default_metrics().task_event(event)


@hookimpl
def taskshed_task_claimed(event: TaskEvent) -> None:
    _task(event)


@hookimpl
def taskshed_task_started(event: TaskEvent) -> None:
    _task(event)


@hookimpl
def taskshed_task_succeeded(event: TaskEvent) -> None:
    _task(event)


@hookimpl
def taskshed_task_failed(event: TaskEvent) -> None:
    _task(event)


@hookimpl
def taskshed_task_retried(event: TaskEvent) -> None:
    _task(event)


@hookimpl
def taskshed_task_timed_out(event: TaskEvent) -> None:
    _task(event)


@hookimpl
def taskshed_task_lease_lost(event: TaskEvent) -> None:
    _task(event)


@hookimpl
def taskshed_task_released(event: TaskEvent) -> None:
    _task(event)


@hookimpl
def taskshed_task_set_aside(event: TaskEvent) -> None:
    _task(event)


@hookimpl
def taskshed_store_error(event: StoreErrorEvent) -> None:
    from taskshed_prometheus.metrics import default_metrics

    default_metrics().store_error(event)


@hookimpl
def taskshed_worker_started(event: WorkerEvent) -> None:
    from taskshed_prometheus.metrics import default_metrics

    default_metrics().worker_event(event)


@hookimpl
def taskshed_worker_stopped(event: WorkerEvent) -> None:
    from taskshed_prometheus.metrics import default_metrics

    default_metrics().worker_event(event)


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"a port is 0-65535, not {value}")
    return value


@hookimpl
def taskshed_worker_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("metrics (taskshed-prometheus)")
    group.add_argument(
        "--metrics-port",
        type=_port,
        metavar="PORT",
        help="serve Prometheus metrics on http://ADDRESS:PORT/metrics (0: any free port)",
    )
    group.add_argument(
        "--metrics-address",
        default="0.0.0.0",
        metavar="ADDRESS",
        help="address the metrics endpoint listens on (0.0.0.0)",
    )


@hookimpl
def taskshed_worker_starting(worker: BaseWorker, args: argparse.Namespace) -> None:
    port = getattr(args, "metrics_port", None)
    if port is None:
        return
    from taskshed_prometheus.metrics import serve_metrics

    try:
        bound = serve_metrics(port, args.metrics_address)
    except OSError as exc:
        raise ConfigurationError(
            f"can't serve metrics on {args.metrics_address}:{port}: {exc}"
        ) from exc
    log.info("metrics on http://%s:%d/metrics", args.metrics_address, bound)
