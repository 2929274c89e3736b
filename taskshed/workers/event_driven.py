"""A worker that sleeps until exactly when the next task is due."""

from __future__ import annotations

from datetime import timedelta

from taskshed.datastores.base import DataStore
from taskshed.timeutils import utcnow
from taskshed.workers.backoff import as_timedelta
from taskshed.workers.base import BaseWorker, Callback


class EventDrivenWorker(BaseWorker):
    """Wakes at the next task's due time, or when the scheduler reports a change.

    Changes made by other processes are noticed within ``max_sleep`` (the
    longest it sleeps without asking the store), as are leases that expire.
    Tasks are claimed up to ``prefetch`` (50 ms) before they are due and
    started on time, so the claim's round trip to the store adds no lag.
    """

    def __init__(
        self,
        callback_map: dict[str, Callback],
        datastore: DataStore,
        *,
        max_sleep: timedelta | float = timedelta(seconds=1),
        prefetch: timedelta | float = timedelta(milliseconds=50),
        **options: object,
    ) -> None:
        super().__init__(callback_map, datastore, prefetch=prefetch, **options)  # type: ignore[arg-type]
        self.max_sleep = as_timedelta(max_sleep, "max_sleep")

    async def _idle(self) -> None:
        wakeup = await self._datastore.fetch_next_wakeup()
        timeout = self.max_sleep.total_seconds()
        if wakeup is not None:
            timeout = min(timeout, (wakeup - self.prefetch - utcnow()).total_seconds())
        await self._sleep(timeout)
