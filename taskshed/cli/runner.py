"""Running a worker until SIGINT/SIGTERM (or until a command is done), then shutting down cleanly."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from taskshed.workers.base import BaseWorker

log = logging.getLogger("taskshed.cli")


async def run_until_signalled(worker: BaseWorker, stop: asyncio.Event | None = None) -> None:
    """Start ``worker``; on SIGINT/SIGTERM (or ``stop``) shut it down gracefully."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, _on_signal, stop, signum)
    try:
        await worker.start()
        await stop.wait()
    finally:
        log.info(
            "shutting down: waiting up to %.0f s for running callbacks", worker.shutdown_timeout
        )
        await worker.shutdown()
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(signum)


def _on_signal(stop: asyncio.Event, signum: int) -> None:
    log.info("received %s", signal.Signals(signum).name)
    stop.set()
