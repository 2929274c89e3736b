"""``taskshed worker MODULE:ATTR``: run a worker with the callback map found at that import path."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import os
import sys
from datetime import timedelta
from typing import Any

from taskshed.cli.options import (
    add_store_options,
    describe_store,
    positive_float,
    positive_int,
    store_from_args,
)
from taskshed.cli.runner import run_until_signalled
from taskshed.errors import ConfigurationError, SchemaVersionError
from taskshed.workers import EventDrivenWorker, PollingWorker
from taskshed.workers.base import BaseWorker, Callback

log = logging.getLogger("taskshed.cli")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "worker",
        help="run a worker until SIGINT/SIGTERM",
        description="Run a worker whose callbacks are the dict (name -> coroutine function) "
        "found at MODULE:ATTR; ATTR may also be a function returning that dict.",
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
    parser.set_defaults(func=run)


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
    }
    if args.polling:
        return PollingWorker(callbacks, store, timedelta(seconds=args.polling), **options)
    return EventDrivenWorker(callbacks, store, **options)


def run(args: argparse.Namespace) -> int:
    callbacks = load_callback_map(args.callbacks)
    worker = make_worker(args, callbacks)
    log.info(
        "worker %s: %d callback(s), datastore %s",
        worker.worker_id,
        len(callbacks),
        describe_store(args),
    )
    asyncio.run(_serve(worker))
    return 0


async def _serve(worker: BaseWorker) -> None:
    try:
        await _check_schema(worker)
        await run_until_signalled(worker)
    finally:
        await worker.datastore.shutdown()


async def _check_schema(worker: BaseWorker) -> None:
    """Stop at once on a schema that needs `taskshed db upgrade`; other start-up errors
    (a server that is down) are left to the worker, which retries them."""
    try:
        await worker.datastore.start()
    except SchemaVersionError:
        raise
    except Exception as exc:
        log.warning("datastore not reachable yet (%s); the worker keeps retrying", exc)
