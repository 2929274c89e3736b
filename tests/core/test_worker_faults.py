"""Once per occurrence under pressure, in one process: blocked loops, slow replies, skewed clocks,
changes inside the prefetch window, callbacks that won't stop, and settings that would break it.

Workers that must not share an event loop run on threads of their own, each with its own loop,
over one in-memory store (its methods are thread-safe). Across processes and real servers the
same promises are proven in tests/resilience/test_worker_faults.py.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import pytest

from taskshed.claims import Completion
from taskshed.datastores import InMemoryDataStore
from taskshed.models import Task, TaskExecutionTime
from taskshed.timeutils import utcnow
from taskshed.workers import EventDrivenWorker, PollingWorker
from taskshed.workers.base import BaseWorker
from tests.support.waiting import wait_until


class LoopThread:
    """An event loop on a thread of its own, for a worker that must not share the test's loop."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def run(self, coro: Awaitable[Any], timeout: float = 30.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)  # type: ignore[arg-type]

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()


@contextmanager
def worker_on_a_thread(make: Callable[[], BaseWorker]) -> Iterator[BaseWorker]:
    """Build and start a worker on its own loop and thread; shut it down afterwards."""
    thread = LoopThread()

    async def build() -> BaseWorker:
        worker = make()
        await worker.start()
        return worker

    worker = thread.run(build())
    try:
        yield worker
    finally:
        thread.run(worker.shutdown())
        thread.close()


# ---------------------------------------------------------------------- settings


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"lease": 1e12}, "lease must be between"),
        ({"lease": 0.075}, "lease must be between"),
        ({"lease": 3, "prefetch": 2.5}, "prefetch"),
        ({"lease": 3, "prefetch": 1.0}, "prefetch"),
        ({"batch_size": 0}, "batch_size"),
        ({"batch_size": 1_000_000}, "batch_size"),
        ({"max_concurrency": 0}, "max_concurrency"),
        ({"max_attempts": 0}, "max_attempts"),
        ({"shutdown_timeout": -1}, "shutdown_timeout"),
        ({"retry_backoff": 10, "retry_backoff_max": 1}, "retry_backoff_max"),
    ],
)
def test_unsafe_settings_are_refused_at_construction(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        EventDrivenWorker({}, InMemoryDataStore(), **options)


def test_the_documented_defaults_hold() -> None:
    event = EventDrivenWorker({}, InMemoryDataStore())
    polling = PollingWorker({}, InMemoryDataStore())
    assert event.max_sleep == timedelta(seconds=1)
    assert event.prefetch == timedelta(milliseconds=50)
    assert polling.polling_interval == timedelta(seconds=3)
    assert polling.prefetch == timedelta(0)
    for worker in (event, polling):
        assert worker.max_concurrency == 100
        assert worker.lease == timedelta(seconds=30)
        assert worker.batch_size == 100
        assert worker.shutdown_timeout == 30.0
        assert worker.options.max_attempts == 1
        assert worker.options.heartbeat_period == 10.0  # every third of the lease


# ---------------------------------------------------------------------- blocked event loop


@pytest.mark.parametrize("style", ["async-blocking", "plain-def"])
def test_a_callback_blocking_its_loop_keeps_its_lease_and_starts_once(
    style: str, caplog: pytest.LogCaptureFixture
) -> None:
    store = InMemoryDataStore()
    starts: list[float] = []

    async def blocks_the_loop() -> None:
        starts.append(time.monotonic())
        time.sleep(5)  # noqa: ASYNC251 - a blocking library call, inside async def, on purpose

    def plain() -> None:
        starts.append(time.monotonic())
        time.sleep(5)

    callback = blocks_the_loop if style == "async-blocking" else plain
    # Blocked for two and a half leases: only the heartbeat's renewals keep the claim.
    options: dict[str, Any] = {"lease": 2, "loop_block_warning": 0.5}
    caplog.set_level(logging.WARNING, logger="taskshed.workers")
    with (
        worker_on_a_thread(lambda: EventDrivenWorker({"job": callback}, store, **options)),
        worker_on_a_thread(
            lambda: PollingWorker({"job": callback}, store, polling_interval=0.05, **options)
        ),
    ):
        asyncio.run(store.add_tasks([Task(callback="job", task_id="t")]))
        deadline = time.monotonic() + 15
        while asyncio.run(store.fetch_tasks(["t"])) and time.monotonic() < deadline:
            time.sleep(0.05)
    assert len(starts) == 1, f"the occurrence started {len(starts)} times"
    assert asyncio.run(store.fetch_tasks(["t"])) == []
    if style == "async-blocking":
        assert "blocked" in caplog.text and "'job'" in caplog.text, (
            "the loop watchdog did not name the blocking callback"
        )


# ---------------------------------------------------------------------- a slow completion reply


class SlowReplies(InMemoryDataStore):
    """A real in-memory store whose completion *replies* arrive late (the write is already done)."""

    delay = 0.0

    def __init__(self) -> None:
        super().__init__()
        self.late_reply_arrived = asyncio.Event()

    async def complete_tasks(self, completions: Any) -> set[str]:
        applied = await super().complete_tasks(completions)
        if self.delay:
            await asyncio.sleep(self.delay)
            self.late_reply_arrived.set()
        return applied

    def sibling(self) -> InMemoryDataStore:
        return super().sibling()  # a plain store on the same tasks: its replies are prompt


async def test_a_late_completion_reply_does_not_drop_the_claim_of_the_next_occurrence() -> None:
    store = SlowReplies()
    runs: list[datetime] = []
    second_running = asyncio.Event()
    release = asyncio.Event()

    async def job() -> None:
        runs.append(utcnow())
        if len(runs) == 2:
            second_running.set()
            await release.wait()

    first_at = utcnow()
    await store.add_tasks(
        [
            Task(
                callback="job",
                run_at=first_at,
                task_id="r",
                run_type="recurring",
                interval=timedelta(milliseconds=200),
            )
        ]
    )
    worker = EventDrivenWorker({"job": job}, store, lease=2, max_sleep=0.05)
    # Occurrence 1's completion is written at once but its reply takes 3 s (longer than the
    # lease), while the worker claims occurrence 2 (due 0.2 s later) within a tenth of a second.
    store.delay = 3.0
    await worker.start()
    try:
        await asyncio.wait_for(second_running.wait(), 10)
        await asyncio.wait_for(store.late_reply_arrived.wait(), 10)
        store.delay = 0.0
        # Occurrence 2's claim must still be held and renewed for longer than a lease,
        # keeping a second worker away.
        held = [c.task_id for c in worker.held_claims()]
        assert held == ["r"], f"the worker forgot the claim it holds (held: {held})"
        with worker_on_a_thread(
            lambda: PollingWorker({"job": job}, store.sibling(), polling_interval=0.05, lease=2)
        ):
            await asyncio.sleep(3.0)  # one and a half leases: renewals keep it away
        assert len(runs) == 2, f"occurrence 2 started again elsewhere ({len(runs)} runs)"
    finally:
        release.set()
        await worker.shutdown()


# ---------------------------------------------------------------------- the store's clock


class ClockAhead(InMemoryDataStore):
    """A store whose clock runs ``ahead`` of this host's (as a server on another host may)."""

    ahead = timedelta(0)

    async def current_time(self) -> datetime:
        return utcnow() + self.ahead

    def sibling(self) -> InMemoryDataStore:
        return copy.copy(self)  # a new object on the same tasks, as far ahead


@pytest.mark.parametrize("ahead", [timedelta(seconds=-30), timedelta(seconds=30)])
async def test_due_times_are_judged_by_the_store_clock_not_the_host(ahead: timedelta) -> None:
    store = ClockAhead()
    store.ahead = ahead
    started: list[datetime] = []

    async def job() -> None:
        started.append(await store.current_time())

    store_now = await store.current_time()
    due = store_now + timedelta(seconds=1.5)
    await store.add_tasks([Task(callback="job", run_at=due, task_id="t")])
    worker = EventDrivenWorker({"job": job}, store, lease=5)
    await worker.start()
    try:
        await wait_until(lambda: bool(started), timeout=10, what="the task to start")
    finally:
        await worker.shutdown()
    lateness = (started[0] - due).total_seconds()
    # 60 s off if the offset were ignored or of the wrong sign; a loaded box may add seconds.
    assert 0 <= lateness < 5.0, f"started {lateness:+.3f} s from its due time by the store's clock"


# ---------------------------------------------------------------------- the prefetch window


@pytest.mark.parametrize("change", ["remove", "pause", "retime", "replace"])
async def test_a_task_changed_after_an_early_claim_does_not_start(change: str) -> None:
    store = InMemoryDataStore()
    ran = asyncio.Event()

    async def job() -> None:
        ran.set()

    worker = EventDrivenWorker({"job": job}, store, lease=3, prefetch=0.5)
    claimed = asyncio.Event()
    worker.subscribe(lambda event: claimed.set() if event.kind == "claimed" else None)
    await worker.start()
    try:
        due = utcnow() + timedelta(seconds=1)
        await store.add_tasks([Task(callback="job", run_at=due, task_id="t")])
        await worker.update_schedule()
        await wait_until(lambda: _claimed(store, "t"), timeout=5, what="the early claim")
        if change == "remove":
            await store.remove_tasks(["t"])
        elif change == "pause":
            await store.update_tasks_paused_status(["t"], True)
        elif change == "retime":
            await store.update_execution_times(
                [TaskExecutionTime(task_id="t", run_at=utcnow() + timedelta(hours=1))]
            )
        else:
            await store.add_tasks(
                [Task(callback="job", run_at=due + timedelta(hours=1), task_id="t")]
            )
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(ran.wait(), 1.5)
    finally:
        await worker.shutdown()
    if change == "pause":
        [task] = await store.fetch_tasks(["t"])
        assert task.paused and task.claimed_by is None, "the paused task's claim was not released"


async def _claimed(store: InMemoryDataStore, task_id: str) -> bool:
    found = await store.fetch_tasks([task_id])
    return bool(found) and found[0].claimed_by is not None


# ---------------------------------------------------------------------- bounded shutdown


async def test_shutdown_abandons_a_callback_that_ignores_cancellation(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = InMemoryDataStore()
    started = asyncio.Event()
    let_go = False

    async def stubborn() -> None:
        started.set()
        while not let_go:
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                continue  # swallows every cancellation (until the test lets it go)

    await store.add_tasks([Task(callback="stubborn", task_id="t")])
    worker = EventDrivenWorker(
        {"stubborn": stubborn}, store, lease=2, shutdown_timeout=0.2, shutdown_grace=0.3
    )
    await worker.start()
    await asyncio.wait_for(started.wait(), 5)
    began = time.monotonic()
    await asyncio.wait_for(worker.shutdown(), 10)
    assert time.monotonic() - began < 3, "shutdown() waited for a callback that won't stop"
    assert "'stubborn'" in caplog.text and "abandoned" in caplog.text
    # The abandoned claim lapses after the lease; it is not handed to another worker at once.
    [task] = await store.fetch_tasks(["t"])
    assert task.claimed_by is not None, "an abandoned (still running) callback's claim was released"
    let_go = True
    for pending in asyncio.all_tasks() - {asyncio.current_task()}:
        pending.cancel()


def test_abort_releases_every_claim_from_another_thread() -> None:
    store = InMemoryDataStore()
    started = threading.Event()

    async def hang() -> None:
        started.set()
        time.sleep(5)  # noqa: ASYNC251 - blocks the loop on purpose: only the heartbeat can act

    with worker_on_a_thread(lambda: EventDrivenWorker({"hang": hang}, store, lease=30)) as worker:
        asyncio.run(store.add_tasks([Task(callback="hang", task_id="t")]))
        assert started.wait(10)
        began = time.monotonic()
        worker.abort(timeout=5)
        assert time.monotonic() - began < 3.5, "abort waited for the blocked loop (5 s)"
        [task] = asyncio.run(store.fetch_tasks(["t"]))
        assert task.claimed_by is None, "abort did not release the claim"


async def test_completion_outcomes_are_fenced_by_token() -> None:
    """A completion for an occurrence that was re-claimed elsewhere changes nothing."""
    store = InMemoryDataStore()
    now = utcnow()
    await store.add_tasks([Task(callback="x", run_at=now, task_id="t")])
    [old] = await store.acquire_tasks(
        worker_id="a", now=now, lease_until=now + timedelta(seconds=1), limit=1
    )
    later = now + timedelta(seconds=2)
    [new] = await store.acquire_tasks(
        worker_id="b", now=later, lease_until=later + timedelta(seconds=30), limit=1
    )
    assert await store.complete_tasks([Completion("t", old.token, None)]) == set()
    assert [c.task_id for c in [new]] == ["t"]
    assert await store.fetch_tasks(["t"])
