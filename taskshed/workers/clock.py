"""The store's clock as a worker sees it: its own clock plus a measured, refreshed offset."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta

from taskshed.datastores.base import DataStore

log = logging.getLogger("taskshed.workers")

#: An offset larger than this is reported once at WARNING (the hosts' clocks disagree).
SKEW_WARNING = timedelta(seconds=1)
#: A round trip at most this long is trusted at once; a longer one (a busy
#: loop, a thread waiting for the GIL) is measured again, up to SYNC_TRIES times,
#: and the shortest kept: a slow trip can put the offset off by half of it, and
#: every start waits out that half (StoreClock.until_past).
QUICK_ROUND_TRIP = 0.0002
SYNC_TRIES = 5


class StoreClock:
    """``now()`` in the store's time, so every worker agrees on what is due and when leases end.

    The offset is measured as ``store_time - local_midpoint`` of one round trip,
    so its error is at most half that round trip (the quickest of up to
    :data:`SYNC_TRIES`); it is refreshed from the worker's heartbeat. Reading ``offset`` and ``now()`` is safe from any thread.
    """

    def __init__(self) -> None:
        self.offset = timedelta(0)
        self.uncertainty = timedelta(0)
        self.measured = False
        self._warned = False

    def now(self) -> datetime:
        offset = self.offset
        return datetime.now(UTC) + offset if offset else datetime.now(UTC)

    def local(self, instant: datetime) -> float:
        """Seconds from now (on this host's clock) until the store's ``instant``."""
        return (instant - self.now()).total_seconds()

    def until_past(self, instant: datetime) -> float:
        """Seconds until the store's clock has surely reached ``instant`` (<= 0: it has).

        :meth:`local` plus the offset's uncertainty: a task started when this
        reaches 0 starts at or after its time on the store's clock, whatever
        the error of the measured offset.
        """
        return (instant - self.now() + self.uncertainty).total_seconds()

    async def sync(self, store: DataStore) -> None:
        """Measure the offset against ``store`` (its errors propagate)."""
        best: tuple[float, datetime, datetime] | None = None
        for _ in range(SYNC_TRIES):
            before = time.monotonic()
            local_before = datetime.now(UTC)
            store_time = await store.current_time()
            trip = time.monotonic() - before
            if best is None or trip < best[0]:
                best = (trip, local_before, store_time)
            if trip <= QUICK_ROUND_TRIP:
                break
        assert best is not None
        round_trip, local_before, store_time = best
        midpoint = local_before + timedelta(seconds=round_trip / 2)
        self.offset = store_time - midpoint
        self.uncertainty = timedelta(seconds=round_trip / 2)
        self.measured = True
        if abs(self.offset) > SKEW_WARNING and not self._warned:
            self._warned = True
            log.warning(
                "this host's clock is %.3f s %s the datastore's; the worker uses the "
                "datastore's clock for due times and leases",
                abs(self.offset.total_seconds()),
                "behind" if self.offset > timedelta(0) else "ahead of",
            )
