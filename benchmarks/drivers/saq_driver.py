"""The workloads for saq 0.26 on Redis, in its own venv.

A task is a saq job: due now, it is enqueued straight into the queue, which a
worker waits on (a blocking pop: no polling); due later, it carries
``scheduled`` (whole epoch seconds) and the worker's ``schedule`` timer moves
it into the queue once due. The worker runs ``concurrency`` jobs at once (set
to our default ``max_concurrency``, 100; saq's default is 10) and deletes a
finished job (``ttl=-1``, as our one-off tasks leave nothing; saq's default
keeps it 600 s).

saq has no batch enqueue: filling a store before a measurement enqueues the
jobs with ``enqueue`` concurrently (its own semaphore bounds the calls in
flight); what is measured goes through the same public API.
"""

from __future__ import annotations

import asyncio
import math
import tempfile
import time
from pathlib import Path
from typing import Any

from common import (
    REDIS_DB,
    REDIS_HOST,
    REDIS_PORT,
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
from saq import Queue, Worker  # type: ignore[import-not-found]

NAME = "taskshed_bench_saq"
#: Enqueue calls in flight when filling (more exhaust the client's connection pool).
_IN_FLIGHT = 20
# Each of a worker's concurrent slots holds a connection in its blocking dequeue: with 100
# slots, redis-py's default pool of 100 connections runs dry (MaxConnectionsError).
URL = f"redis://{REDIS_HOST}:{REDIS_PORT}/{REDIS_DB}?max_connections=400"

_counter: Counter | None = None
_recorder: WorkerRecorder | None = None
_due: list[float] = []
_pause = [0.0]


async def bench(ctx: dict[str, Any], *, i: int) -> None:
    assert _counter is not None
    _counter.hit(i, due=_due[0] if _due else None)


async def measure(ctx: dict[str, Any], *, i: int, due: float) -> None:
    assert _counter is not None
    _counter.hit(i, due=due)


async def record(ctx: dict[str, Any], *, name: str) -> None:
    # Not ``key``: a keyword named like a Job field (``key``) configures the job in enqueue.
    assert _recorder is not None
    _recorder.hit(name)
    if _pause[0]:
        await asyncio.sleep(_pause[0])


async def noop(ctx: dict[str, Any], *, i: int) -> None:
    return None


def _check_store(store: str) -> None:
    if store != "redis":
        raise NotApplicable(f"saq is measured on Redis, not {store}")


async def _queue() -> Any:
    queue = Queue.from_url(URL, name=NAME)
    await queue.connect()
    return queue


async def _clean(queue: Any) -> None:
    keys = [key async for key in queue.redis.scan_iter(match=f"saq:{NAME}:*", count=1000)]
    keys += [key async for key in queue.redis.scan_iter(match=f"saq:job:{NAME}:*", count=1000)]
    for start in range(0, len(keys), 1000):
        await queue.redis.delete(*keys[start : start + 1000])


async def _enqueue_all(
    queue: Any, function: str, jobs: list[tuple[str, int, dict[str, Any]]]
) -> None:
    """Enqueue (key, scheduled, kwargs) jobs, many calls in flight (saq bounds them itself)."""
    for start in range(0, len(jobs), _IN_FLIGHT):
        await asyncio.gather(
            *(
                queue.enqueue(function, key=key, scheduled=scheduled, ttl=-1, timeout=60, **kwargs)
                for key, scheduled, kwargs in jobs[start : start + _IN_FLIGHT]
            )
        )


async def _incomplete(queue: Any) -> int:
    return int(await queue.count("incomplete"))


def _worker(
    queue: Any, functions: list[Any], params: dict[str, Any], concurrency: int = 100
) -> Any:
    # The schedule timer's value is also a lock's expiry in whole seconds: 1 s is its minimum.
    schedule_every = max(1, round(float(params.get("polling_interval", 1.0))))
    worker = Worker(
        queue,
        functions=functions,
        concurrency=int(params.get("max_concurrency", concurrency)),
        timers={"schedule": schedule_every},
    )
    worker.SIGNALS = []  # the driver handles signals itself
    return worker


async def _stop(worker: Any, main: asyncio.Task[None]) -> None:
    await worker.stop()
    main.cancel()
    await asyncio.gather(main, return_exceptions=True)


# ---------------------------------------------------------------------- workloads


async def schedule(store: str, params: dict[str, Any]) -> dict[str, Any]:
    _check_store(store)
    n, mode = int(params["n"]), params["mode"]
    if mode == "batched":
        raise NotApplicable("saq has no batch enqueue: enqueue writes one job per transaction")
    queue = await _queue()
    await _clean(queue)
    far = int(time.time()) + 86_400
    await queue.enqueue("noop", key="warmup", scheduled=far, i=0)
    await _clean(queue)
    meter = Meter(store)
    meter.start()
    for i in range(n):
        await queue.enqueue("noop", key=f"s{i:05d}", scheduled=far, ttl=-1, i=i)
    meter.stop()
    stored = await _incomplete(queue)
    await _clean(queue)
    await queue.disconnect()
    return {**meter.as_metrics(), "stored": stored}


async def burst(store: str, params: dict[str, Any]) -> dict[str, Any]:
    global _counter
    _check_store(store)
    n, timeout = int(params["n"]), float(params.get("timeout", 120))
    queue = await _queue()
    await _clean(queue)
    _counter = Counter(n)
    worker = _worker(queue, [bench], {"polling_interval": 0.1, **params})
    if params.get("live"):
        # The application's own queue object, next to the worker's.
        app_queue = await _queue()
        try:
            return await _live_burst(store, params, app_queue, worker, n, timeout)
        finally:
            await _clean(queue)
            await app_queue.disconnect()
            await queue.disconnect()
    await _enqueue_all(queue, "bench", [(f"b{i:06d}", 0, {"i": i}) for i in range(n)])
    meter = Meter(store)
    meter.start()
    main = asyncio.create_task(worker.start())
    try:
        await asyncio.wait_for(_counter.done.wait(), timeout)
        drained = await wait_until(lambda: _is_drained(queue), timeout=timeout)
    except TimeoutError:
        drained = False
    meter.stop()
    ran, duplicates = len(_counter.seen), _counter.duplicates
    await _stop(worker, main)
    await _clean(queue)
    await queue.disconnect()
    return {**meter.as_metrics(), "ran": ran, "duplicates": duplicates, "timed_out": not drained}


async def _is_drained(queue: Any) -> bool:
    return await _incomplete(queue) == 0


async def _live_burst(
    store: str, params: dict[str, Any], queue: Any, worker: Any, n: int, timeout: float
) -> dict[str, Any]:
    assert _counter is not None
    lead = float(params["lead"])
    main = asyncio.create_task(worker.start())
    child = None
    try:
        if params["live"] == "remote":
            folder = Path(tempfile.mkdtemp(prefix="taskshed-bench-burst-"))
            child = await start_role(__file__, "burst-scheduler", store, params, folder / "log")
            await wait_ready(child)
        await asyncio.sleep(float(params.get("settle", 0.3)))
        # saq schedules in whole seconds: the due instant is put on one, so that none is lost.
        due = float(math.ceil(time.time() + lead))
        _due.append(due)
        began = time.perf_counter()
        if child is not None:
            await tell(child, f"{due:.6f}")
            if await answer(child, lead + timeout + 1) != "ADDED":
                raise RuntimeError("the scheduler process did not add the jobs")
        else:
            await _enqueue_all(
                queue, "bench", [(f"v{i:06d}", int(due), {"i": i}) for i in range(n)]
            )
        add_s = time.perf_counter() - began
        overran = time.time() > due
        meter = Meter(store)
        meter.start()
        try:
            await asyncio.wait_for(_counter.done.wait(), lead + timeout + 1)
            drained = await wait_until(lambda: _is_drained(queue), timeout=timeout)
        except TimeoutError:
            drained = False
        drained_at = time.time()
        meter.stop()
        await asyncio.sleep(0.2)
    finally:
        if child is not None:
            await stop_children([child])
        await _stop(worker, main)
    starts = _counter.starts
    return {
        "wall_s": max(starts) if starts else None,
        "first_s": min(starts) if starts else None,
        "drain_s": drained_at - due,
        "cpu_s": meter.cpu,
        "server_cpu_s": meter.server_cpu,
        "add_s": add_s,
        "ran": len(_counter.seen),
        "duplicates": _counter.duplicates,
        "timed_out": not drained,
        "add_overran": overran,
    }


async def burst_scheduler(store: str, params: dict[str, Any], out: str) -> None:
    queue = await _queue()
    say_to_parent("READY")
    try:
        while command := await next_command():
            due = int(float(command))
            jobs = [(f"v{i:06d}", due, {"i": i}) for i in range(int(params["n"]))]
            await _enqueue_all(queue, "bench", jobs)
            say_to_parent("ADDED")
    finally:
        await queue.disconnect()


async def lag(store: str, params: dict[str, Any]) -> dict[str, Any]:
    global _counter
    _check_store(store)
    if params.get("cross"):
        return await _cross_lag(store, params)
    if params["worker"] != "polling":
        raise NotApplicable("saq has no timer for a job's scheduled time: a timer polls for them")
    n, spread, lead = int(params["n"]), float(params["spread"]), float(params.get("lead", 1.0))
    queue = await _queue()
    await _clean(queue)
    _counter = Counter(n)
    worker = _worker(queue, [measure], params)
    main = asyncio.create_task(worker.start())
    base = time.time() + lead
    for i in range(n):
        due = base + spread * i / n
        # Whole seconds, rounded up: a job never starts before it is due.
        await queue.enqueue(
            "measure", key=f"l{i:05d}", scheduled=math.ceil(due), ttl=-1, i=i, due=due
        )
    overran = time.time() > base
    try:
        await asyncio.wait_for(_counter.done.wait(), lead + spread + 15)
    except TimeoutError:
        pass
    result = {
        **lag_metrics(_counter.starts, n),
        "duplicates": _counter.duplicates,
        "add_overran": overran,
    }
    await _stop(worker, main)
    await _clean(queue)
    await queue.disconnect()
    return result


async def _cross_lag(store: str, params: dict[str, Any]) -> dict[str, Any]:
    if params.get("notifier") not in (None, "store"):
        raise NotApplicable("saq's worker waits on its own queue only")
    if params.get("outage"):
        raise NotApplicable("not measured for saq (no separate notifier connection)")
    n, gap = int(params["n"]), float(params["gap"])
    folder = Path(tempfile.mkdtemp(prefix="taskshed-bench-xlag-"))
    out = folder / "worker.txt"
    queue = await _queue()
    await _clean(queue)
    child = await start_role(__file__, "lag-worker", store, params, out)
    try:
        await wait_ready(child)
        await asyncio.sleep(float(params.get("settle", 1.0)))

        async def add(key: str, due: float) -> None:
            await queue.enqueue("record", key=key, ttl=-1, timeout=60, name=f"{key}|{due:.6f}")

        await add_one_by_one(n, gap, add)
        drained = await wait_until(
            lambda: _is_drained(queue), timeout=float(params.get("timeout", 30)), every=0.02
        )
        await asyncio.sleep(0.3)
    finally:
        await stop_children([child])
        await _clean(queue)
        await queue.disconnect()
    return cross_lag_result(out, n, notifier=True, timed_out=not drained)


async def lag_worker(store: str, params: dict[str, Any], out: str) -> None:
    global _recorder
    _recorder = WorkerRecorder(out)
    await _serve({})


async def scale(store: str, params: dict[str, Any]) -> dict[str, Any]:
    _check_store(store)
    n = int(params["n"])
    queue = await _queue()
    await _clean(queue)

    async def add(due: float) -> None:
        jobs = [(f"t{i:05d}", math.ceil(due), {"name": f"t{i:05d}"}) for i in range(n)]
        await _enqueue_all(queue, "record", jobs)

    # No batch enqueue: give adding the time it takes (the rate is measured from the due time).
    params = {**params, "lead": max(float(params.get("lead", 2.0)), 1.0 + n / 1000)}
    try:
        return await run_scaling(
            driver=__file__,
            store=store,
            params=params,
            schedule=add,
            is_drained=lambda: _is_drained(queue),
        )
    finally:
        await _clean(queue)
        await queue.disconnect()


async def scale_worker(store: str, params: dict[str, Any], out: str) -> None:
    global _recorder
    _recorder = WorkerRecorder(out)
    _pause[0] = float(params.get("callback_ms", 0)) / 1000
    await _serve(params)


async def _serve(params: dict[str, Any]) -> None:
    assert _recorder is not None
    queue = await _queue()
    worker = _worker(queue, [record], params)
    main: list[asyncio.Task[None]] = []

    async def start() -> None:
        main.append(asyncio.create_task(worker.start()))

    async def stop() -> None:
        await _stop(worker, main[0])
        await queue.disconnect()

    await serve_until_terminated(start, stop, _recorder)


async def prepare(store: str, params: dict[str, Any]) -> dict[str, Any]:
    _check_store(store)
    queue = await _queue()
    await _clean(queue)
    await queue.disconnect()
    return {}


async def describe(store: str, params: dict[str, Any]) -> dict[str, Any]:
    from importlib.metadata import version

    return {
        "name": "saq",
        "version": version("saq"),
        "adaptations": [
            "saq: Worker concurrency=100 (our default max_concurrency; its default is 10; 10 in the "
            "I/O scaling case), jobs enqueued with ttl=-1 (deleted when done; its default keeps "
            "them 600 s)",
            "saq: its schedule timer (the polling for jobs due later) stays at its default and "
            "minimum, 1 s (its value doubles as a lock expiry in whole seconds); scheduled times "
            "are whole seconds, so due times are rounded up (a burst's due instant is put on a "
            "whole second)",
            "saq: stores filled before a measurement with concurrent enqueue calls (no batch API)",
            "saq: Redis client pool of 400 connections (redis-py's default 100 runs dry with 100 "
            "concurrent jobs: each waiting slot holds one)",
        ],
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
        roles={"lag-worker": lag_worker, "burst-scheduler": burst_scheduler},
    )
