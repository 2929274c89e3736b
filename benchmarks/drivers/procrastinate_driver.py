"""The workloads for procrastinate 3.10 on PostgreSQL, in its own venv.

A task is a procrastinate job: a one-off task due at a time is a job deferred
with ``schedule_at`` (due now: no ``schedule_at``). Its worker learns of new
jobs through LISTEN/NOTIFY and polls every ``fetch_job_polling_interval``
(jobs scheduled for later are found by that polling: procrastinate has no
timer for a job's time). It runs ``concurrency`` jobs at once (set to our
default ``max_concurrency``, 100; procrastinate's default is 1) and deletes a
finished job (``delete_jobs="always"``, as our one-off tasks leave nothing;
its default keeps every job).

Everything, filling a store before a measurement included, goes through its
public API (``defer_async``, ``batch_defer_async``, ``run_worker_async``).
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from common import (
    PG_HOST,
    PG_PORT,
    PG_USER,
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
from procrastinate import App, PsycopgConnector  # type: ignore[import-not-found]

DB = "taskshed_bench_procrastinate"
CONNINFO = f"host={PG_HOST} port={PG_PORT} user={PG_USER} dbname={DB}"
_CHUNK = 2000

app = App(connector=PsycopgConnector(conninfo=CONNINFO))
_counter: Counter | None = None
_recorder: WorkerRecorder | None = None
_due: list[float] = []
_pause = [0.0]


@app.task(name="bench")
async def bench(i: int) -> None:
    assert _counter is not None
    _counter.hit(i, due=_due[0] if _due else None)


@app.task(name="measure")
async def measure(i: int, due: float) -> None:
    assert _counter is not None
    _counter.hit(i, due=due)


@app.task(name="record")
async def record(key: str) -> None:
    assert _recorder is not None
    _recorder.hit(key)
    if _pause[0]:
        await asyncio.sleep(_pause[0])


@app.task(name="noop")
async def noop(i: int) -> None:
    return None


def _check_store(store: str) -> None:
    if store != "postgresql":
        raise NotApplicable(f"procrastinate runs on PostgreSQL only, not {store}")


async def _clean() -> None:
    await app.connector.execute_query_async("DELETE FROM procrastinate_jobs")


async def _pending() -> int:
    row = await app.connector.execute_query_one_async(
        "SELECT count(*) AS n FROM procrastinate_jobs WHERE status IN ('todo', 'doing')"
    )
    return int(row["n"])


async def _drained() -> bool:
    return await _pending() == 0


def _worker_options(params: dict[str, Any], concurrency: int = 100) -> dict[str, Any]:
    return {
        "concurrency": int(params.get("max_concurrency", concurrency)),
        "wait": True,
        "install_signal_handlers": False,
        "delete_jobs": "always",
        "listen_notify": True,
        "fetch_job_polling_interval": float(params.get("polling_interval", 5.0)),
        "shutdown_graceful_timeout": 10.0,
    }


async def _stop(worker: asyncio.Task[None]) -> None:
    worker.cancel()
    await asyncio.gather(worker, return_exceptions=True)


async def _defer_batch(task: Any, when: datetime | None, kwargs: list[dict[str, Any]]) -> None:
    deferrer = task.configure(schedule_at=when) if when is not None else task.configure()
    for start in range(0, len(kwargs), _CHUNK):
        await deferrer.batch_defer_async(*kwargs[start : start + _CHUNK])


# ---------------------------------------------------------------------- workloads


async def schedule(store: str, params: dict[str, Any]) -> dict[str, Any]:
    _check_store(store)
    n, mode = int(params["n"]), params["mode"]
    async with app.open_async():
        await _clean()
        far = datetime.now(UTC) + timedelta(days=1)
        await noop.configure(schedule_at=far).defer_async(i=0)
        await _clean()
        meter = Meter(store)
        meter.start()
        if mode == "batched":
            await noop.configure(schedule_at=far).batch_defer_async(*({"i": i} for i in range(n)))
        else:
            for i in range(n):
                await noop.configure(schedule_at=far + timedelta(microseconds=i)).defer_async(i=i)
        meter.stop()
        stored = await _pending()
        await _clean()
    return {**meter.as_metrics(), "stored": stored}


async def burst(store: str, params: dict[str, Any]) -> dict[str, Any]:
    global _counter
    _check_store(store)
    n, timeout = int(params["n"]), float(params.get("timeout", 120))
    live = params.get("live")
    async with app.open_async():
        await _clean()
        _counter = Counter(n)
        options = _worker_options({"polling_interval": 0.5, **params})
        if not live:
            due = datetime.now(UTC) - timedelta(seconds=1)
            await _defer_batch(bench, due, [{"i": i} for i in range(n)])
            meter = Meter(store)
            meter.start()
            worker = asyncio.create_task(app.run_worker_async(**options))
            try:
                await asyncio.wait_for(_counter.done.wait(), timeout)
                drained = await wait_until(_drained, timeout=timeout)
            except TimeoutError:
                drained = False
            meter.stop()
            await _stop(worker)
            await _clean()
            result = {**meter.as_metrics(), "ran": len(_counter.seen)}
            return {**result, "duplicates": _counter.duplicates, "timed_out": not drained}
        return await _live_burst(store, params, options, n, timeout)


async def _live_burst(
    store: str, params: dict[str, Any], options: dict[str, Any], n: int, timeout: float
) -> dict[str, Any]:
    assert _counter is not None
    lead = float(params["lead"])
    worker = asyncio.create_task(app.run_worker_async(**options))
    child = None
    try:
        if params["live"] == "remote":
            folder = Path(tempfile.mkdtemp(prefix="taskshed-bench-burst-"))
            child = await start_role(__file__, "burst-scheduler", store, params, folder / "log")
            await wait_ready(child)
        await asyncio.sleep(float(params.get("settle", 0.3)))
        due = time.time() + lead
        _due.append(due)
        began = time.perf_counter()
        if child is not None:
            await tell(child, f"{due:.6f}")
            if await answer(child, lead + timeout) != "ADDED":
                raise RuntimeError("the scheduler process did not add the jobs")
        else:
            await _defer_batch(
                bench, datetime.fromtimestamp(due, UTC), [{"i": i} for i in range(n)]
            )
        add_s = time.perf_counter() - began
        overran = time.time() > due
        meter = Meter(store)
        meter.start()
        try:
            await asyncio.wait_for(_counter.done.wait(), lead + timeout)
            drained = await wait_until(_drained, timeout=timeout)
        except TimeoutError:
            drained = False
        drained_at = time.time()
        meter.stop()
        await asyncio.sleep(0.2)
    finally:
        if child is not None:
            await stop_children([child])
        await _stop(worker)
        await _clean()
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
    async with app.open_async():
        say_to_parent("READY")
        while command := await next_command():
            when = datetime.fromtimestamp(float(command), UTC)
            await _defer_batch(bench, when, [{"i": i} for i in range(int(params["n"]))])
            say_to_parent("ADDED")


async def lag(store: str, params: dict[str, Any]) -> dict[str, Any]:
    global _counter
    _check_store(store)
    if params.get("cross"):
        return await _cross_lag(store, params)
    if params["worker"] != "polling":
        raise NotApplicable(
            "procrastinate has no timer for a job's scheduled time: its worker polls for them"
        )
    n, spread, lead = int(params["n"]), float(params["spread"]), float(params.get("lead", 1.0))
    async with app.open_async():
        await _clean()
        _counter = Counter(n)
        worker = asyncio.create_task(app.run_worker_async(**_worker_options(params)))
        base = time.time() + lead
        dues = [base + spread * i / n for i in range(n)]
        for i, due in enumerate(dues):
            await measure.configure(schedule_at=datetime.fromtimestamp(due, UTC)).defer_async(
                i=i, due=due
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
        await _stop(worker)
        await _clean()
    return result


async def _cross_lag(store: str, params: dict[str, Any]) -> dict[str, Any]:
    if params.get("notifier") not in (None, "store"):
        raise NotApplicable("procrastinate's worker hears PostgreSQL's LISTEN/NOTIFY only")
    if params.get("outage"):
        raise NotApplicable("not measured for procrastinate (its listener is internal)")
    n, gap = int(params["n"]), float(params["gap"])
    folder = Path(tempfile.mkdtemp(prefix="taskshed-bench-xlag-"))
    out = folder / "worker.txt"
    async with app.open_async():
        await _clean()
        child = await start_role(__file__, "lag-worker", store, params, out)
        try:
            await wait_ready(child)
            await asyncio.sleep(float(params.get("settle", 1.0)))

            async def add(key: str, due: float) -> None:
                await record.defer_async(key=f"{key}|{due:.6f}")

            await add_one_by_one(n, gap, add)
            drained = await wait_until(
                _drained, timeout=float(params.get("timeout", 30)), every=0.02
            )
            await asyncio.sleep(0.3)
        finally:
            await stop_children([child])
            await _clean()
    return cross_lag_result(out, n, notifier=True, timed_out=not drained)


async def lag_worker(store: str, params: dict[str, Any], out: str) -> None:
    global _recorder
    _recorder = WorkerRecorder(out)
    # The documented default interval: notifications bring new jobs, polling is the fallback.
    options = _worker_options({"polling_interval": 5.0})
    await _serve(options)


async def scale(store: str, params: dict[str, Any]) -> dict[str, Any]:
    _check_store(store)
    n = int(params["n"])
    async with app.open_async():
        await _clean()

        async def add(due: float) -> None:
            when = datetime.fromtimestamp(due, UTC)
            await _defer_batch(record, when, [{"key": f"t{i:05d}"} for i in range(n)])

        try:
            return await run_scaling(
                driver=__file__, store=store, params=params, schedule=add, is_drained=_drained
            )
        finally:
            await _clean()


async def scale_worker(store: str, params: dict[str, Any], out: str) -> None:
    global _recorder
    _recorder = WorkerRecorder(out)
    _pause[0] = float(params.get("callback_ms", 0)) / 1000
    await _serve(_worker_options(params))


async def _serve(options: dict[str, Any]) -> None:
    assert _recorder is not None
    worker: list[asyncio.Task[None]] = []
    opened = app.open_async()

    async def start() -> None:
        await opened.__aenter__()
        worker.append(asyncio.create_task(app.run_worker_async(**options)))

    async def stop() -> None:
        await _stop(worker[0])
        await opened.__aexit__(None, None, None)

    await serve_until_terminated(start, stop, _recorder)


async def prepare(store: str, params: dict[str, Any]) -> dict[str, Any]:
    _check_store(store)
    import psycopg  # type: ignore[import-not-found]

    admin = f"host={PG_HOST} port={PG_PORT} user={PG_USER} dbname=postgres"
    async with await psycopg.AsyncConnection.connect(admin, autocommit=True) as conn:
        found = await (
            await conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DB,))
        ).fetchone()
        if not found:
            await conn.execute(f'CREATE DATABASE "{DB}"')
    async with app.open_async():
        exists = await app.connector.execute_query_one_async(
            "SELECT to_regclass('procrastinate_jobs') IS NOT NULL AS here"
        )
        if not exists["here"]:
            await app.schema_manager.apply_schema_async()
        await _clean()
    return {}


async def describe(store: str, params: dict[str, Any]) -> dict[str, Any]:
    from importlib.metadata import version

    return {
        "name": "procrastinate",
        "version": version("procrastinate"),
        "adaptations": [
            "procrastinate: worker concurrency=100 (our default max_concurrency; its default is 1; "
            "10 in the I/O scaling case), delete_jobs='always' (its default keeps every finished job)",
            "procrastinate: jobs due later are found by its polling (fetch_job_polling_interval: "
            "0.5 s in the burst and lag cases, the scaling case's interval there, its default 5 s "
            "across processes where LISTEN/NOTIFY brings jobs due now)",
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
