"""The workloads for APScheduler 3.11 (``AsyncIOScheduler``), in its own venv.

Stores: ``memory`` (``MemoryJobStore``), and ``SQLAlchemyJobStore`` on
``mariadb`` (PyMySQL), ``postgresql`` (psycopg2) and ``sqlite`` (a file). A
task is a ``date``-triggered job whose function is a coroutine in this module. ``misfire_grace_time=None`` so that no late job is
skipped (APScheduler's default drops jobs more than a second late).

Filling a store *before* a measurement inserts the rows APScheduler's own
``add_job`` would write, in one multi-row INSERT (APScheduler 3 has no batch
add, and 20,000 single inserts would take longer than the measurement); what
is measured always goes through the public API.
"""

from __future__ import annotations

import asyncio
import pickle
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.job import Job  # type: ignore[import-not-found]
from apscheduler.jobstores.memory import MemoryJobStore  # type: ignore[import-not-found]
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore  # type: ignore[import-not-found]
from apscheduler.schedulers.asyncio import AsyncIOScheduler  # type: ignore[import-not-found]
from apscheduler.triggers.date import DateTrigger  # type: ignore[import-not-found]
from common import (
    MYSQL_HOST,
    MYSQL_PORT,
    MYSQL_USER,
    PG_HOST,
    PG_PORT,
    PG_USER,
    SQLITE_DIR,
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

MYSQL_DB = "taskshed_bench_aps"
PG_DB = "taskshed_bench_aps"
SQL_URLS = {
    "mariadb": f"mysql+pymysql://{MYSQL_USER}@{MYSQL_HOST}:{MYSQL_PORT}/{MYSQL_DB}",
    "postgresql": f"postgresql+psycopg2://{PG_USER}@{PG_HOST}:{PG_PORT}/{PG_DB}",
    "sqlite": f"sqlite:///{SQLITE_DIR / 'taskshed_bench_aps.db'}",
}
SHARED = ("mariadb", "postgresql", "sqlite")
TABLE = "apscheduler_bench_jobs"
#: Time allowed per add_job on MariaDB when the lag workload chooses its first due time.
_SQL_ADD_SECONDS = 0.004
_NO_BATCH = "APScheduler 3 has no batch add: add_job writes each job in its own transaction"
_NEVER_TOLD = (
    "APScheduler 3 is never told of jobs another process adds: it sleeps until the next job it "
    "knows of"
)

# The callbacks: module-level, so job rows can name them ("__main__:bench").
_counter: Counter | None = None
_recorder: WorkerRecorder | None = None
_due: list[float] = []
_pause = [0.0]


async def bench(i: int) -> None:
    assert _counter is not None
    _counter.hit(i, due=_due[0] if _due else None)


async def measure(i: int, due: float) -> None:
    assert _counter is not None
    _counter.hit(i, due=due)


async def record(key: str) -> None:
    assert _recorder is not None
    _recorder.hit(key)
    if _pause[0]:
        await asyncio.sleep(_pause[0])


async def noop(i: int) -> None:
    return None


def _prepare(store: str) -> None:
    if store == "mariadb":
        import pymysql  # type: ignore[import-untyped]

        conn = pymysql.connect(host=MYSQL_HOST, port=MYSQL_PORT, user=MYSQL_USER, autocommit=True)
        try:
            with conn.cursor() as cursor:
                cursor.execute(f"CREATE DATABASE IF NOT EXISTS `{MYSQL_DB}`")
        finally:
            conn.close()
    elif store == "postgresql":
        import psycopg2  # type: ignore[import-untyped]

        conn = psycopg2.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres")
        conn.autocommit = True
        try:
            with conn.cursor() as cursor:
                cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (PG_DB,))
                if cursor.fetchone() is None:
                    cursor.execute(f'CREATE DATABASE "{PG_DB}"')
        finally:
            conn.close()


def _jobstore(store: str) -> Any:
    if store == "memory":
        return MemoryJobStore()
    if store in SQL_URLS:
        return SQLAlchemyJobStore(url=SQL_URLS[store], tablename=TABLE)
    raise NotApplicable(f"APScheduler is measured on memory and SQL stores, not {store}")


def _scheduler(store: str) -> Any:
    _prepare(store)
    return AsyncIOScheduler(
        jobstores={"default": _jobstore(store)},
        job_defaults={"misfire_grace_time": None, "coalesce": True},
        timezone=UTC,
    )


def _fill(
    scheduler: Any, store: str, jobs: list[tuple[str, Any, datetime, dict[str, Any]]]
) -> None:
    """Store jobs (id, func, run date, kwargs) as add_job would, all in one transaction."""
    jobstore = scheduler._lookup_jobstore("default")
    if store == "memory":
        for job_id, func, when, kwargs in jobs:
            scheduler.add_job(func, DateTrigger(when, timezone=UTC), id=job_id, kwargs=kwargs)
        return
    rows = []
    for job_id, func, when, kwargs in jobs:
        job = Job(
            scheduler, id=job_id, func=func, trigger=DateTrigger(when, timezone=UTC),
            executor="default", args=(), kwargs=kwargs, name=func.__name__,
            misfire_grace_time=None, coalesce=True, max_instances=1, next_run_time=when,
        )  # fmt: skip
        rows.append(
            {
                "id": job_id,
                "next_run_time": when.timestamp(),
                "job_state": pickle.dumps(job.__getstate__(), jobstore.pickle_protocol),
            }
        )
    with jobstore.engine.begin() as conn:
        for start in range(0, len(rows), 2000):
            conn.execute(jobstore.jobs_t.insert(), rows[start : start + 2000])


def _drained(scheduler: Any) -> bool:
    return scheduler._lookup_jobstore("default").get_next_run_time() is None


async def _is_drained(scheduler: Any) -> bool:
    return _drained(scheduler)


# ---------------------------------------------------------------------- workloads


async def schedule(store: str, params: dict[str, Any]) -> dict[str, Any]:
    n, mode = int(params["n"]), params["mode"]
    if mode == "batched":
        raise NotApplicable(_NO_BATCH)
    scheduler = _scheduler(store)
    scheduler.start(paused=True)  # store jobs, run none
    scheduler.remove_all_jobs()
    far = datetime.now(UTC) + timedelta(days=1)
    scheduler.add_job(noop, "date", run_date=far, id="warmup", kwargs={"i": 0})
    scheduler.remove_job("warmup")
    meter = Meter(store)
    meter.start()
    for i in range(n):
        scheduler.add_job(
            noop, "date", run_date=far + timedelta(microseconds=i), id=f"s{i:05d}", kwargs={"i": i}
        )
    meter.stop()
    stored = len(scheduler.get_jobs())
    scheduler.remove_all_jobs()
    scheduler.shutdown(wait=False)
    return {**meter.as_metrics(), "stored": stored}


async def burst(store: str, params: dict[str, Any]) -> dict[str, Any]:
    global _counter
    n, timeout = int(params["n"]), float(params.get("timeout", 120))
    if params.get("live"):
        return await _live_burst(store, params, n, timeout)
    scheduler = _scheduler(store)
    scheduler.start(paused=True)
    scheduler.remove_all_jobs()
    due = datetime.now(UTC) - timedelta(seconds=1)
    _fill(scheduler, store, [(f"b{i:06d}", bench, due, {"i": i}) for i in range(n)])
    _counter = Counter(n)
    meter = Meter(store)
    meter.start()
    scheduler.resume()
    try:
        await asyncio.wait_for(_counter.done.wait(), timeout)
        drained = await wait_until(lambda: _is_drained(scheduler), timeout=timeout)
    except TimeoutError:
        drained = False
    meter.stop()
    ran, duplicates = len(_counter.seen), _counter.duplicates
    scheduler.pause()
    scheduler.remove_all_jobs()
    scheduler.shutdown(wait=False)
    return {**meter.as_metrics(), "ran": ran, "duplicates": duplicates, "timed_out": not drained}


async def _live_burst(store: str, params: dict[str, Any], n: int, timeout: float) -> dict[str, Any]:
    """Jobs added to a running scheduler; on SQL stores written in one INSERT, then wakeup()."""
    global _counter
    if params["live"] == "remote":
        raise NotApplicable(_NEVER_TOLD)
    lead = float(params["lead"])
    scheduler = _scheduler(store)
    scheduler.start()
    scheduler.remove_all_jobs()
    _counter = Counter(n)
    await asyncio.sleep(float(params.get("settle", 0.3)))
    due = time.time() + lead
    _due.append(due)
    when = datetime.fromtimestamp(due, UTC)
    began = time.perf_counter()
    _fill(scheduler, store, [(f"v{i:06d}", bench, when, {"i": i}) for i in range(n)])
    scheduler.wakeup()
    add_s = time.perf_counter() - began
    overran = time.time() > due
    meter = Meter(store)
    meter.start()
    try:
        await asyncio.wait_for(_counter.done.wait(), lead + timeout)
        drained = await wait_until(lambda: _is_drained(scheduler), timeout=timeout)
    except TimeoutError:
        drained = False
    drained_at = time.time()
    meter.stop()
    await asyncio.sleep(0.2)
    scheduler.remove_all_jobs()
    scheduler.shutdown(wait=False)
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


async def lag(store: str, params: dict[str, Any]) -> dict[str, Any]:
    global _counter
    if params.get("cross"):
        raise NotApplicable(_NEVER_TOLD)
    n, spread, lead = int(params["n"]), float(params["spread"]), float(params.get("lead", 1.0))
    if store in SHARED:
        # add_job commits each job on its own: 1,000 of them take seconds, so
        # the first due time is put further out (lag is measured from it).
        lead = max(lead, n * _SQL_ADD_SECONDS)
    if params["worker"] != "event":
        raise NotApplicable(
            "APScheduler 3 has no polling mode: it sleeps until the next job is due"
        )
    scheduler = _scheduler(store)
    scheduler.start()
    scheduler.remove_all_jobs()
    _counter = Counter(n)
    base = time.time() + lead
    for i in range(n):
        due = base + spread * i / n
        when = datetime.fromtimestamp(due, UTC)
        scheduler.add_job(
            measure, "date", run_date=when, id=f"l{i:05d}", kwargs={"i": i, "due": due}
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
    scheduler.remove_all_jobs()
    scheduler.shutdown(wait=False)
    return result


async def scale(store: str, params: dict[str, Any]) -> dict[str, Any]:
    if store not in SHARED:
        raise NotApplicable("only a shared job store can be used by several processes")
    n = int(params["n"])
    scheduler = _scheduler(store)
    scheduler.start(paused=True)
    scheduler.remove_all_jobs()

    async def add(due: float) -> None:
        when = datetime.fromtimestamp(due, UTC)
        _fill(
            scheduler, store, [(f"t{i:05d}", record, when, {"key": f"t{i:05d}"}) for i in range(n)]
        )

    try:
        return await run_scaling(
            driver=__file__,
            store=store,
            params=params,
            schedule=add,
            is_drained=lambda: _is_drained(scheduler),
        )
    finally:
        scheduler.remove_all_jobs()
        scheduler.shutdown(wait=False)


async def scale_worker(store: str, params: dict[str, Any], out: str) -> None:
    """One APScheduler process on the shared job store.

    APScheduler 3 does not support several schedulers on one job store and is
    never told of jobs added elsewhere, so each process wakes itself every
    ``polling_interval`` seconds (its closest equivalent of a polling worker).
    """
    global _recorder
    _recorder = WorkerRecorder(out)
    _pause[0] = float(params.get("callback_ms", 0)) / 1000
    scheduler = _scheduler(store)
    interval = float(params.get("polling_interval", 0.1))
    ticker: list[asyncio.Task[None]] = []

    async def tick() -> None:
        while True:
            await asyncio.sleep(interval)
            scheduler.wakeup()

    async def start() -> None:
        scheduler.start()
        ticker.append(asyncio.create_task(tick()))

    async def stop() -> None:
        ticker[0].cancel()
        scheduler.shutdown(wait=False)

    await serve_until_terminated(start, stop, _recorder)


async def prepare(store: str, params: dict[str, Any]) -> dict[str, Any]:
    _jobstore(store)
    _prepare(store)
    return {}


async def describe(store: str, params: dict[str, Any]) -> dict[str, Any]:
    from importlib.metadata import version

    return {
        "name": "APScheduler 3.11",
        "version": version("apscheduler"),
        "adaptations": [
            "APScheduler: misfire_grace_time=None (its default skips jobs over 1 s late)",
            "APScheduler: stores filled before a measurement with one multi-row INSERT of the rows "
            "add_job writes (no batch API); a burst added to a running scheduler on a SQL store "
            "the same way, followed by wakeup()",
            "APScheduler: each process of the scaling run calls wakeup() every polling interval "
            "(it is never told of jobs added by another process)",
            f"APScheduler: lag on SQL stores measured with the first task due {_SQL_ADD_SECONDS * 1000:.0f} ms "
            "per task after adding starts (add_job commits each job separately)",
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
