"""The workloads for arq 0.28 on Redis, in its own venv.

A task is an arq job deferred to its due time (``_defer_until``). arq only
polls (``poll_delay``), so it is compared with our polling worker; its worker
runs ``max_jobs`` jobs at once (set to our default ``max_concurrency``, 100)
and keeps no results (``keep_result=0``, as our one-off tasks leave nothing).

Filling Redis *before* a measurement writes the job key and queue entry that
``enqueue_job`` writes, in one pipeline (arq has no batch enqueue); what is
measured goes through the public API.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from arq.connections import ArqRedis, RedisSettings, create_pool  # type: ignore[import-not-found]
from arq.constants import (  # type: ignore[import-not-found]
    in_progress_key_prefix,
    job_key_prefix,
)
from arq.jobs import serialize_job  # type: ignore[import-not-found]
from arq.worker import Worker, func  # type: ignore[import-not-found]
from common import (
    REDIS_DB,
    REDIS_HOST,
    REDIS_PORT,
    Counter,
    Meter,
    NotApplicable,
    WorkerRecorder,
    add_one_by_one,
    cross_lag_result,
    lag_metrics,
    run_driver,
    run_scaling,
    serve_until_terminated,
    start_role,
    stop_children,
    wait_ready,
    wait_until,
)

QUEUE = "taskshed_bench_arq"
SETTINGS = RedisSettings(host=REDIS_HOST, port=REDIS_PORT, database=REDIS_DB)
_EXPIRES_MS = 86_400_000
#: poll_delay of the worker in another process (the reference's PollingWorker polls as often).
CROSS_POLL_DELAY = 0.1

_counter: Counter | None = None
_recorder: WorkerRecorder | None = None
_pause = [0.0]


async def bench(ctx: dict[str, Any], i: int) -> None:
    assert _counter is not None
    _counter.hit(i)


async def measure(ctx: dict[str, Any], i: int, due: float) -> None:
    assert _counter is not None
    _counter.hit(i, due=due)


async def record(ctx: dict[str, Any], key: str) -> None:
    assert _recorder is not None
    _recorder.hit(key)
    if _pause[0]:
        await asyncio.sleep(_pause[0])


async def noop(ctx: dict[str, Any], i: int) -> None:
    return None


def _check_store(store: str) -> None:
    if store != "redis":
        raise NotApplicable(f"arq runs on Redis only, not {store}")


async def _clean(redis: ArqRedis) -> None:
    """Remove this benchmark's queue and every arq key in the benchmark database."""
    await redis.delete(QUEUE)
    keys = [key async for key in redis.scan_iter(match="arq:*", count=1000)]
    for start in range(0, len(keys), 1000):
        await redis.delete(*keys[start : start + 1000])


async def _fill(redis: ArqRedis, jobs: list[tuple[str, str, float, dict[str, Any]]]) -> None:
    """Store jobs (id, function, due epoch, kwargs) as enqueue_job does, one pipeline per 2000."""
    now_ms = int(time.time() * 1000)
    for start in range(0, len(jobs), 2000):
        pipe = redis.pipeline(transaction=False)
        for job_id, function, due, kwargs in jobs[start : start + 2000]:
            pipe.psetex(
                job_key_prefix + job_id,
                _EXPIRES_MS,
                serialize_job(function, (), kwargs, None, now_ms),
            )
            pipe.zadd(QUEUE, {job_id: int(due * 1000)})
        await pipe.execute()


def _worker(functions: list[Any], params: dict[str, Any]) -> Any:
    return Worker(
        functions=functions,
        redis_settings=SETTINGS,
        queue_name=QUEUE,
        max_jobs=int(params.get("max_concurrency", params.get("max_jobs", 100))),
        keep_result=0,
        poll_delay=float(params.get("polling_interval", 0.5)),
        handle_signals=False,
    )


async def _stop(worker: Any, main: asyncio.Task[None]) -> None:
    main.cancel()
    await asyncio.gather(main, return_exceptions=True)
    # close() awaits the job tasks that cancelling main() cancelled: their
    # CancelledError is expected here, not a failure of the run.
    await asyncio.gather(worker.close(), return_exceptions=True)


async def _queue_empty(redis: ArqRedis) -> bool:
    """No job waiting, and none taken but unfinished (arq removes a job from the queue when done)."""
    if await redis.zcard(QUEUE):
        return False
    async for _ in redis.scan_iter(match=in_progress_key_prefix + "*", count=1000):
        return False
    return True


# ---------------------------------------------------------------------- workloads


async def schedule(store: str, params: dict[str, Any]) -> dict[str, Any]:
    _check_store(store)
    n, mode = int(params["n"]), params["mode"]
    if mode == "batched":
        raise NotApplicable("arq has no batch enqueue: enqueue_job writes one job per transaction")
    redis = await create_pool(SETTINGS, default_queue_name=QUEUE)
    await _clean(redis)
    far = datetime.now(UTC) + timedelta(days=1)
    await redis.enqueue_job("noop", _job_id="warmup", _defer_until=far, i=0)
    await _clean(redis)
    meter = Meter(store)
    meter.start()
    for i in range(n):
        await redis.enqueue_job(
            "noop", _job_id=f"s{i:05d}", _defer_until=far + timedelta(microseconds=i), i=i
        )
    meter.stop()
    stored = await redis.zcard(QUEUE)
    await _clean(redis)
    await redis.aclose()
    return {**meter.as_metrics(), "stored": stored}


async def burst(store: str, params: dict[str, Any]) -> dict[str, Any]:
    global _counter
    _check_store(store)
    n, timeout = int(params["n"]), float(params.get("timeout", 120))
    redis = await create_pool(SETTINGS, default_queue_name=QUEUE)
    await _clean(redis)
    due = time.time() - 1
    await _fill(redis, [(f"b{i:06d}", "bench", due, {"i": i}) for i in range(n)])
    _counter = Counter(n)
    worker = _worker([func(bench, name="bench")], {"polling_interval": 0.1, **params})
    meter = Meter(store)
    meter.start()
    main = asyncio.create_task(worker.main())
    try:
        await asyncio.wait_for(_counter.done.wait(), timeout)
        drained = await wait_until(lambda: _queue_empty(redis), timeout=timeout)
    except TimeoutError:
        drained = False
    meter.stop()
    ran, duplicates = len(_counter.seen), _counter.duplicates
    await _stop(worker, main)
    await _clean(redis)
    await redis.aclose()
    return {**meter.as_metrics(), "ran": ran, "duplicates": duplicates, "timed_out": not drained}


async def lag(store: str, params: dict[str, Any]) -> dict[str, Any]:
    global _counter
    _check_store(store)
    if params.get("cross"):
        return await _cross_lag(store, params)
    if params["worker"] != "polling":
        raise NotApplicable("arq has no event-driven mode: its worker polls every poll_delay")
    n, spread, lead = int(params["n"]), float(params["spread"]), float(params.get("lead", 1.0))
    redis = await create_pool(SETTINGS, default_queue_name=QUEUE)
    await _clean(redis)
    _counter = Counter(n)
    worker = _worker([func(measure, name="measure")], params)
    main = asyncio.create_task(worker.main())
    base = time.time() + lead
    for i in range(n):
        due = base + spread * i / n
        await redis.enqueue_job(
            "measure",
            _job_id=f"l{i:05d}",
            _defer_until=datetime.fromtimestamp(due, UTC),
            i=i,
            due=due,
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
    await _clean(redis)
    await redis.aclose()
    return result


async def _cross_lag(store: str, params: dict[str, Any]) -> dict[str, Any]:
    """Jobs due now enqueued one by one here; an arq worker polling every 0.1 s in another process."""
    if params.get("notifier") not in (None, "store") or params.get("outage"):
        raise NotApplicable("arq has no notifier: its worker polls every poll_delay")
    n, gap = int(params["n"]), float(params["gap"])
    folder = Path(tempfile.mkdtemp(prefix="taskshed-bench-xlag-"))
    out = folder / "worker.txt"
    redis = await create_pool(SETTINGS, default_queue_name=QUEUE)
    await _clean(redis)
    child = await start_role(
        __file__, "scale-worker", store, {"polling_interval": CROSS_POLL_DELAY}, out
    )
    try:
        await wait_ready(child)
        await asyncio.sleep(float(params.get("settle", 1.0)))

        async def add(key: str, due: float) -> None:
            await redis.enqueue_job("record", _job_id=key, key=f"{key}|{due:.6f}")

        await add_one_by_one(n, gap, add)
        drained = await wait_until(
            lambda: _queue_empty(redis), timeout=float(params.get("timeout", 30)), every=0.02
        )
        await asyncio.sleep(0.3)
    finally:
        await stop_children([child])
        await _clean(redis)
        await redis.aclose()
    return cross_lag_result(out, n, notifier=False, timed_out=not drained)


async def scale(store: str, params: dict[str, Any]) -> dict[str, Any]:
    _check_store(store)
    n = int(params["n"])
    redis = await create_pool(SETTINGS, default_queue_name=QUEUE)
    await _clean(redis)

    async def add(due: float) -> None:
        await _fill(redis, [(f"t{i:05d}", "record", due, {"key": f"t{i:05d}"}) for i in range(n)])

    try:
        return await run_scaling(
            driver=__file__,
            store=store,
            params=params,
            schedule=add,
            is_drained=lambda: _queue_empty(redis),
        )
    finally:
        await _clean(redis)
        await redis.aclose()


async def scale_worker(store: str, params: dict[str, Any], out: str) -> None:
    global _recorder
    _recorder = WorkerRecorder(out)
    _pause[0] = float(params.get("callback_ms", 0)) / 1000
    worker = _worker([func(record, name="record")], {"polling_interval": 0.1, **params})
    main: list[asyncio.Task[None]] = []

    async def start() -> None:
        main.append(asyncio.create_task(worker.main()))

    async def stop() -> None:
        await _stop(worker, main[0])

    await serve_until_terminated(start, stop, _recorder)


async def prepare(store: str, params: dict[str, Any]) -> dict[str, Any]:
    _check_store(store)
    redis = await create_pool(SETTINGS, default_queue_name=QUEUE)
    await _clean(redis)
    await redis.aclose()
    return {}


async def describe(store: str, params: dict[str, Any]) -> dict[str, Any]:
    from importlib.metadata import version

    return {
        "name": "arq 0.28",
        "version": version("arq"),
        "adaptations": [
            "arq: max_jobs=100 (our default max_concurrency; arq's default is 10; 10 in the I/O "
            "scaling case), keep_result=0",
            f"arq across processes: poll_delay {CROSS_POLL_DELAY} s (its default is 0.5 s)",
            "arq: Redis filled before a measurement with one pipeline of the keys enqueue_job writes "
            "(no batch API)",
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
    )
