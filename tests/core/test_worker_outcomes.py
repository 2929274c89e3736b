"""How a run's end is recorded: retries, failures, wake-ups, the held claims and the registry.

The first half checks :func:`taskshed.workers.outcomes.settle` (what a finished
run writes) with fixed times and a seeded random source; the second half runs
a real worker on the in-memory store and watches what it does through public
means only (the store, ``worker.info()``, logs).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pluggy
import pytest

from taskshed.claims import Claim
from taskshed.datastores import InMemoryDataStore
from taskshed.errors import Retry, SchemaVersionError
from taskshed.models import Task
from taskshed.timeutils import utcnow
from taskshed.workers import EventDrivenWorker
from taskshed.workers.options import WorkerOptions
from taskshed.workers.outcomes import settle
from taskshed.workers.running import Outcome, run_callback
from tests.support.waiting import wait_until

NOW = datetime(2030, 1, 7, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
BOOM = RuntimeError("boom (expected by the test)")


def claim_of(task: Task) -> Claim:
    return Claim(task, "token-1", NOW + timedelta(seconds=30))


def failed(claim: Claim, *, options: WorkerOptions | None = None, seed: int = 1) -> Any:
    return settle(
        claim,
        Outcome("failed", BOOM),
        started_at=NOW,
        now=NOW,
        options=options or WorkerOptions.build(),
        rng=random.Random(seed),
    )


# ---------------------------------------------------------------------- settle()


def test_a_recurring_task_that_used_its_attempts_moves_on_to_its_next_occurrence() -> None:
    task = Task(
        callback="cb", run_at=NOW, run_type="recurring", interval=HOUR, task_id="r", max_attempts=2
    )
    task.attempts = 1  # this is the second, last attempt
    settlement = failed(claim_of(task))
    completion = settlement.completion
    assert completion.failed_at is None, "a recurring task was set aside as failed"
    assert completion.next_run_at == NOW + HOUR
    assert completion.attempts == 0 and completion.last_error == "RuntimeError: " + str(BOOM)
    assert settlement.events == ("failed",)


def test_a_one_off_that_used_its_attempts_is_kept_as_failed() -> None:
    settlement = failed(claim_of(Task(callback="cb", run_at=NOW, task_id="o")))
    assert settlement.completion.failed_at == NOW
    assert settlement.completion.next_run_at is None and settlement.completion.attempts == 1


def test_the_task_s_own_max_attempts_beats_the_worker_s() -> None:
    task = Task(callback="cb", run_at=NOW, task_id="o", max_attempts=3)
    settlement = failed(claim_of(task), options=WorkerOptions.build(max_attempts=1))
    assert settlement.events == ("retried",) and settlement.completion.failed_at is None
    assert settlement.completion.attempts == 1


@pytest.mark.parametrize("seed", range(5))
def test_the_first_retry_waits_the_task_s_own_backoff_jittered(seed: int) -> None:
    task = Task(
        callback="cb", run_at=NOW, task_id="o", max_attempts=5, retry_backoff=timedelta(minutes=10)
    )
    settlement = failed(claim_of(task), options=WorkerOptions.build(retry_backoff=1), seed=seed)
    delay = (settlement.completion.next_run_at - NOW).total_seconds()
    assert 300 <= delay <= 600, f"the task's retry_backoff (600 s) was not used: {delay} s"


@pytest.mark.parametrize("seed", range(5))
def test_retry_delays_double_up_to_retry_backoff_max(seed: int) -> None:
    options = WorkerOptions.build(max_attempts=100, retry_backoff=1, retry_backoff_max=5)
    delays = []
    for attempts in range(8):
        task = Task(callback="cb", run_at=NOW, task_id="o")
        task.attempts = attempts
        settlement = failed(claim_of(task), options=options, seed=seed)
        delays.append((settlement.completion.next_run_at - NOW).total_seconds())
    ceilings = [1, 2, 4, 5, 5, 5, 5, 5]
    for delay, ceiling in zip(delays, ceilings, strict=True):
        assert ceiling / 2 <= delay <= ceiling, (delays, ceilings)


def test_retry_with_a_delay_retries_after_exactly_that_delay() -> None:
    task = Task(callback="cb", run_at=NOW, task_id="o", max_attempts=2)
    settlement = settle(
        claim_of(task),
        Outcome("retry", Retry(delay=7), 7),
        started_at=NOW,
        now=NOW,
        options=WorkerOptions.build(),
        rng=random.Random(1),
    )
    assert settlement.completion.next_run_at == NOW + timedelta(seconds=7)


def test_a_success_after_failures_starts_the_next_occurrence_with_no_attempts() -> None:
    task = Task(callback="cb", run_at=NOW, run_type="recurring", interval=HOUR, task_id="r")
    task.attempts, task.last_error = 2, "RuntimeError: earlier"
    settlement = settle(
        claim_of(task), Outcome("succeeded"), started_at=NOW, now=NOW, options=WorkerOptions.build()
    )
    assert settlement.completion.attempts == 0 and settlement.completion.last_error is None
    assert settlement.completion.next_run_at == NOW + HOUR


def succeeded(task: Task, now: datetime = NOW) -> Any:
    return settle(
        claim_of(task), Outcome("succeeded"), started_at=now, now=now, options=WorkerOptions.build()
    ).completion


def test_jitter_spreads_the_next_run_within_it_and_keeps_the_nominal_time() -> None:
    jitter = timedelta(minutes=5)
    task = Task(
        callback="cb", run_at=NOW, run_type="recurring", interval=HOUR, task_id="r", jitter=jitter
    )
    runs = set()
    for _ in range(20):
        completion = succeeded(task)
        assert NOW + HOUR <= completion.next_run_at <= NOW + HOUR + jitter
        if completion.next_run_at != NOW + HOUR:
            assert completion.occurrence_at == NOW + HOUR, "the nominal time was not kept"
        runs.add(completion.next_run_at)
    assert len(runs) > 10, "jitter did not move the runs"


def test_a_jittered_occurrence_is_followed_by_the_nominal_next_one() -> None:
    jitter = timedelta(minutes=5)
    task = Task(
        callback="cb", run_at=NOW + timedelta(minutes=3), run_type="recurring", interval=HOUR,
        task_id="r", jitter=jitter, occurrence_at=NOW,
    )  # fmt: skip
    completion = succeeded(task, NOW + timedelta(minutes=3))
    assert NOW + HOUR <= completion.next_run_at <= NOW + HOUR + jitter, "the schedule drifted"


def test_a_schedule_stops_at_end_at() -> None:
    end = NOW + timedelta(minutes=90)
    task = Task(
        callback="cb", run_at=NOW, run_type="recurring", interval=HOUR, task_id="r", end_at=end
    )
    assert succeeded(task).next_run_at == NOW + HOUR
    last = Task(
        callback="cb", run_at=NOW + HOUR, run_type="recurring", interval=HOUR, task_id="r",
        end_at=end,
    )  # fmt: skip
    assert succeeded(last, NOW + HOUR).removes, "a run was scheduled after end_at"
    # The last occurrence failing ends the schedule too (nothing is kept as failed).
    ended = failed(claim_of(last)).completion
    assert ended.removes and ended.failed_at is None


async def test_a_retried_occurrence_keeps_the_schedule_from_drifting() -> None:
    """A retry runs off the schedule; the occurrence after it is the nominal one."""
    store = InMemoryDataStore()
    task = Task(
        callback="cb", run_at=NOW, run_type="recurring", interval=HOUR, task_id="r", max_attempts=3
    )
    await store.add_tasks([task])
    options = WorkerOptions.build(retry_backoff=60)
    [first] = await store.acquire_tasks(
        worker_id="w", now=NOW, lease_until=NOW + timedelta(minutes=5), limit=1
    )
    retry = settle(
        first, Outcome("failed", BOOM), started_at=NOW, now=NOW, options=options,
        rng=random.Random(1),
    ).completion  # fmt: skip
    assert retry.next_run_at is not None and retry.next_run_at > NOW
    await store.complete_tasks([retry])
    later = NOW + timedelta(minutes=3)  # past the retry time
    [second] = await store.acquire_tasks(
        worker_id="w", now=later, lease_until=later + timedelta(minutes=5), limit=1
    )
    success = settle(
        second, Outcome("succeeded"), started_at=later, now=later, options=options
    ).completion
    assert success.next_run_at == NOW + HOUR, "the schedule moved with the retry"


async def test_a_callback_s_own_timeout_error_is_a_failure_not_a_timeout() -> None:
    async def raises_timeout() -> None:
        raise TimeoutError("the callback's own (expected by the test)")

    with concurrent.futures.ThreadPoolExecutor(1) as executor:
        outcome = await run_callback(
            raises_timeout, Task(callback="cb"), timeout=30, executor=executor
        )
    assert outcome.kind == "failed" and isinstance(outcome.error, TimeoutError)


# ---------------------------------------------------------------------- a running worker


@pytest.fixture
def taskshed_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    caplog.set_level(logging.INFO, logger="taskshed")
    yield caplog


async def test_a_retry_due_soon_wakes_a_worker_that_sleeps_long() -> None:
    """The recorded retry is sooner than anything the sleeping worker knew of: it wakes for it."""
    store = InMemoryDataStore()
    runs: list[datetime] = []
    second = asyncio.Event()

    async def flaky() -> None:
        runs.append(utcnow())
        if len(runs) == 1:
            raise RuntimeError("first attempt fails (expected by the test)")
        second.set()

    worker = EventDrivenWorker(
        {"flaky": flaky}, store, max_sleep=timedelta(minutes=30), max_attempts=2, retry_backoff=0.2
    )
    await worker.start()
    try:
        await store.add_tasks([Task(callback="flaky", task_id="t")])
        await worker.update_schedule()
        # Without the wake-up the worker sleeps until the lease it knew of ends (30 s).
        await asyncio.wait_for(second.wait(), 10)
    finally:
        await worker.shutdown()
    assert len(runs) == 2


async def test_a_recorded_completion_leaves_nothing_held(
    taskshed_logs: pytest.LogCaptureFixture,
) -> None:
    """Once its outcome is written a claim is no longer held (nor renewed, nor reported lost)."""
    store = InMemoryDataStore()
    ids = [f"t{n}" for n in range(3)]

    async def job() -> None:
        pass

    worker = EventDrivenWorker({"job": job}, store)  # lease 30 s: a renewal every 10 s
    await worker.start()
    try:
        await store.add_tasks([Task(callback="job", task_id=task_id) for task_id in ids])
        await worker.update_schedule()

        async def all_recorded() -> bool:
            return not await store.fetch_tasks(ids)

        await wait_until(all_recorded, timeout=10, what="every outcome recorded")
        # Recorded and dropped from the held claims in one step of the loop: no wait here.
        assert worker.info().held == 0, "a completed claim is still held (and would be renewed)"
        await wait_until(lambda: worker.info().running == 0, timeout=5, what="no run left")
    finally:
        await worker.shutdown()
    assert "lease lost" not in taskshed_logs.text


class SlowWrites(InMemoryDataStore):
    """A real store whose completions take a while to be written."""

    async def complete_tasks(self, completions: Any) -> set[str]:
        await asyncio.sleep(0.3)
        return await super().complete_tasks(completions)


async def test_shutdown_writes_the_outcome_of_a_run_that_ends_meanwhile() -> None:
    store = SlowWrites()
    started, release = asyncio.Event(), asyncio.Event()

    async def job() -> None:
        started.set()
        await release.wait()

    worker = EventDrivenWorker({"job": job}, store)
    await worker.start()
    await store.add_tasks([Task(callback="job", task_id="t")])
    await worker.update_schedule()
    await asyncio.wait_for(started.wait(), 10)
    release.set()  # the run ends while shutdown waits for it; its write takes 0.3 s
    await worker.shutdown()
    assert await store.fetch_tasks(["t"]) == [], "shutdown returned before the outcome was written"


async def test_a_lease_lost_while_the_callback_runs_is_reported(
    taskshed_logs: pytest.LogCaptureFixture,
) -> None:
    store = InMemoryDataStore()
    started, release = asyncio.Event(), asyncio.Event()
    lost: list[str] = []

    async def long_job() -> None:
        started.set()
        await release.wait()

    def on_event(event: Any) -> None:
        if event.kind == "lease_lost":
            lost.append(event.task.task_id)

    worker = EventDrivenWorker({"long_job": long_job}, store, lease=3)
    await worker.start()
    worker.subscribe(on_event)
    try:
        await store.add_tasks([Task(callback="long_job", task_id="t")])
        await worker.update_schedule()
        await asyncio.wait_for(started.wait(), 10)
        await store.remove_tasks(["t"])  # the claim is gone: the next renewal finds out
        await wait_until(lambda: "lease lost while its callback runs" in taskshed_logs.text,
                         timeout=10, what="the lost lease to be logged")  # fmt: skip
        await wait_until(lambda: lost == ["t"], timeout=10, what="a lease_lost event")
        assert worker.info().held == 0
    finally:
        release.set()
        await worker.shutdown()


async def test_the_heartbeat_keeps_the_registry_entry_fresh() -> None:
    store = InMemoryDataStore()
    started, release = asyncio.Event(), asyncio.Event()

    async def long_job() -> None:
        started.set()
        await release.wait()

    worker = EventDrivenWorker({"long_job": long_job}, store, lease=3)
    await worker.start()
    try:
        await wait_until(
            lambda: _registered(store, worker.worker_id), timeout=10, what="registration"
        )
        [first] = await store.fetch_workers(utcnow())
        await store.add_tasks([Task(callback="long_job", task_id="t")])
        await worker.update_schedule()
        await asyncio.wait_for(started.wait(), 10)

        async def refreshed() -> bool:
            entries = await store.fetch_workers(utcnow())
            return (
                bool(entries)
                and entries[0].heartbeat_at > first.heartbeat_at
                and (entries[0].running == 1)
            )

        # A beat every second (a third of the lease): the entry shows the running callback.
        await wait_until(refreshed, timeout=10, what="a refreshed registry entry")
    finally:
        release.set()
        await worker.shutdown()
    assert await store.fetch_workers(utcnow()) == [], "a stopped worker stays registered"


async def _registered(store: InMemoryDataStore, worker_id: str) -> bool:
    return [info.worker_id for info in await store.fetch_workers(utcnow())] == [worker_id]


class OldSchema(InMemoryDataStore):
    """A store whose schema needs `taskshed db upgrade`, found out by a worker already running."""

    async def acquire_tasks(self, **options: Any) -> Any:
        raise SchemaVersionError("the schema is too old; run `taskshed db upgrade` (test)")


async def test_a_running_worker_logs_an_old_schema_at_error_on_every_retry(
    taskshed_logs: pytest.LogCaptureFixture,
) -> None:
    worker = EventDrivenWorker({}, OldSchema())
    await worker.start()

    def errors() -> list[logging.LogRecord]:
        return [r for r in taskshed_logs.records if "SchemaVersionError" in r.getMessage()]

    try:
        # Backoff 0.25 s, 0.5 s, 1 s: three retries within a few seconds.
        await wait_until(lambda: len(errors()) >= 3, timeout=15, what="three logged retries")
    finally:
        await worker.shutdown()
    assert {r.levelno for r in errors()} == {logging.ERROR}
    assert all("taskshed db upgrade" in r.getMessage() for r in errors())


async def test_subscriptions_made_before_start_hear_the_events_and_can_be_undone() -> None:
    store = InMemoryDataStore()
    ran = asyncio.Event()
    early: list[str] = []
    dropped: list[str] = []

    async def job() -> None:
        ran.set()

    worker = EventDrivenWorker({"job": job}, store)
    worker.subscribe(
        lambda event: early.append(
            f"{event.kind}:{getattr(event, 'task', None) and event.task.task_id}"
        )
    )
    unsubscribe = worker.subscribe(lambda event: dropped.append(event.kind))
    await worker.start()
    try:
        unsubscribe()  # made before start(), undone after it
        await store.add_tasks([Task(callback="job", task_id="t")])
        await worker.update_schedule()
        await asyncio.wait_for(ran.wait(), 10)
        await wait_until(lambda: "succeeded:t" in early, timeout=10, what="the run's events")
    finally:
        await worker.shutdown()
    assert "started:t" in early, early
    # (The worker's own "started" event may come before the unsubscribe; no task event may.)
    assert not {"claimed", "succeeded"} & set(dropped), dropped


# A one-off's success is settled without a second reading of the clock when nobody is told
# when it ended (no INFO run log, no event observer). These pin the cases that still are.


def _bare() -> pluggy.PluginManager:
    """No plugins: no event observer (this venv has the Prometheus plugin, which observes)."""
    return pluggy.PluginManager("taskshed")


async def _run_one(store: InMemoryDataStore, job: Any, **options: Any) -> None:
    worker = EventDrivenWorker({"job": job}, store, plugin_manager=_bare(), **options)
    await worker.start()
    try:
        await store.add_tasks([Task(callback="job", task_id="t")])
        await worker.update_schedule()

        async def recorded() -> bool:
            found = await store.fetch_tasks(["t"])
            return not found or found[0].failed_at is not None

        await wait_until(recorded, timeout=10, what="the outcome recorded")
    finally:
        await worker.shutdown()


async def test_a_failed_one_off_is_logged_and_kept_as_failed_when_it_ended(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """At the default WARNING level too: a failure is never settled the quiet way."""
    caplog.set_level(logging.WARNING, logger="taskshed")

    async def job() -> None:
        await asyncio.sleep(0.05)
        raise RuntimeError("broken (expected by the test)")

    store = InMemoryDataStore()
    await _run_one(store, job, max_attempts=1)
    [task] = await store.fetch_tasks(["t"])
    assert task.failed_at is not None and task.last_run_at is not None
    assert task.failed_at - task.last_run_at >= timedelta(seconds=0.04), "failed_at is not its end"
    errors = [r for r in caplog.records if r.name == "taskshed.runs" and r.levelno == logging.ERROR]
    assert errors and "RuntimeError: broken" in errors[0].getMessage()


async def test_a_one_off_s_success_is_logged_with_its_duration_at_info(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="taskshed.runs")

    async def job() -> None:
        await asyncio.sleep(0.05)

    await _run_one(InMemoryDataStore(), job)
    [line] = [r for r in caplog.records if r.name == "taskshed.runs"]
    assert "succeeded" in line.getMessage()
    assert line.duration >= 0.04, "the duration is not from the run's end"  # type: ignore[attr-defined]


async def test_a_one_off_s_success_reaches_an_observer_with_its_end() -> None:
    store = InMemoryDataStore()
    seen: list[Any] = []

    async def job() -> None:
        await asyncio.sleep(0.05)

    worker = EventDrivenWorker({"job": job}, store, plugin_manager=_bare())
    worker.subscribe(seen.append)
    await worker.start()
    try:
        await store.add_tasks([Task(callback="job", task_id="t")])
        await worker.update_schedule()
        await wait_until(
            lambda: any(e.kind == "succeeded" for e in seen), timeout=10, what="the event"
        )
    finally:
        await worker.shutdown()
    [event] = [e for e in seen if e.kind == "succeeded"]
    assert event.finished_at - event.started_at >= timedelta(seconds=0.04)
