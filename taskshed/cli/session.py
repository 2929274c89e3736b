"""One store (and a scheduler on it) for the length of a command."""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from taskshed.cli.connecting import connect
from taskshed.cli.options import describe_store, require_configured_store, store_from_args
from taskshed.schedulers import AsyncScheduler


@asynccontextmanager
async def scheduler_session(
    args: argparse.Namespace, command: str
) -> AsyncIterator[AsyncScheduler]:
    """A started scheduler on the configured store; closed (with the store) at the end.

    Changes go through the scheduler, so that workers in other processes hear
    of them at once (the store's notifier) and plugins see the events.
    """
    require_configured_store(args, command)
    store = store_from_args(args)
    await connect(store, describe=describe_store(args))
    scheduler = AsyncScheduler(store)
    try:
        await scheduler.start()
        yield scheduler
    finally:
        await scheduler.shutdown()
