"""``taskshed worker MODULE:ATTR``: run a worker with the callback map found at that import path."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import logging
import os
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

from taskshed.cli.connecting import connect
from taskshed.cli.options import (
    add_store_options,
    describe_store,
    positive_float,
    positive_int,
    require_configured_store,
    store_from_args,
)
from taskshed.cli.runner import run_until_signalled
from taskshed.errors import ConfigurationError, TaskshedError
from taskshed.workers import EventDrivenWorker, PollingWorker
from taskshed.workers.base import BaseWorker, Callback

log = logging.getLogger("taskshed.cli")


def add_parser(subparsers: argparse._SubParsersAction, plugin_manager: Any = None) -> None:
    parser = subparsers.add_parser(
        "worker",
        help="run a worker until SIGINT/SIGTERM",
        description="Run a worker whose callbacks are the dict (name -> coroutine function) "
        "found at MODULE:ATTR; ATTR may also be a function returning that dict. It stops at "
        "once, with one line, when the datastore refuses for a reason that retrying won't fix "
        "(wrong password, unknown database, missing driver or schema).",
    )
    parser.add_argument("callbacks", metavar="MODULE:ATTR", help="import path of the callback map")
    add_store_options(parser)
    parser.add_argument(
        "--polling",
        type=positive_float,
        metavar="SECONDS",
        help="poll every SECONDS instead of waking when the next task is due",
    )
    parser.add_argument(
        "--concurrency", type=positive_int, default=100, help="callbacks at once (100)"
    )
    parser.add_argument(
        "--lease", type=positive_float, default=30.0, help="claim lease in seconds (30)"
    )
    parser.add_argument(
        "--shutdown-timeout",
        type=positive_float,
        default=30.0,
        help="seconds running callbacks get to finish on shutdown (30)",
    )
    parser.add_argument(
        "--wait-for-store",
        type=non_negative_float,
        default=0.0,
        metavar="SECONDS",
        help="retry a first connection that fails (server not up yet) for this long before "
        "giving up (0: give up at once)",
    )
    parser.add_argument(
        "--health-file",
        type=Path,
        metavar="PATH",
        help="write this file every heartbeat while the worker and its store are well, and "
        "remove it on exit (for container liveness probes)",
    )
    parser.add_argument(
        "--max-attempts",
        type=positive_int,
        default=1,
        help="attempts per occurrence for tasks that don't set their own (1: no retries)",
    )
    parser.add_argument(
        "--retry-backoff",
        type=positive_float,
        default=1.0,
        metavar="SECONDS",
        help="delay before the first retry, doubling with each further one (1)",
    )
    parser.add_argument(
        "--timeout",
        type=positive_float,
        default=None,
        metavar="SECONDS",
        help="cancel a run that takes longer, for tasks that don't set their own (none)",
    )
    parser.add_argument(
        "--prefetch",
        type=non_negative_float,
        default=None,
        metavar="SECONDS",
        help="claim this far ahead of the due time (event-driven: 0.05); under a third of the lease",
    )
    parser.add_argument(
        "--no-run-log",
        dest="run_log",
        action="store_false",
        help="don't log one INFO line per successful run (failures are still logged)",
    )
    if plugin_manager is not None:
        plugin_manager.hook.taskshed_worker_options(parser=parser)
    parser.set_defaults(func=run, plugin_manager=plugin_manager)


def non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number of seconds >= 0, not {text}")
    return value


def load_callback_map(path: str) -> dict[str, Callback]:
    module_name, sep, attr = path.partition(":")
    if not sep or not module_name or not attr:
        raise ConfigurationError(f"expected MODULE:ATTR, got {path!r}")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        target: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigurationError(f"can't import {module_name!r}: {exc}") from exc
    for part in attr.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise ConfigurationError(f"{module_name!r} has no attribute {attr!r}") from None
    if callable(target) and not isinstance(target, dict):
        target = target()
    if not isinstance(target, dict) or not all(isinstance(k, str) for k in target):
        raise ConfigurationError(f"{path} must be a dict of callback name -> coroutine function")
    return target


def make_worker(args: argparse.Namespace, callbacks: dict[str, Callback]) -> BaseWorker:
    store = store_from_args(args)
    options: dict[str, Any] = {
        "max_concurrency": args.concurrency,
        "lease": timedelta(seconds=args.lease),
        "shutdown_timeout": args.shutdown_timeout,
        "plugin_manager": getattr(args, "plugin_manager", None),
        "max_attempts": args.max_attempts,
        "retry_backoff": args.retry_backoff,
        "timeout": args.timeout,
    }
    if args.prefetch is not None:
        options["prefetch"] = args.prefetch
    try:
        if args.polling:
            return PollingWorker(callbacks, store, timedelta(seconds=args.polling), **options)
        return EventDrivenWorker(callbacks, store, **options)
    except (ValueError, TypeError) as exc:
        # A setting that would break a guarantee (a lease under a second, a prefetch of a
        # third of the lease or more): one line, not a traceback.
        raise ConfigurationError(f"taskshed worker: {exc}") from None


def run(args: argparse.Namespace) -> int:
    require_configured_store(args, "taskshed worker")
    callbacks = load_callback_map(args.callbacks)
    worker = make_worker(args, callbacks)
    asyncio.run(_serve(worker, args, describe_store(args)))
    return 0


async def _serve(worker: BaseWorker, args: argparse.Namespace, where: str) -> None:
    try:
        await connect(worker.datastore, wait=args.wait_for_store, describe=where)
        log.info(
            "worker %s: %d callback(s) (%s), datastore %s",
            worker.worker_id,
            len(worker.callbacks),
            ", ".join(sorted(worker.callbacks)),
            where,
        )
        _prepare(worker, args)
        health = None
        if args.health_file is not None:
            health = asyncio.create_task(_keep_health_file(worker, args.health_file))
        try:
            await run_until_signalled(worker)
        finally:
            if health is not None:
                health.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await health
                with contextlib.suppress(OSError):
                    args.health_file.unlink()
    finally:
        await worker.datastore.shutdown()


def _prepare(worker: BaseWorker, args: argparse.Namespace) -> None:
    """Let plugins act on their options (a metrics endpoint, say) before the worker starts."""
    pm = getattr(args, "plugin_manager", None)
    if pm is None:
        return
    try:
        pm.hook.taskshed_worker_starting(worker=worker, args=args)
    except TaskshedError:
        raise
    except Exception as exc:
        raise ConfigurationError(
            f"a plugin could not prepare the worker: {type(exc).__name__}: {exc}"
        ) from exc


async def _keep_health_file(worker: BaseWorker, path: Path) -> None:
    """Write ``path`` every heartbeat period while the store answers on the worker's own loop.

    The file goes stale when the worker's event loop is blocked or its store
    can't be reached for a while: a liveness probe that checks its age
    (docs/operating.md) then notices a worker that can't claim anything.
    """
    period = worker.options.heartbeat_period
    failing = False
    while True:
        try:
            now = await asyncio.wait_for(worker.datastore.current_time(), timeout=period)
        except Exception as exc:
            if not failing:
                log.warning(
                    "health file %s not renewed: the datastore did not answer (%s: %s)",
                    path,
                    type(exc).__name__,
                    exc,
                )
            failing = True
        else:
            try:
                await asyncio.to_thread(path.write_text, f"{worker.worker_id} {now.isoformat()}\n")
                if failing:
                    log.info("health file %s renewed again", path)
                failing = False
            except OSError as exc:
                if not failing:
                    log.warning("can't write the health file %s: %s", path, exc)
                failing = True
        await asyncio.sleep(period)
