"""How the event-driven worker keeps its lag low: few store calls, and starts on the dot, never early.

Counted on a real in-memory store (subclassed to count); the speed itself is
shown in benchmarks/ (docs/benchmarks.md), not timed here.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import time
from datetime import datetime, timedelta
from typing import Any

from taskshed.datastores import InMemoryDataStore
from taskshed.models import Task
from taskshed.timeutils import utcnow
from taskshed.workers import EventDrivenWorker
from taskshed.workers.clock import StoreClock
from tests.support.waiting import wait_until


class CallCounts(InMemoryDataStore):
    """A real store counting the claims, checks and completions asked of it."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.calls: dict[str, list[int]] = {"acquire": [], "confirm": [], "complete": []}

    def sibling(self) -> InMemoryDataStore:
        return copy.copy(self)

    async def acquire_tasks(self, **kwargs: Any) -> Any:
        claims = await super().acquire_tasks(**kwargs)
        if claims:
            self.calls["acquire"].append(len(claims))
        return claims

    async def confirm_claims(self, claims: Any, lease_until: datetime) -> set[str]:
        self.calls["confirm"].append(len(claims))
        return await super().confirm_claims(claims, lease_until)

    async def complete_tasks(self, completions: Any) -> set[str]:
        self.calls["complete"].append(len(completions))
        return await super().complete_tasks(completions)


async def _run_spread(
    store: CallCounts, n: int, spacing: float, **options: Any
) -> list[tuple[datetime, datetime]]:
    """Run ``n`` tasks due ``spacing`` seconds apart, 0.5 s from now; (start, due) of each."""
    starts: list[tuple[datetime, datetime]] = []

    async def job(i: int) -> None:
        starts.append((utcnow(), due[i]))

    worker = EventDrivenWorker({"job": job}, store, **options)
    base = utcnow() + timedelta(seconds=0.5)
    due = [base + timedelta(seconds=spacing * i) for i in range(n)]
    await store.add_tasks(
        [
            Task(callback="job", run_at=due[i], task_id=f"t{i:03d}", kwargs={"i": i})
            for i in range(n)
        ]
    )
    await worker.start()
    try:
        await wait_until(lambda: len(starts) == n, timeout=15, what=f"{n} runs")
        await wait_until(lambda: sum(store.calls["complete"]) >= n, timeout=5, what="completions")
    finally:
        await worker.shutdown()
    return starts


async def test_prefetched_tasks_start_at_their_time_never_before() -> None:
    store = CallCounts()
    starts = await _run_spread(store, 60, 0.003)
    early = [(start, due) for start, due in starts if start < due]
    assert not early, f"{len(early)} of 60 prefetched tasks started before their time: {early[:3]}"


async def test_one_claim_takes_the_tasks_of_half_a_prefetch_window() -> None:
    # 100 tasks 3 ms apart, prefetch 50 ms: waking half a window ahead, a claim finds about
    # eight; waking a whole window ahead would find one new task per claim.
    store = CallCounts()
    await _run_spread(store, 100, 0.003)
    claims = store.calls["acquire"]
    assert len(claims) <= 40, f"{len(claims)} claims for 100 tasks (sizes {claims})"


async def test_checks_asked_within_a_few_milliseconds_share_one_store_call() -> None:
    store = CallCounts()
    await _run_spread(store, 60, 0.001)
    checks = store.calls["confirm"]
    # (A task claimed too close to its time to be checked in time starts unchecked.)
    assert 0 < sum(checks) <= 60, f"a prefetched task is checked at most once: {checks}"
    assert len(checks) <= 30, f"{len(checks)} checks for 60 tasks 1 ms apart: {checks}"


async def test_runs_that_end_close_together_share_one_completion_write() -> None:
    store = CallCounts()
    await _run_spread(store, 60, 0.003)
    writes = store.calls["complete"]
    assert len(writes) <= 30, f"{len(writes)} completion writes for 60 runs 3 ms apart: {writes}"


class SlowFirstTrips(InMemoryDataStore):
    """A store whose clock answers in 1.2 ms twice, then at once; it is 10 s ahead of this host."""

    def __init__(self) -> None:
        super().__init__()
        self.trips = 0

    async def current_time(self) -> datetime:
        self.trips += 1
        if self.trips <= 2:
            time.sleep(0.0012)  # noqa: ASYNC251 - an exact slow trip (a timer rounds up)
        return utcnow() + timedelta(seconds=10)


async def test_the_clock_offset_comes_from_a_quick_round_trip() -> None:
    clock = StoreClock()
    store = SlowFirstTrips()
    await clock.sync(store)
    assert store.trips >= 3, f"a 1.2 ms round trip was trusted ({store.trips} trip(s))"
    # A slow trip (1.2 ms or more) would leave an uncertainty of 0.6 ms or more.
    assert clock.uncertainty < timedelta(milliseconds=0.6), clock.uncertainty
    assert abs(clock.offset - timedelta(seconds=10)) < timedelta(milliseconds=1), clock.offset


class UncertainClock(InMemoryDataStore):
    """A store on this host's clock whose every reading takes 3 ms to arrive (a slow link)."""

    def sibling(self) -> InMemoryDataStore:
        return copy.copy(self)

    async def current_time(self) -> datetime:
        time.sleep(0.003)  # noqa: ASYNC251 - a slow round trip, exactly
        return utcnow()


async def test_a_start_waits_out_the_clock_offsets_uncertainty() -> None:
    # Each trip takes 3 ms, so the offset is known to +-1.5 ms only; a worker starting
    # on its estimate alone could start up to 1.5 ms early. It must wait that out.
    store = UncertainClock()
    starts: list[tuple[datetime, datetime]] = []

    async def job(i: int) -> None:
        starts.append((utcnow(), due[i]))

    worker = EventDrivenWorker({"job": job}, store)
    base = utcnow() + timedelta(seconds=0.5)
    due = [base + timedelta(seconds=0.01 * i) for i in range(20)]
    await store.add_tasks(
        [Task(callback="job", run_at=due[i], task_id=f"u{i}", kwargs={"i": i}) for i in range(20)]
    )
    await worker.start()
    try:
        await wait_until(lambda: len(starts) == 20, timeout=10, what="20 runs")
    finally:
        await worker.shutdown()
    assert worker.clock.uncertainty >= timedelta(milliseconds=1), worker.clock.uncertainty
    early = [(start, at) for start, at in starts if start < at]
    assert not early, f"{len(early)} of 20 started before their time: {early[:3]}"


class SlowLookAhead(InMemoryDataStore):
    """A real store whose wake-up look-up takes ``delay`` seconds (a slow server)."""

    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay
        self.lookups_begun = 0
        self.lookups_ended = 0

    def sibling(self) -> InMemoryDataStore:
        return copy.copy(self)

    async def fetch_next_wakeup(self, **kwargs: Any) -> datetime | None:
        self.lookups_begun += 1
        await asyncio.sleep(self.delay)
        try:
            return await super().fetch_next_wakeup(**kwargs)
        finally:
            self.lookups_ended += 1


async def test_a_change_heard_during_the_wakeup_lookup_is_claimed_without_waiting_for_it() -> None:
    """A notice that arrives while the store is asked for the next wake-up isn't held up by it."""
    store = SlowLookAhead(delay=2.0)
    started = asyncio.Event()

    async def job() -> None:
        started.set()

    worker = EventDrivenWorker({"job": job}, store, max_sleep=30)
    await worker.start()
    try:
        await wait_until(lambda: store.lookups_begun >= 1, timeout=5, what="a look-up")
        lookups = store.lookups_begun
        # Another process adds a due task and its notice arrives, mid look-up.
        await store.add_tasks([Task(callback="job", run_at=utcnow(), task_id="now")])
        heard = time.monotonic()
        await worker.update_schedule()
        await asyncio.wait_for(started.wait(), timeout=10)
        waited = time.monotonic() - heard
        assert store.lookups_ended < lookups or waited < store.delay / 2, (
            f"the task started {waited:.2f} s after the notice: it waited for the look-up"
        )
    finally:
        await worker.shutdown()
    # The overtaken look-up was waited for at shutdown, not left running.
    assert store.lookups_ended == store.lookups_begun


def _every_30_ms(first: datetime) -> Task:
    """The "tick" task: every 30 ms from ``first``."""
    return Task(
        callback="tick",
        run_at=first,
        run_type="recurring",
        interval=timedelta(milliseconds=30),
        task_id="fast",
    )


async def test_lingering_completions_never_hold_a_short_interval_back() -> None:
    """A run's completion may wait for company, but is written before the task's next run."""
    store = CallCounts()
    runs: list[float] = []

    async def tick() -> None:
        runs.append(time.monotonic())

    worker = EventDrivenWorker({"tick": tick}, store)
    await store.add_tasks([_every_30_ms(utcnow())])
    await worker.start()
    try:
        await wait_until(lambda: len(runs) >= 16, timeout=5, what="16 runs")
    finally:
        await worker.shutdown()
    gaps = sorted(b - a for a, b in itertools.pairwise(runs))
    # Every 30 ms, not every time a lingering write happens to go out.
    assert gaps[len(gaps) // 2] < 0.045, f"median gap {gaps[len(gaps) // 2] * 1000:.0f} ms"


async def test_a_near_next_run_cuts_a_linger_already_under_way() -> None:
    """A one-off's write is lingering when a 30 ms interval finishes: that run isn't held back."""
    store = CallCounts()
    runs: list[float] = []

    async def once() -> None:
        return None

    async def tick() -> None:
        runs.append(time.monotonic())

    worker = EventDrivenWorker({"once": once, "tick": tick}, store)
    start = utcnow() + timedelta(seconds=0.3)
    await store.add_tasks(
        [
            Task(callback="once", run_at=start, task_id="first"),
            _every_30_ms(start + timedelta(milliseconds=10)),
        ]
    )
    await worker.start()
    try:
        await wait_until(lambda: len(runs) >= 2, timeout=5, what="two runs")
    finally:
        await worker.shutdown()
    # The one-off's 100 ms linger began first; the tick's next run is 30 ms on, not after it.
    assert runs[1] - runs[0] < 0.07, (
        f"second run {(runs[1] - runs[0]) * 1000:.0f} ms after the first"
    )
