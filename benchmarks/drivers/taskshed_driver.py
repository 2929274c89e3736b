"""The workloads for taskshed — ours and the reference (0.10.0) alike.

Both keep 0.10.0's public API (``taskshed.models.Task``,
``taskshed.schedulers.AsyncScheduler``, ``taskshed.workers``), so the very same
workload code measures both; only opening a store and building a worker differ
(``stores_ours`` / ``stores_reference``). Which ``taskshed`` this interpreter
has decides which of the two is used.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from common import (
    Counter,
    Meter,
    NotApplicable,
    WorkerRecorder,
    add_one_by_one,
    answer,
    cross_lag_result,
    lag_metrics,
    next_command,
    run_driver,
    run_scaling,
    say_to_parent,
    serve_until_terminated,
    start_role,
    stop_children,
    tell,
    wait_ready,
    wait_until,
)

import taskshed
from taskshed.models import Task

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
    scheduler = stores.make_scheduler(datastore, params)
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
    floor = await stores.schedule_floor(store, n) if mode == "batched" else {}
    return {**meter.as_metrics(), **floor, "stored": stored}


async def burst(store: str, params: dict[str, Any]) -> dict[str, Any]:
    if params.get("live"):
        return await live_burst(store, params)
    return await filled_burst(store, params)


async def filled_burst(store: str, params: dict[str, Any]) -> dict[str, Any]:
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
    floor = await stores.burst_floor(store, n)
    return {
        **meter.as_metrics(),
        **floor,
        "ran": ran,
        "duplicates": duplicates,
        "timed_out": not drained,
    }


async def live_burst(store: str, params: dict[str, Any]) -> dict[str, Any]:
    """A worker is running; ``n`` tasks all due at one instant ``lead`` s later are added.

    Added by a scheduler in this process (``live == "local"``, the worker is
    told) or in another process (``"remote"``: the worker learns through its
    notifier, or its own polling). ``wall_s`` is from the due instant to the
    last callback's start; CPU (this process's, and the store server's) from
    the end of adding until the store is empty.
    """
    n, lead, timeout = int(params["n"]), float(params["lead"]), float(params.get("timeout", 120))
    remote = params["live"] == "remote"
    if remote and store == "memory":
        raise NotApplicable("an in-memory store is not shared between processes")
    datastore = await _open(store)
    counter = Counter(n)
    due_box: list[float] = []

    async def bench(i: int) -> None:
        counter.hit(i, due=due_box[0])

    worker = stores.make_worker("cross" if remote else "event", {"bench": bench}, datastore, params)
    scheduler = None if remote else stores.make_scheduler(datastore, params, worker=worker)
    child = None
    try:
        if scheduler is not None:
            await scheduler.start()
        await worker.start()
        if remote:
            folder = Path(tempfile.mkdtemp(prefix="taskshed-bench-burst-"))
            child = await start_role(__file__, "burst-scheduler", store, params, folder / "log")
            await wait_ready(child)
        await asyncio.sleep(float(params.get("settle", 0.3)))  # the worker is idle, waiting
        due = time.time() + lead
        due_box.append(due)
        began = time.perf_counter()
        if child is not None:
            await tell(child, f"{due:.6f}")
            reply = await answer(child, lead + timeout)
            if reply != "ADDED":
                raise RuntimeError(f"the scheduler process answered {reply!r}")
        else:
            assert scheduler is not None
            await _add_burst(scheduler, n, due)
        add_s = time.perf_counter() - began
        overran = time.time() > due
        meter = Meter(store)
        meter.start()
        try:
            await asyncio.wait_for(counter.done.wait(), lead + timeout)
            drained = await wait_until(lambda: _drained(datastore), timeout=timeout)
        except TimeoutError:
            drained = False
        drained_at = time.time()
        meter.stop()
        await asyncio.sleep(float(params.get("linger", 0.2)))  # a late duplicate would show here
        stuck = [] if drained else await _describe_left(datastore, [f"v{i:06d}" for i in range(n)])
    finally:
        if child is not None:
            await stop_children([child])
        await datastore.remove_all_tasks()
        await worker.shutdown()
        if scheduler is not None:
            await scheduler.shutdown()
        else:
            await datastore.shutdown()
    starts = counter.starts
    return {
        "wall_s": max(starts) if starts else None,
        "first_s": min(starts) if starts else None,
        "drain_s": drained_at - due,
        "cpu_s": meter.cpu,
        "server_cpu_s": meter.server_cpu,
        "add_s": add_s,
        "ran": len(counter.seen),
        "duplicates": counter.duplicates,
        "timed_out": not drained,
        "add_overran": overran,
        **({"left": stuck} if stuck else {}),
    }


async def _describe_left(datastore: Any, ids: list[str]) -> list[str]:
    """What the tasks still stored look like after a timeout (for the run's record)."""
    left = await datastore.fetch_tasks(ids)
    return [
        f"{task.task_id} run_at={task.run_at.isoformat()} "
        f"claimed_by={getattr(task, 'claimed_by', None)} lease_until={getattr(task, 'lease_until', None)}"
        for task in left[:5]
    ] + ([f"... {len(left)} in all"] if len(left) > 5 else [])


async def _add_burst(scheduler: Any, n: int, due: float) -> None:
    when = _at(due)
    tasks = [
        Task(callback="bench", run_at=when, task_id=f"v{i:06d}", kwargs={"i": i}) for i in range(n)
    ]
    for start in range(0, n, _CHUNK):
        await scheduler.add_tasks(tasks[start : start + _CHUNK])


async def burst_scheduler(store: str, params: dict[str, Any], out: str) -> None:
    """The other process of a remote live burst: adds the tasks when told the due instant."""
    datastore = stores.make_store(store)
    scheduler = stores.make_scheduler(datastore, params)
    await scheduler.start()
    say_to_parent("READY")
    try:
        while command := await next_command():
            await _add_burst(scheduler, int(params["n"]), float(command))
            say_to_parent("ADDED")
    finally:
        await scheduler.shutdown()


async def lag(store: str, params: dict[str, Any]) -> dict[str, Any]:
    if params.get("cross"):
        return await cross_lag(store, params)
    return await local_lag(store, params)


async def cross_lag(store: str, params: dict[str, Any]) -> dict[str, Any]:
    """A scheduler here adds tasks due *now*, one by one; a worker in another process runs them.

    Lag is the callback's start minus the instant the task was added (its due
    time). With ``outage``, the worker process's notifier connection is cut
    server-side every ``cut_every`` seconds meanwhile: notices are lost, and
    the worker must still find every task (within its ``max_sleep``).
    """
    if store == "memory":
        raise NotApplicable("an in-memory store is not shared between processes")
    n, gap = int(params["n"]), float(params["gap"])
    outage = bool(params.get("outage"))
    if outage:
        stores.check_notifier_cut(store, params)
    datastore = await _open(store)
    scheduler = stores.make_scheduler(datastore, params)
    await scheduler.start()
    folder = Path(tempfile.mkdtemp(prefix="taskshed-bench-xlag-"))
    out = folder / "worker.txt"
    child = await start_role(__file__, "lag-worker", store, params, out)
    cuts: list[int] = []
    cutter: asyncio.Task[None] | None = None

    # Stopped by this flag, not by cancelling alone: redis-py can swallow a
    # CancelledError that arrives mid-command, and a cutter that missed its
    # cancellation went on cutting (and its gather waited) until the time limit.
    stop_cutting = asyncio.Event()

    async def cut_repeatedly(pid: int) -> None:
        while not stop_cutting.is_set():
            cuts.append(await stores.cut_notifier_connections(store, params, pid))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop_cutting.wait(), float(params.get("cut_every", 0.3)))

    drained = False
    try:
        await wait_ready(child)
        await asyncio.sleep(float(params.get("settle", 1.0)))  # subscribed, idle, sleeping
        if outage:
            cutter = asyncio.create_task(cut_repeatedly(child.pid))

        async def add(key: str, due: float) -> None:
            await scheduler.add_task(
                "xlag", run_at=_at(due), task_id=key, kwargs={"key": f"{key}|{due:.6f}"}
            )

        await add_one_by_one(n, gap, add)
        drained = await wait_until(
            lambda: _drained(datastore), timeout=float(params.get("timeout", 30)), every=0.02
        )
        await asyncio.sleep(float(params.get("linger", 0.3)))
    finally:
        if cutter is not None:
            stop_cutting.set()
            await asyncio.gather(cutter, return_exceptions=True)
        await stop_children([child])
        await datastore.remove_all_tasks()
        await scheduler.shutdown()
    result = cross_lag_result(
        out, n, notifier=stores.has_notifier(store, params), timed_out=not drained
    )
    if outage:
        result["cuts"] = sum(cuts)
    return result


async def lag_worker(store: str, params: dict[str, Any], out: str) -> None:
    """The worker process of a cross-process lag run."""
    datastore = stores.make_store(store)
    recorder = WorkerRecorder(out)

    async def xlag(key: str) -> None:
        recorder.hit(key)

    worker = stores.make_worker("cross", {"xlag": xlag}, datastore, params)

    async def start() -> None:
        await datastore.start()
        await worker.start()

    async def stop() -> None:
        await worker.shutdown()
        await datastore.shutdown()

    await serve_until_terminated(start, stop, recorder)


async def local_lag(store: str, params: dict[str, Any]) -> dict[str, Any]:
    """Start time minus due time of ``n`` tasks due evenly over ``spread`` seconds."""
    n, spread = int(params["n"]), float(params["spread"])
    lead, kind = float(params.get("lead", 1.0)), params["worker"]
    datastore = await _open(store)
    counter = Counter(n)

    async def measure(i: int, due: float) -> None:
        counter.hit(i, due=due)

    worker = stores.make_worker(kind, {"measure": measure}, datastore, params)
    scheduler = stores.make_scheduler(datastore, params, worker=worker)
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

    pause = float(params.get("callback_ms", 0)) / 1000

    async def record(key: str) -> None:
        recorder.hit(key)
        if pause:
            await asyncio.sleep(pause)  # a callback that waits on I/O

    options = {**params, "polling_interval": params.get("polling_interval", 0.1)}
    worker = stores.make_worker("polling", {"record": record}, datastore, options)

    async def start() -> None:
        await datastore.start()
        await worker.start()

    async def stop() -> None:
        await worker.shutdown()
        await datastore.shutdown()

    await serve_until_terminated(start, stop, recorder)


async def million(store: str, params: dict[str, Any]) -> dict[str, Any]:
    """A million stored tasks: see million_ours.py (our stores only)."""
    if not hasattr(taskshed, "open_datastore"):
        raise NotApplicable("the million-task section measures our stores only")
    from million_ours import million as measure

    result: dict[str, Any] = await measure(store, params)
    return result


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
            "million": million,
            "describe": describe,
        },
        scale_worker,
        roles={"lag-worker": lag_worker, "burst-scheduler": burst_scheduler},
    )
