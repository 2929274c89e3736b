"""A worker that sleeps until exactly when the next task is due."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timedelta
from typing import Any, Literal

from taskshed.datastores.base import DataStore
from taskshed.workers.backoff import as_timedelta
from taskshed.workers.base import BaseWorker, Callback


class EventDrivenWorker(BaseWorker):
    """Wakes at the next task's due time, or when it hears of a change.

    Changes made through a scheduler in this process wake it at once; changes
    from other processes arrive through the store's notifier (Redis,
    PostgreSQL, in-process) when there is one, and are otherwise seen within
    ``max_sleep`` (the longest it sleeps without asking the store), as are
    leases that expire. Tasks are claimed up to ``prefetch`` (50 ms) before
    they are due and started on time, so the claim's round trip adds no lag.
    """

    kind: Literal["event", "polling"] = "event"

    def __init__(
        self,
        callback_map: dict[str, Callback],
        datastore: DataStore,
        *,
        max_sleep: timedelta | float = timedelta(seconds=1),
        prefetch: timedelta | float = timedelta(milliseconds=50),
        **options: Any,
    ) -> None:
        self.max_sleep = as_timedelta(max_sleep, "max_sleep")
        if self.max_sleep > timedelta(hours=1):
            raise ValueError("max_sleep must be at most one hour")
        super().__init__(callback_map, datastore, prefetch=prefetch, **options)
        # Look-ups of the next wake-up overtaken by a change (see _idle), still in flight.
        self._overtaken: set[asyncio.Task[datetime | None]] = set()

    async def _idle(self) -> None:
        if self._wake.is_set():
            return  # a change was heard while claiming: claim again at once
        wakeup = await self._next_wakeup()
        if self._wake.is_set():
            return
        timeout = self.max_sleep.total_seconds()
        if wakeup is not None:
            # Wake half the prefetch ahead, then claim a whole prefetch ahead: each claim
            # takes the tasks of half a prefetch window, not just the one that is next,
            # and the first of them is still claimed half a prefetch before its time.
            timeout = min(timeout, self.clock.local(wakeup - self.options.prefetch / 2))
        await self._sleep(timeout)

    async def _next_wakeup(self) -> datetime | None:
        """The store's next wake-up, unless a change is heard first (then at once, ``None``).

        A notice that arrives while the store is being asked makes the answer
        stale; rather than wait for it (a round trip or more, added to that
        task's start), the worker claims again at once and the look-up ends in
        the background, its answer unused.
        """
        lookup = asyncio.ensure_future(self._datastore.fetch_next_wakeup(callbacks=self.callbacks))
        woken = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait((lookup, woken), return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            lookup.cancel()
            raise
        finally:
            woken.cancel()
        if lookup.done():
            return lookup.result()
        self._overtaken.add(lookup)
        lookup.add_done_callback(self._overtaken_done)
        return None

    def _overtaken_done(self, lookup: asyncio.Task[datetime | None]) -> None:
        self._overtaken.discard(lookup)
        if not lookup.cancelled():
            lookup.exception()  # retrieved: a store error shows on the next claim instead

    async def shutdown(self) -> None:
        await super().shutdown()
        if self._overtaken:
            with contextlib.suppress(Exception):
                await asyncio.wait(list(self._overtaken), timeout=5.0)
