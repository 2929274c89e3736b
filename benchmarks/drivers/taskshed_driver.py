"""The workloads for taskshed — ours and the reference (0.10.0) alike.

Both keep 0.10.0's public API (``taskshed.models.Task``,
``taskshed.schedulers.AsyncScheduler``, ``taskshed.workers``), so the very same
workload code measures both; only opening a store and building a worker differ
(``stores_ours`` / ``stores_reference``). Which ``taskshed`` this interpreter
has decides which of the two is used.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from common import (
    Counter,
    Meter,
    NotApplicable,
    WorkerRecorder,
    lag_metrics,
    run_driver,
    run_scaling,
    serve_until_terminated,
    wait_until,
)

import taskshed
from taskshed.models import Task
from taskshed.schedulers import AsyncScheduler

if hasattr(taskshed, "open_datastore"):
    import stores_ours as stores
else:
    import stores_reference as stores  # type: ignore[no-redef]

_CHUNK = 2000  # tasks per add_tasks call when filling a store before a measurement


def _at(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


async def _open(store: str) -> Any:
    datastore = stores.make_store(store)
    await datastore.start()
    await datastore.remove_all_tasks()
    return datastore


async def _fill(datastore: Any, tasks: list[Any]) -> None:
    for start in range(0, len(tasks), _CHUNK):
        await datastore.add_tasks(tasks[start : start + _CHUNK])


async def _drained(datastore: Any) -> bool:
    return await datastore.fetch_next_wakeup() is None


async def noop(**_: Any) -> None:
    return None


# ---------------------------------------------------------------------- workloads


async def schedule(store: str, params: dict[str, Any]) -> dict[str, Any]:
    """Time to schedule ``n`` tasks with the scheduler: one ``add_tasks`` call, or ``add_task`` each."""
    n, mode = int(params["n"]), params["mode"]
    datastore = await _open(store)
    scheduler = AsyncScheduler(datastore)
    await scheduler.start()
    far = datetime.now(UTC) + timedelta(days=1)
    ids = [f"s{i:05d}" for i in range(n)]
    # One round trip first, so that connecting is not part of the measurement.
    await scheduler.add_task("noop", run_at=far, task_id="warmup")
    await scheduler.remove_tasks(task_ids=["warmup"])
    meter = Meter(store)
    if mode == "batched":
        tasks = [
            Task(
                callback="noop",
                run_at=far + timedelta(microseconds=i),
                task_id=ids[i],
                kwargs={"i": i},
            )
            for i in range(n)
        ]
        meter.start()
        await scheduler.add_tasks(tasks)
        meter.stop()
    else:
        meter.start()
        for i in range(n):
            await scheduler.add_task(
                "noop", run_at=far + timedelta(microseconds=i), kwargs={"i": i}, task_id=ids[i]
            )
        meter.stop()
    stored = len(await datastore.fetch_tasks(ids))
    await datastore.remove_all_tasks()
    await scheduler.shutdown()
    return {**meter.as_metrics(), "stored": stored}


async def burst(store: str, params: dict[str, Any]) -> dict[str, Any]:
    """Wall and CPU time for one worker to run ``n`` tasks that are all due already.

    Timed from ``worker.start()`` until every callback has run *and* the store
    holds no task any more (a one-off task is removed when it has run).
    """
    n, timeout = int(params["n"]), float(params.get("timeout", 120))
    datastore = await _open(store)
    due = datetime.now(UTC) - timedelta(seconds=1)
    await _fill(
        datastore,
        [
            Task(callback="bench", run_at=due, task_id=f"b{i:06d}", kwargs={"i": i})
            for i in range(n)
        ],
    )
    counter = Counter(n)

    async def bench(i: int) -> None:
        counter.hit(i)

    worker = stores.make_worker("event", {"bench": bench}, datastore, params)
    meter = Meter(store)
    meter.start()
    await worker.start()
    try:
        await asyncio.wait_for(counter.done.wait(), timeout)
        drained = await wait_until(lambda: _drained(datastore), timeout=timeout)
    except TimeoutError:
        drained = False
    meter.stop()
    ran, duplicates = len(counter.seen), counter.duplicates
    await datastore.remove_all_tasks()
    await worker.shutdown()
    await datastore.shutdown()
    return {**meter.as_metrics(), "ran": ran, "duplicates": duplicates, "timed_out": not drained}


async def lag(store: str, params: dict[str, Any]) -> dict[str, Any]:
    """Start time minus due time of ``n`` tasks due evenly over ``spread`` seconds."""
    n, spread = int(params["n"]), float(params["spread"])
    lead, kind = float(params.get("lead", 1.0)), params["worker"]
    datastore = await _open(store)
    counter = Counter(n)

    async def measure(i: int, due: float) -> None:
        counter.hit(i, due=due)

    worker = stores.make_worker(kind, {"measure": measure}, datastore, params)
    scheduler = AsyncScheduler(datastore, worker=worker)
    await scheduler.start()
    await worker.start()
    base = time.time() + lead
    dues = [base + spread * i / n for i in range(n)]
    tasks = [
        Task(callback="measure", run_at=_at(due), task_id=f"l{i:05d}", kwargs={"i": i, "due": due})
        for i, due in enumerate(dues)
    ]
    await scheduler.add_tasks(tasks)
    overran = time.time() > base
    try:
        await asyncio.wait_for(counter.done.wait(), lead + spread + 15)
    except TimeoutError:
        pass
    result = {
        **lag_metrics(counter.starts, n),
        "duplicates": counter.duplicates,
        "add_overran": overran,
    }
    await datastore.remove_all_tasks()
    await worker.shutdown()
    await scheduler.shutdown()
    return result


async def scale(store: str, params: dict[str, Any]) -> dict[str, Any]:
    """``processes`` polling workers on one store run ``n`` tasks due at once."""
    if store == "memory":
        raise NotApplicable("an in-memory store is not shared between processes")
    n = int(params["n"])
    datastore = await _open(store)

    async def add(due: float) -> None:
        when = _at(due)
        await _fill(
            datastore,
            [
                Task(
                    callback="record", run_at=when, task_id=f"t{i:05d}", kwargs={"key": f"t{i:05d}"}
                )
                for i in range(n)
            ],
        )

    try:
        return await run_scaling(
            driver=__file__,
            store=store,
            params=params,
            schedule=add,
            is_drained=lambda: _drained(datastore),
        )
    finally:
        await datastore.remove_all_tasks()
        await datastore.shutdown()


async def scale_worker(store: str, params: dict[str, Any], out: str) -> None:
    datastore = stores.make_store(store)
    recorder = WorkerRecorder(out)

    async def record(key: str) -> None:
        recorder.hit(key)

    options = {**params, "polling_interval": params.get("polling_interval", 0.1)}
    worker = stores.make_worker("polling", {"record": record}, datastore, options)

    async def start() -> None:
        await datastore.start()
        await worker.start()

    async def stop() -> None:
        await worker.shutdown()
        await datastore.shutdown()

    await serve_until_terminated(start, stop, recorder)


async def prepare(store: str, params: dict[str, Any]) -> dict[str, Any]:
    """Create what the store needs (a database, a schema) once before the measurements."""
    await stores.prepare(store)
    datastore = await _open(store)
    await datastore.shutdown()
    return {"server": await stores.server_version(store)}


async def describe(store: str, params: dict[str, Any]) -> dict[str, Any]:
    """Which peer this is, its version, and what was adapted to run it."""
    from importlib.metadata import version

    return {
        "name": stores.NAME,
        "version": version("taskshed"),
        "adaptations": stores.ADAPTATIONS,
        "settings": stores.settings(),
    }


if __name__ == "__main__":
    run_driver(
        {
            "prepare": prepare,
            "schedule": schedule,
            "burst": burst,
            "lag": lag,
            "scale": scale,
            "describe": describe,
        },
        scale_worker,
    )
