"""Profile our stores' hot paths (add, claim, complete) and measure candidate improvements.

    .venv/bin/python benchmarks/profile_hot_paths.py [--stores redis,mariadb] [--n 20000] [--out FILE]

Uses the benchmark databases of the runner (MariaDB ``taskshed_bench``, Redis
database 9 with prefix ``taskshed_bench``; run ``benchmarks/run.py`` once first
so the schema exists). Prints, per store:

* ``add_tasks`` of 500 tasks: median time, and where the CPU goes (cProfile);
* the store alone claiming and completing N due tasks in batches of 100;
* a worker running N due tasks: how many acquire / complete calls it made, their
  batch sizes and time, and (SQL) the statements and round trips per call;
* for the SQL store, the same measured with candidate changes applied in a
  subclass here (nothing in ``plugins/`` is modified), so that each
  recommendation comes with its number.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import pstats
import statistics
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent / "drivers"))

from common import percentile, wait_until
from stores_ours import URLS

from taskshed import open_datastore
from taskshed.claims import Completion
from taskshed.datastores.base import DataStore
from taskshed.models import Task
from taskshed.schedulers import AsyncScheduler
from taskshed.workers import EventDrivenWorker

_lines: list[str] = []


def say(text: str = "") -> None:
    print(text, flush=True)
    _lines.append(text)


def _tasks(n: int, when: datetime, prefix: str) -> list[Task]:
    return [
        Task(callback="bench", run_at=when, task_id=f"{prefix}{i:06d}", kwargs={"i": i})
        for i in range(n)
    ]


async def _empty(store: DataStore) -> bool:
    return await store.fetch_next_wakeup() is None


async def _fill(store: DataStore, tasks: list[Task]) -> None:
    for start in range(0, len(tasks), 2000):
        await store.add_tasks(tasks[start : start + 2000])


def _profile_top(profile: cProfile.Profile, limit: int = 12) -> str:
    stream = io.StringIO()
    stats = pstats.Stats(profile, stream=stream)
    stats.sort_stats("tottime").print_stats(limit)
    lines = [line for line in stream.getvalue().splitlines() if line.strip()]
    start = next((i for i, line in enumerate(lines) if line.lstrip().startswith("ncalls")), 0)
    return "\n".join("    " + line[:160] for line in lines[start : start + limit + 1])


# ---------------------------------------------------------------------- SQL statement counting


class StatementCounter:
    """Counts what a SQL store sends: statements, COMMITs and ROLLBACKs (a pool reset is one)."""

    def __init__(self, store: Any) -> None:
        import sqlalchemy as sa

        self.statements: Counter[str] = Counter()
        engine = store.engine.sync_engine
        sa.event.listen(engine, "before_cursor_execute", self._statement)
        dialect = engine.dialect
        for name, word in (("do_commit", "COMMIT"), ("do_rollback", "ROLLBACK")):
            setattr(dialect, name, self._counting(getattr(dialect, name), word))

    def _counting(self, method: Callable[..., Any], word: str) -> Callable[..., Any]:
        def counted(*args: Any) -> Any:
            self.statements[word] += 1
            return method(*args)

        return counted

    def _statement(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        self.statements[statement.split(None, 1)[0].upper()] += 1

    def take(self) -> str:
        parts = [f"{name} {count}" for name, count in sorted(self.statements.items())]
        self.statements.clear()
        return ", ".join(parts) + f" ({sum(int(p.rsplit(' ', 1)[1]) for p in parts)} round trips)"


# ---------------------------------------------------------------------- measurements


async def measure_add(store: DataStore, label: str, n: int = 500, repeats: int = 7) -> float:
    far = datetime.now(UTC) + timedelta(days=1)
    times = []
    for _ in range(repeats):
        await store.remove_all_tasks()
        tasks = _tasks(n, far, "a")
        started = time.perf_counter()
        await store.add_tasks(tasks)
        times.append(time.perf_counter() - started)
    await store.remove_all_tasks()
    median = statistics.median(times)
    say(f"  add_tasks({n}) [{label}]: median {median * 1e3:.1f} ms over {repeats}")
    return median


async def measure_single_adds(store: DataStore, label: str, n: int = 300) -> None:
    """add_tasks of one task at a time (what AsyncScheduler.add_task does)."""
    far = datetime.now(UTC) + timedelta(days=1)
    await store.remove_all_tasks()
    tasks = _tasks(n, far, "o")
    started, cpu = time.perf_counter(), time.process_time()
    for task in tasks:
        await store.add_tasks([task])
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    await store.remove_all_tasks()
    say(
        f"  add_tasks([one]) x {n} [{label}]: {wall / n * 1e3:.2f} ms wall, {cpu / n * 1e3:.2f} ms CPU per call"
    )


async def profile_add(store: DataStore, n: int = 500) -> None:
    far = datetime.now(UTC) + timedelta(days=1)
    await store.remove_all_tasks()
    tasks = _tasks(n, far, "p")
    profile = cProfile.Profile()
    profile.enable()
    await store.add_tasks(tasks)
    profile.disable()
    await store.remove_all_tasks()
    say(f"  add_tasks({n}) cProfile, by own time:")
    say(_profile_top(profile, 10))


async def measure_cycle(store: DataStore, n: int, label: str, batch: int = 100) -> None:
    """The store alone: acquire `batch`, complete them, until none is left."""
    await store.remove_all_tasks()
    await _fill(store, _tasks(n, datetime.now(UTC) - timedelta(seconds=1), "c"))
    acquire_t: list[float] = []
    complete_t: list[float] = []
    started = time.perf_counter()
    cpu = time.process_time()
    while True:
        now = datetime.now(UTC)
        t0 = time.perf_counter()
        claims = await store.acquire_tasks(
            worker_id="profile", now=now, lease_until=now + timedelta(seconds=30), limit=batch
        )
        acquire_t.append(time.perf_counter() - t0)
        if not claims:
            break
        t0 = time.perf_counter()
        await store.complete_tasks([Completion(c.task_id, c.token, None) for c in claims])
        complete_t.append(time.perf_counter() - t0)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    say(
        f"  claim+complete {n} in batches of {batch} [{label}]: {wall:.2f} s wall, {cpu:.2f} s CPU; "
        f"acquire median {statistics.median(acquire_t) * 1e3:.2f} ms, complete median "
        f"{statistics.median(complete_t) * 1e3:.2f} ms"
    )


class _Spy:
    """Wraps a store's claim and complete methods to record batch sizes and durations."""

    def __init__(self, store: Any) -> None:
        self.calls: dict[str, list[tuple[int, float]]] = {"acquire_tasks": [], "complete_tasks": []}
        for name in self.calls:
            setattr(store, name, self._wrap(name, getattr(store, name)))

    def _wrap(
        self, name: str, method: Callable[..., Awaitable[Any]]
    ) -> Callable[..., Awaitable[Any]]:
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            result = await method(*args, **kwargs)
            size = len(result) if name == "acquire_tasks" else len(args[0])
            self.calls[name].append((size, time.perf_counter() - started))
            return result

        return wrapper

    def report(self) -> None:
        for name, calls in self.calls.items():
            if not calls:
                continue
            sizes = [size for size, _ in calls]
            took = [seconds for _, seconds in calls]
            say(
                f"    {name}: {len(calls)} calls, batch median {statistics.median(sizes):.0f} "
                f"(min {min(sizes)}, max {max(sizes)}), {sum(took):.2f} s in total, median "
                f"{statistics.median(took) * 1e3:.2f} ms"
            )


async def measure_worker(
    store: DataStore, n: int, label: str, counter: StatementCounter | None, **options: Any
) -> None:
    await store.remove_all_tasks()
    await _fill(store, _tasks(n, datetime.now(UTC) - timedelta(seconds=1), "w"))
    if counter is not None:
        counter.take()
    spy = _Spy(store)
    seen = 0
    done = asyncio.Event()

    async def bench(i: int) -> None:
        nonlocal seen
        seen += 1
        if seen >= n:
            done.set()

    worker = EventDrivenWorker({"bench": bench}, store, **options)
    started = time.perf_counter()
    cpu = time.process_time()
    await worker.start()
    await asyncio.wait_for(done.wait(), 120)
    await wait_until(lambda: _empty(store), timeout=60)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    await worker.shutdown()
    for name in ("acquire_tasks", "complete_tasks"):
        vars(store).pop(name, None)  # drop the spies
    say(f"  worker, {n} due at once [{label}]: {wall:.2f} s wall, {cpu:.2f} s CPU")
    spy.report()
    if counter is not None:
        say(f"    statements: {counter.take()}")


# ---------------------------------------------------------------------- candidate changes (SQL)


def sql_candidates() -> dict[str, Any]:
    """Subclasses of our SQL store with one proposed change each (for measuring only)."""
    import sqlalchemy as sa
    from taskshed_sqlalchemy import store as sql_store

    table = sql_store._t
    base = sql_store.SQLAlchemyDataStore
    # (A driver-level INSERT for add_tasks was measured here too; the store now does that
    # itself on MySQL/MariaDB: statements.rendered_upsert.)

    class ReturningComplete(base):  # type: ignore[misc, valid-type]
        """complete_tasks of finished one-offs as one DELETE ... RETURNING (MariaDB only)."""

        async def complete_tasks(self, completions: Sequence[Completion]) -> set[str]:
            if not completions or any(c.next_run_at is not None for c in completions):
                return await super().complete_tasks(completions)
            ids = [c.task_id for c in completions]
            pairs = [(c.task_id, c.token) for c in completions]

            async def body(conn: Any) -> set[str]:
                stmt = (
                    sa.delete(table)
                    .where(
                        table.c.task_id.in_(ids),
                        sa.tuple_(table.c.task_id, table.c.claim_token).in_(pairs),
                    )
                    .returning(table.c.task_id)
                )
                return set((await conn.execute(stmt)).scalars())

            return await self._run("complete_tasks", body)

    return {"DELETE ... RETURNING complete": ReturningComplete}


class QuietCompletionWorker(EventDrivenWorker):
    """Re-reads the schedule after a completion only when a recurring task moved.

    Deleting finished one-off tasks can't make anything due sooner, so the
    extra acquire + fetch_next_wakeup after each completion batch is wasted.
    """

    _one_offs_only = False

    async def update_schedule(self, run_at: Any = None) -> None:
        if not self._one_offs_only:
            await super().update_schedule(run_at)

    async def _complete(self, batch: list[Completion]) -> None:
        self._one_offs_only = all(item.next_run_at is None for item in batch)
        try:
            await super()._complete(batch)
        finally:
            self._one_offs_only = False


async def measure_lag(
    url: str,
    worker_class: type[Any],
    label: str,
    n: int = 1000,
    spread: float = 3.0,
    **options: Any,
) -> None:
    """Lag of n tasks due over `spread` seconds, and how many claims came back empty."""
    store = open_datastore(url)
    lags: list[float] = []
    calls = [0, 0, 0]  # acquire calls, empty ones, fetch_next_wakeup calls

    async def measure(i: int, due: float) -> None:
        lags.append(time.time() - due)

    worker = worker_class({"measure": measure}, store, **options)
    acquire = store.acquire_tasks

    async def counting(**kwargs: Any) -> Any:
        claims = await acquire(**kwargs)
        calls[0] += 1
        calls[1] += not claims
        return claims

    wakeup = store.fetch_next_wakeup

    async def counting_wakeup() -> Any:
        calls[2] += 1
        return await wakeup()

    store.acquire_tasks = counting  # type: ignore[method-assign]
    store.fetch_next_wakeup = counting_wakeup  # type: ignore[method-assign]
    scheduler = AsyncScheduler(store, worker=worker)
    await scheduler.start()
    await store.remove_all_tasks()
    base = time.time() + 1.0
    dues = [base + spread * i / n for i in range(n)]
    await scheduler.add_tasks(
        Task(
            callback="measure",
            run_at=datetime.fromtimestamp(due, UTC),
            task_id=f"l{i:05d}",
            kwargs={"i": i, "due": due},
        )
        for i, due in enumerate(dues)
    )

    async def all_ran() -> bool:
        return len(lags) >= n

    await wait_until(all_ran, timeout=spread + 15, every=0.05)
    lags.sort()
    say(
        f"  lag, {n} tasks over {spread} s [{label}]: p50 {percentile(lags, 0.5) * 1e3:.2f} ms, "
        f"p99 {percentile(lags, 0.99) * 1e3:.2f} ms, max {lags[-1] * 1e3:.2f} ms; "
        f"{calls[0]} acquire calls ({calls[1]} empty), {calls[2]} fetch_next_wakeup calls"
    )
    await store.remove_all_tasks()
    await scheduler.shutdown()


# ---------------------------------------------------------------------- main


async def profile_store(name: str, n: int) -> None:
    url = URLS[name]
    say(f"== {name} ({url.split('@')[-1]})")
    store = open_datastore(url)
    await store.start()
    counter = StatementCounter(store) if name == "mariadb" else None
    await measure_add(store, "as is")
    await measure_single_adds(store, "as is")
    await profile_add(store)
    if counter is not None:
        counter.take()
        await store.add_tasks(_tasks(500, datetime.now(UTC) + timedelta(days=1), "s"))
        say(f"    statements for add_tasks(500): {counter.take()}")
        await store.remove_all_tasks()
    await measure_cycle(store, n, "as is")
    await measure_worker(store, n, "defaults: max_concurrency=100, batch_size=100", counter)
    await measure_worker(
        store,
        n,
        "max_concurrency=500, batch_size=500",
        counter,
        max_concurrency=500,
        batch_size=500,
    )
    await store.remove_all_tasks()
    await store.shutdown()
    if name != "mariadb":
        return

    # SQLAlchemy's own default, for comparison: a ROLLBACK each time a connection returns.
    with_reset = open_datastore(url)
    with_reset._engine_options["pool_reset_on_return"] = "rollback"  # type: ignore[attr-defined]
    await with_reset.start()
    counter = StatementCounter(with_reset)
    await measure_add(with_reset, "pool_reset_on_return='rollback'")
    await measure_single_adds(with_reset, "pool_reset_on_return='rollback'")
    await measure_cycle(with_reset, n, "pool_reset_on_return='rollback'")
    await measure_worker(with_reset, n, "defaults, pool_reset_on_return='rollback'", counter)
    await with_reset.remove_all_tasks()
    await with_reset.shutdown()

    for label, cls in sql_candidates().items():
        candidate = cls(url)
        await candidate.start()
        counter = StatementCounter(candidate)
        await measure_add(candidate, label)
        await measure_cycle(candidate, n, label)
        await measure_worker(candidate, n, f"defaults, {label}", counter)
        await candidate.remove_all_tasks()
        await candidate.shutdown()


async def profile_lag(names: list[str]) -> None:
    say(
        "== event-driven lag: prefetch 0 (claim when due), the default (50 ms ahead), quiet completions"
    )
    for name in names:
        await measure_lag(URLS[name], EventDrivenWorker, f"{name}, prefetch=0", prefetch=0)
        await measure_lag(URLS[name], EventDrivenWorker, f"{name}, as is")
        await measure_lag(URLS[name], QuietCompletionWorker, f"{name}, quiet completions")


async def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--stores", default="memory,redis,mariadb")
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--out", type=Path, default=None, help="also write the report to this file")
    args = parser.parse_args(argv)
    names = [name.strip() for name in args.stores.split(",") if name.strip()]
    say(
        f"# benchmarks/profile_hot_paths.py --n {args.n} --stores {','.join(names)}, "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    )
    try:
        import hiredis  # noqa: F401
    except ImportError:
        say("redis-py parses replies in Python here (hiredis is not installed)")
    else:
        say("redis-py parses replies with hiredis here")
    for name in names:
        if name != "memory":
            await profile_store(name, args.n)
    await profile_lag(names)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text("\n".join(_lines) + "\n")


if __name__ == "__main__":
    asyncio.run(main())
