"""One worker process for :mod:`taskshed.testing.processes`; not meant to be started by hand.

``python -m taskshed.testing.worker_process --record FILE [options]`` opens the
datastore named by ``TASKSHED_DATASTORE`` (the URL travels in the environment,
so a password never shows in ``ps``), runs a worker whose one callback,
``taskshed_testing_record(task=...)``, appends to FILE:

    R <epoch seconds> <pid>          once the worker has started
    S <epoch seconds> <task id>      when a callback starts
    D <epoch seconds> <task id>      when it returns

Each line is one ``write`` on a file opened with ``O_APPEND``, so it is in the
kernel the moment the call returns and survives a SIGKILL of this process.
SIGTERM or SIGINT shut the worker down gracefully.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import signal
import sys
import time
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

#: The callback name the recorded tasks use.
RECORD_CALLBACK = "taskshed_testing_record"


class _Recorder:
    def __init__(self, path: str, duration: float) -> None:
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self._duration = duration

    def write(self, kind: str, what: str) -> None:
        os.write(self._fd, f"{kind} {time.time():.6f} {what}\n".encode())

    async def callback(self, task: str) -> None:
        self.write("S", task)
        if self._duration > 0:
            await asyncio.sleep(self._duration)
        self.write("D", task)

    async def blocking(self, task: str) -> None:
        """Blocks the worker's event loop for the duration (a blocking call in async code)."""
        self.write("S", task)
        time.sleep(self._duration)  # noqa: ASYNC251 - the point of this callback
        self.write("D", task)

    def plain(self, task: str) -> None:
        """A plain function: the worker runs it in a thread."""
        self.write("S", task)
        time.sleep(self._duration)
        self.write("D", task)


def _build_worker(
    kind: str, callbacks: dict[str, Any], store: Any, args: argparse.Namespace
) -> Any:
    options: dict[str, Any] = {
        "lease": timedelta(seconds=args.lease),
        "max_concurrency": args.max_concurrency,
        "batch_size": args.batch_size,
    }
    if kind == "polling":
        from taskshed.workers import PollingWorker

        return PollingWorker(
            callbacks, store, polling_interval=timedelta(seconds=args.interval), **options
        )
    if kind == "event":
        from taskshed.workers import EventDrivenWorker

        return EventDrivenWorker(
            callbacks, store, max_sleep=timedelta(seconds=args.interval), **options
        )
    module_name, _, attr = kind.partition(":")
    factory = getattr(importlib.import_module(module_name), attr)
    return factory(callbacks, store, **options)


async def _run(args: argparse.Namespace) -> int:
    from taskshed import open_datastore, register_plugin

    for module_name in args.plugin:
        register_plugin(importlib.import_module(module_name))
    recorder = _Recorder(args.record, args.duration)
    store = open_datastore(serializer=args.serializer)
    await store.start()
    styles = {"async": recorder.callback, "blocking": recorder.blocking, "plain": recorder.plain}
    worker = _build_worker(args.worker, {RECORD_CALLBACK: styles[args.style]}, store, args)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        await worker.start()
        recorder.write("R", str(os.getpid()))
        await stop.wait()
        await worker.shutdown()
    finally:
        await store.shutdown()
    return 0


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m taskshed.testing.worker_process")
    parser.add_argument("--record", required=True, help="file to append execution records to")
    parser.add_argument("--worker", default="polling", help="polling, event, or module:factory")
    parser.add_argument("--duration", type=float, default=0.0, help="callback length, seconds")
    parser.add_argument("--lease", type=float, default=5.0, help="lease length, seconds")
    parser.add_argument(
        "--interval",
        type=float,
        default=0.05,
        help="polling interval (polling) or longest sleep (event), seconds",
    )
    parser.add_argument("--max-concurrency", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=10)
    parser.add_argument("--serializer", default=None)
    parser.add_argument("--style", choices=["async", "blocking", "plain"], default="async")
    parser.add_argument(
        "--plugin", action="append", default=[], help="module to register as a plugin first"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    return asyncio.run(_run(_parse(argv)))


if __name__ == "__main__":
    sys.exit(main())
