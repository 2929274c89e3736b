"""Worker mechanics: completion after the callback, concurrency, leases, survival, shutdown."""

import asyncio
from datetime import timedelta

import pytest

from taskshed.datastores import InMemoryDataStore
from taskshed.models import Task
from taskshed.schedulers import AsyncScheduler
from taskshed.timeutils import utcnow
from taskshed.workers import EventDrivenWorker, PollingWorker
from tests.support.waiting import wait_until

WORKERS = [
    pytest.param(lambda cbs, store, **kw: EventDrivenWorker(cbs, store, **kw), id="event-driven"),
    pytest.param(
        lambda cbs, store, **kw: PollingWorker(cbs, store, timedelta(milliseconds=20), **kw),
        id="polling",
    ),
]


@pytest.mark.parametrize("make_worker", WORKERS)
async def test_one_off_task_is_removed_only_after_its_callback_returned(make_worker):
    started, release = asyncio.Event(), asyncio.Event()

    async def slow():
        started.set()
        await release.wait()

    store = InMemoryDataStore()
    worker = make_worker({"slow": slow}, store)
    scheduler = AsyncScheduler(store, worker=worker)
    await scheduler.start()
    await scheduler.add_task("slow", task_id="t")
    await asyncio.wait_for(started.wait(), 5)
    assert await store.fetch_tasks(["t"]), "task vanished while its callback was running"
    release.set()
    await wait_until(lambda: _gone(store, "t"), what="task removal")
    await scheduler.shutdown()


async def _gone(store, task_id):
    return not await store.fetch_tasks([task_id])


@pytest.mark.parametrize("make_worker", WORKERS)
async def test_callbacks_run_with_bounded_concurrency(make_worker):
    running = 0
    peak = 0
    finished = 0
    three_running = asyncio.Event()
    release = asyncio.Event()

    async def job(n):
        nonlocal running, peak, finished
        running += 1
        peak = max(peak, running)
        if running == 3:
            three_running.set()
        await release.wait()
        running -= 1
        finished += 1

    store = InMemoryDataStore()
    worker = make_worker({"job": job}, store, max_concurrency=3)
    scheduler = AsyncScheduler(store, worker=worker)
    await scheduler.start()
    await scheduler.add_tasks(
        [Task(callback="job", run_at=utcnow(), kwargs={"n": i}) for i in range(10)]
    )
    await asyncio.wait_for(three_running.wait(), 5)
    release.set()
    await wait_until(lambda: finished == 10, what="all ten jobs")
    assert peak == 3
    await scheduler.shutdown()


class FlakyStore(InMemoryDataStore):
    """An in-memory store whose claim and completion calls fail a few times first."""

    def __init__(self, acquire_failures, complete_failures):
        super().__init__()
        self.acquire_failures = acquire_failures
        self.complete_failures = complete_failures

    async def acquire_tasks(self, **kwargs):
        if self.acquire_failures:
            self.acquire_failures -= 1
            raise ConnectionError("server went away")
        return await super().acquire_tasks(**kwargs)

    async def complete_tasks(self, completions):
        if self.complete_failures:
            self.complete_failures -= 1
            raise ConnectionError("server went away")
        return await super().complete_tasks(completions)

    async def fetch_next_wakeup(self):
        if self.acquire_failures:
            raise ConnectionError("server went away")
        return await super().fetch_next_wakeup()


@pytest.mark.parametrize("make_worker", WORKERS)
async def test_worker_survives_datastore_errors_and_runs_everything_once(
    make_worker, loop_errors, caplog
):
    runs = []

    async def job(n):
        runs.append(n)

    store = FlakyStore(acquire_failures=3, complete_failures=2)
    await store.add_tasks(
        [Task(callback="job", run_at=utcnow(), task_id=f"t{i}", kwargs={"n": i}) for i in range(5)]
    )
    worker = make_worker({"job": job}, store)
    await worker.start()
    await wait_until(lambda: _all_gone(store), timeout=20, what="every task completed")
    await worker.shutdown()
    assert sorted(runs) == [0, 1, 2, 3, 4]
    assert "server went away" in caplog.text
    assert loop_errors == []


async def _all_gone(store):
    return await InMemoryDataStore.fetch_next_wakeup(store) is None


async def test_shutdown_releases_unfinished_tasks_for_other_workers():
    started = asyncio.Event()

    async def hang():
        started.set()
        await asyncio.Event().wait()

    store = InMemoryDataStore()
    await store.add_tasks([Task(callback="hang", run_at=utcnow(), task_id="t")])
    worker = EventDrivenWorker(
        {"hang": hang}, store, shutdown_timeout=0.1, lease=timedelta(minutes=5)
    )
    await worker.start()
    await asyncio.wait_for(started.wait(), 5)
    await worker.shutdown()
    now = utcnow()
    claims = await store.acquire_tasks(
        worker_id="other", now=now, lease_until=now + timedelta(seconds=5), limit=10
    )
    assert [c.task_id for c in claims] == ["t"]


async def test_a_callback_outliving_its_lease_keeps_it_and_is_not_started_twice():
    lease = timedelta(seconds=2)
    starts = []
    second_start = asyncio.Event()
    release = asyncio.Event()

    async def long_job():
        starts.append(utcnow())
        if len(starts) > 1:
            second_start.set()
        await release.wait()

    store = InMemoryDataStore()
    first = EventDrivenWorker({"long_job": long_job}, store, lease=lease)
    second = PollingWorker({"long_job": long_job}, store, timedelta(milliseconds=20), lease=lease)
    await first.start()
    await store.add_tasks([Task(callback="long_job", run_at=utcnow(), task_id="t")])
    await wait_until(lambda: len(starts) == 1, what="first start")
    await second.start()
    # Two and a half leases pass while the callback runs: renewals keep the second worker off it.
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(second_start.wait(), timeout=2.5 * lease.total_seconds())
    release.set()
    await wait_until(lambda: _gone(store, "t"), what="completion")
    await first.shutdown()
    await second.shutdown()
    assert len(starts) == 1


@pytest.mark.parametrize("make_worker", WORKERS)
async def test_unknown_callback_and_misfit_kwargs_keep_the_task_and_the_worker(make_worker, caplog):
    ran = asyncio.Event()

    async def good():
        ran.set()

    store = InMemoryDataStore()
    await store.add_tasks(
        [
            Task(callback="missing", run_at=utcnow(), task_id="a"),
            Task(callback="good", run_at=utcnow(), task_id="b", kwargs={"unexpected": 1}),
        ]
    )
    worker = make_worker({"good": good}, store)
    await worker.start()
    await wait_until(lambda: "don't fit" in caplog.text, what="the misfit to be logged")
    await store.add_tasks([Task(callback="good", run_at=utcnow(), task_id="c")])
    await asyncio.wait_for(ran.wait(), 5)
    await worker.shutdown()
    stored = {t.task_id: t for t in await store.fetch_tasks(["a", "b"])}
    assert set(stored) == {"a", "b"}
    # A callback this worker lacks is not even claimed: it waits for a worker that has it.
    assert stored["a"].claimed_by is None and "'missing'" not in caplog.text
    # Kwargs that don't fit: held aside, not lost, and not offered again right away.
    assert stored["b"].lease_until is not None
    assert stored["b"].lease_until > utcnow() + timedelta(minutes=4)
    assert await store.fetch_next_wakeup(callbacks={"good"}) > utcnow() + timedelta(minutes=4)


@pytest.mark.parametrize("make_worker", WORKERS)
async def test_a_raising_callback_does_not_stop_the_worker(make_worker, caplog, loop_errors):
    ran = asyncio.Event()

    async def boom():
        raise RuntimeError("kaput")

    async def fine():
        ran.set()

    store = InMemoryDataStore()
    worker = make_worker({"boom": boom, "fine": fine}, store)
    scheduler = AsyncScheduler(store, worker=worker)
    await scheduler.start()
    await scheduler.add_task("boom", task_id="a")
    await wait_until(lambda: "kaput" in caplog.text, what="the error to be logged")
    await scheduler.add_task("fine", task_id="b")
    await asyncio.wait_for(ran.wait(), 5)
    await wait_until(lambda: _failed(store, "a"), what="the failed one-off to be kept as failed")
    await scheduler.shutdown()
    assert loop_errors == []


async def _failed(store, task_id):
    found = await store.fetch_tasks([task_id])
    return bool(found) and found[0].failed_at is not None


async def test_event_driven_worker_wakes_when_a_task_is_added_for_sooner():
    ran = asyncio.Event()

    async def job():
        ran.set()

    store = InMemoryDataStore()
    worker = EventDrivenWorker({"job": job}, store, max_sleep=timedelta(minutes=10))
    scheduler = AsyncScheduler(store, worker=worker)
    await scheduler.start()
    await scheduler.add_task("job", utcnow() + timedelta(hours=1), task_id="later")
    await scheduler.add_task("job", utcnow() + timedelta(milliseconds=50), task_id="soon")
    await asyncio.wait_for(ran.wait(), 2)
    await scheduler.shutdown()


async def test_event_driven_worker_sleeps_until_the_next_task_not_max_sleep():
    """Nothing wakes the worker once the task is added: it wakes by itself when the task is due."""
    ran = asyncio.Event()

    async def job():
        ran.set()

    store = InMemoryDataStore()
    worker = EventDrivenWorker({"job": job}, store, max_sleep=timedelta(minutes=10))
    scheduler = AsyncScheduler(store, worker=worker)
    await scheduler.start()
    try:
        # Due well past the prefetch (50 ms): not claimed by the claim the add wakes it for.
        await scheduler.add_task("job", utcnow() + timedelta(milliseconds=500), task_id="t")
        await asyncio.wait_for(ran.wait(), 5)
    finally:
        await scheduler.shutdown()


def test_durations_may_be_given_in_seconds():
    store = InMemoryDataStore()
    assert PollingWorker({}, store, 0.5, lease=10).lease == timedelta(seconds=10)
    assert EventDrivenWorker({}, store, max_sleep=2).max_sleep == timedelta(seconds=2)
    with pytest.raises(ValueError):
        EventDrivenWorker({}, store, lease=0)
    with pytest.raises(TypeError):
        EventDrivenWorker({}, store, lease="30")


async def test_prefetched_tasks_start_on_time_not_early():
    started = []
    done = asyncio.Event()

    async def job():
        started.append(utcnow())
        done.set()

    store = InMemoryDataStore()
    worker = EventDrivenWorker({"job": job}, store, prefetch=timedelta(seconds=2))
    scheduler = AsyncScheduler(store, worker=worker)
    await scheduler.start()
    due = utcnow() + timedelta(seconds=4)
    await scheduler.add_task("job", due, task_id="t")
    # Claimed ahead of time (about 2 s after adding, 2 s before it is due): not yet run.
    await wait_until(lambda: _claimed(store), what="the early claim")
    assert started == [], "a prefetched task started before it was due"
    await asyncio.wait_for(done.wait(), 5)
    await scheduler.shutdown()
    assert started[0] >= due


async def _claimed(store):
    return await InMemoryDataStore.fetch_next_wakeup(store) > utcnow() + timedelta(seconds=5)


class CountedClaims(InMemoryDataStore):
    """A real store counting the claims asked of it."""

    acquires = 0

    async def acquire_tasks(self, **kwargs):
        self.acquires += 1
        return await super().acquire_tasks(**kwargs)


async def test_a_polling_worker_sees_a_new_task_within_its_interval():
    """Nothing wakes a polling worker: a task added behind its back waits for the next poll."""
    ran = asyncio.Event()

    async def job():
        ran.set()

    store = CountedClaims()
    worker = PollingWorker({"job": job}, store, polling_interval=1)
    await worker.start()
    try:
        await wait_until(lambda: store.acquires >= 1, what="the first poll")
        await store.add_tasks([Task(callback="job", run_at=utcnow(), task_id="t")])
        # Due at once, so at most one interval (1 s) late; 3.5 s leaves room for a slow box.
        await asyncio.wait_for(ran.wait(), 3.5)
    finally:
        await worker.shutdown()
