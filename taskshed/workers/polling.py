"""A worker that asks the datastore for due tasks at a fixed interval."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal

from taskshed.datastores.base import DataStore
from taskshed.workers.backoff import as_timedelta
from taskshed.workers.base import BaseWorker, Callback


class PollingWorker(BaseWorker):
    """Claims due tasks every ``polling_interval``; a task runs at most that late."""

    kind: Literal["event", "polling"] = "polling"

    def __init__(
        self,
        callback_map: dict[str, Callback],
        datastore: DataStore,
        polling_interval: timedelta | float = timedelta(seconds=3),
        **options: Any,
    ) -> None:
        self.polling_interval = as_timedelta(polling_interval, "polling_interval")
        if self.polling_interval > timedelta(days=1):
            raise ValueError("polling_interval must be at most one day")
        options.setdefault("notifier", None)
        super().__init__(callback_map, datastore, **options)

    async def update_schedule(self, run_at: object = None) -> None:
        """A polling worker keeps its own rhythm; changes are picked up at the next poll."""

    async def _idle(self) -> None:
        await self._sleep(self.polling_interval.total_seconds())
