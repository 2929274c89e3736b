"""Running a worker until SIGINT/SIGTERM (or until a command is done), then shutting down cleanly."""

from __future__ import annotations

import asyncio
import logging
import os
import signal

from taskshed.workers.base import BaseWorker

log = logging.getLogger("taskshed.cli")


async def run_until_signalled(worker: BaseWorker, stop: asyncio.Event | None = None) -> None:
    """Start ``worker``; on SIGINT/SIGTERM (or ``stop``) shut it down gracefully.

    A second SIGINT/SIGTERM stops at once: every claim is released (from the
    heartbeat's own connection, so this works while a callback blocks the event
    loop) and the process exits with status 130.
    """
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    received: list[int] = []

    def on_signal(signum: int, frame: object = None) -> None:
        received.append(signum)
        if len(received) == 1:
            log.info(
                "received %s: shutting down (send it again to stop at once)",
                signal.Signals(signum).name,
            )
            loop.call_soon_threadsafe(stop.set)
            return
        log.warning(
            "received %s again: releasing claims and stopping now", signal.Signals(signum).name
        )
        worker.abort()
        logging.shutdown()
        os._exit(130)

    # Plain signal handlers, not loop.add_signal_handler: they run even while a
    # callback keeps the event loop blocked.
    previous = {
        signum: signal.signal(signum, on_signal) for signum in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        await worker.start()
        await stop.wait()
    finally:
        running = worker.info().running
        if running:
            log.info(
                "worker %s: stopping: no new claims; waiting up to %.0f s for %d running "
                "callback(s), then cancelling what is left and handing it back",
                worker.worker_id,
                worker.shutdown_timeout,
                running,
            )
        else:
            log.info("worker %s: stopping: no new claims, nothing running", worker.worker_id)
        await worker.shutdown()
        log.info("worker %s: stopped", worker.worker_id)
        for signum, handler in previous.items():
            signal.signal(signum, handler)
