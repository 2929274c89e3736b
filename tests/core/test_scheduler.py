"""AsyncScheduler keeps TaskShed 0.10's API and argument checks."""

import asyncio
from datetime import datetime, timedelta, timezone

import pytest

from taskshed.datastores import InMemoryDataStore
from taskshed.errors import InvalidTaskError, TaskNotFoundError
from taskshed.models import Task, TaskExecutionTime
from taskshed.schedulers import AsyncScheduler
from taskshed.utils.errors import TaskNotFoundError as ReferenceTaskNotFoundError
from taskshed.workers import EventDrivenWorker, PollingWorker

LATER = datetime(2099, 1, 1, tzinfo=timezone.utc)


@pytest.fixture
async def scheduler():
    scheduler = AsyncScheduler(InMemoryDataStore())
    await scheduler.start()
    yield scheduler
    await scheduler.shutdown()


async def noop(**kwargs):
    return None


async def test_add_task_defaults_to_now_and_returns_the_task(scheduler):
    before = datetime.now(timezone.utc)
    task = await scheduler.add_task("cb", kwargs={"a": 1}, task_id="t1")
    assert before <= task.run_at <= datetime.now(timezone.utc)
    (stored,) = await scheduler.fetch_tasks(task_ids=["t1"])
    assert stored == task


async def test_replace_existing_false_keeps_the_first_task(scheduler):
    await scheduler.add_task("first", LATER, task_id="t")
    await scheduler.add_task("second", LATER, task_id="t", replace_existing=False)
    (stored,) = await scheduler.fetch_tasks(task_ids=["t"])
    assert stored.callback == "first"
    await scheduler.add_task("third", LATER, task_id="t")
    (stored,) = await scheduler.fetch_tasks(task_ids=["t"])
    assert stored.callback == "third"


@pytest.mark.parametrize("method", ["fetch_tasks", "pause_tasks", "resume_tasks", "remove_tasks"])
async def test_ids_or_group_is_required(scheduler, method):
    with pytest.raises(ValueError):
        await getattr(scheduler, method)()


async def test_pause_resume_by_group(scheduler):
    await scheduler.add_tasks(
        [Task(callback="cb", run_at=LATER, task_id=f"g{i}", group_id="grp") for i in range(3)]
    )
    await scheduler.pause_tasks(group_id="grp")
    tasks = await scheduler.fetch_tasks(group_id="grp")
    assert all(t.paused and t.paused_at is not None for t in tasks)
    await scheduler.resume_tasks(group_id="grp")
    tasks = await scheduler.fetch_tasks(group_id="grp")
    assert not any(t.paused or t.paused_at for t in tasks)
    await scheduler.remove_tasks(group_id="grp")
    assert await scheduler.fetch_tasks(group_id="grp") == []


async def test_update_execution_times_of_a_missing_task_raises_and_changes_nothing(scheduler):
    await scheduler.add_task("cb", LATER, task_id="exists")
    new_time = LATER + timedelta(days=1)
    with pytest.raises(TaskNotFoundError):
        await scheduler.update_execution_times(
            tasks=[
                TaskExecutionTime(task_id="exists", run_at=new_time),
                TaskExecutionTime(task_id="missing", run_at=new_time),
            ]
        )
    (stored,) = await scheduler.fetch_tasks(task_ids=["exists"])
    assert stored.run_at == LATER
    assert TaskNotFoundError is ReferenceTaskNotFoundError


@pytest.mark.parametrize(
    "fields",
    [
        {"task_id": ""},
        {"task_id": "x" * 256},
        {"task_id": "nul\x00id"},
        {"task_id": "trailing space "},
        {"group_id": ""},
        {"callback": ""},
        {"run_at": datetime(1960, 1, 1, tzinfo=timezone.utc)},
        {"run_type": "recurring", "interval": timedelta(days=365 * 200)},
    ],
)
async def test_bad_fields_raise_a_typed_error_and_store_nothing(scheduler, fields):
    args = {"callback": "cb", "run_at": LATER, "task_id": "bad", **fields}
    with pytest.raises(InvalidTaskError):
        await scheduler.add_task(**args)
    await scheduler.add_task("cb", LATER, task_id="keep")
    assert [t.task_id for t in await scheduler.fetch_tasks(task_ids=["keep", "bad"])] == ["keep"]


def test_add_callback_needs_a_worker():
    with pytest.raises(RuntimeError):
        AsyncScheduler(InMemoryDataStore()).add_callback("cb", noop)


@pytest.mark.parametrize("worker_class", [EventDrivenWorker, PollingWorker])
def test_add_callback_rejects_duplicates(worker_class):
    store = InMemoryDataStore()
    scheduler = AsyncScheduler(store, worker=worker_class({"cb": noop}, store))
    scheduler.add_callback("other", noop)
    with pytest.raises(ValueError):
        scheduler.add_callback("cb", noop)


@pytest.mark.parametrize("worker_class", [EventDrivenWorker, PollingWorker])
async def test_start_and_shutdown_are_idempotent(worker_class):
    store = InMemoryDataStore()
    ran = asyncio.Event()

    async def cb():
        ran.set()

    worker = worker_class({"cb": cb}, store)
    scheduler = AsyncScheduler(store, worker=worker)
    before = asyncio.all_tasks()
    await scheduler.start()
    loops = asyncio.all_tasks() - before
    assert loops and worker.running
    await scheduler.start()
    await worker.start()
    assert asyncio.all_tasks() - before == loops, "a second start started more loops"
    await scheduler.add_task(callback="cb", run_at=datetime.now(timezone.utc))
    await asyncio.wait_for(ran.wait(), 10)
    await scheduler.shutdown()
    assert not worker.running and all(loop.done() for loop in loops)
    await scheduler.shutdown()
    assert not worker.running
