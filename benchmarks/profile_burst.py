"""Where our worker's CPU goes in a burst: per task, by package and by function (cProfile).

    .venv/bin/python benchmarks/profile_burst.py [--stores memory,mariadb] [--n 20000]
                                                 [--modes filled,live] [--out FILE]

For each store and mode it runs one worker (``EventDrivenWorker``, defaults)
on ``n`` one-off tasks the way the runner's burst workloads do: *filled* =
all due before the worker starts; *live* = the worker is running and idle,
the tasks are added through the scheduler (chunks of 2,000) due ``--lead``
seconds later. It reports, without the profiler, wall and CPU time per task;
then, with cProfile on the same run shape, the store calls the worker made
(how many, how large) and the CPU per task by package and by function.
Uses the benchmark databases (run ``benchmarks/run.py`` once first).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import os
import pstats
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent / "drivers"))

from common import wait_until

from taskshed.models import Task
from taskshed.schedulers import AsyncScheduler
from taskshed.workers import EventDrivenWorker

_lines: list[str] = []


def _stores() -> Any:
    """stores_ours, on names of this script's own: a runner on the same servers is left alone."""
    for name in ("BENCH_MYSQL_DB", "BENCH_PG_DB", "BENCH_REDIS_PREFIX", "BENCH_SQLITE_NAME"):
        os.environ.setdefault(name, "taskshed_bench_profile")
    import stores_ours

    return stores_ours


def say(text: str = "") -> None:
    print(text, flush=True)
    _lines.append(text)


#: Package groups, first match wins (by the code's file path).
_GROUPS = (
    ("taskshed/workers/", "taskshed.workers"),
    ("taskshed/datastores/", "taskshed.datastores (memory)"),
    ("taskshed/events", "taskshed.events"),
    ("taskshed/claims", "taskshed.claims"),
    ("taskshed/models", "taskshed.models"),
    ("taskshed/schedulers", "taskshed.schedulers"),
    ("taskshed/", "taskshed (other)"),
    ("taskshed_sqlalchemy/", "taskshed_sqlalchemy"),
    ("taskshed_redis/", "taskshed_redis"),
    ("sqlalchemy/", "sqlalchemy"),
    ("asyncmy/", "asyncmy"),
    ("asyncpg/", "asyncpg"),
    ("aiosqlite/", "aiosqlite"),
    ("redis/", "redis-py"),
    ("asyncio/", "asyncio"),
    ("logging/", "logging"),
    ("json/", "json"),
    ("threading", "threading"),
    ("profile_burst", "benchmark harness"),
)


_IDLE = "waiting in epoll (idle, left out)"


def _group(filename: str, function: str) -> str:
    if filename == "~":
        # Built-ins: attribute them by name (e.g. <method 'send' of '_socket.socket' objects>).
        if "epoll" in function:
            return _IDLE
        if "socket" in function or "select" in function:
            return "socket I/O (C)"
        return "builtins (C)"
    for needle, name in _GROUPS:
        if needle in filename:
            return name
    return "other: " + filename.rsplit("/", 2)[-2] if "/" in filename else "other"


class Calls:
    """Wraps the store's acquire/complete/confirm to count calls and batch sizes."""

    def __init__(self, store: Any) -> None:
        self.counts: dict[str, list[int]] = defaultdict(list)
        for name in ("acquire_tasks", "complete_tasks", "confirm_claims", "fetch_next_wakeup"):
            original = getattr(store, name)
            setattr(store, name, self._wrap(name, original))

    def _wrap(self, name: str, original: Callable[..., Any]) -> Callable[..., Any]:
        async def counted(*args: Any, **kwargs: Any) -> Any:
            result = await original(*args, **kwargs)
            size = len(args[0]) if args and isinstance(args[0], list) else None
            if size is None and isinstance(result, list | set):
                size = len(result)
            self.counts[name].append(size if size is not None else 1)
            return result

        return counted

    def describe(self) -> str:
        parts = []
        for name, sizes in sorted(self.counts.items()):
            mean = sum(sizes) / len(sizes) if sizes else 0
            parts.append(f"{name} x{len(sizes)} (mean size {mean:.1f})")
        return ", ".join(parts)


async def _empty(datastore: Any) -> bool:
    return await datastore.fetch_next_wakeup() is None


async def _burst(store_name: str, n: int, mode: str, lead: float, profile: bool) -> dict[str, Any]:
    datastore = _stores().make_store(store_name)
    await datastore.start()
    await datastore.remove_all_tasks()
    seen: set[int] = set()
    done = asyncio.Event()
    starts: list[float] = []

    async def bench(i: int) -> None:
        starts.append(time.time())
        if i in seen:
            say(f"    DUPLICATE run of task {i}")
        seen.add(i)
        if len(seen) >= n:
            done.set()

    calls = Calls(datastore)
    quiet = _stores().no_observers
    worker = EventDrivenWorker({"bench": bench}, datastore, plugin_manager=quiet())
    scheduler = AsyncScheduler(datastore, worker=worker, plugin_manager=quiet())
    profiler = cProfile.Profile() if profile else None
    due_epoch = time.time()
    if mode == "filled":
        due = datetime.now(UTC) - timedelta(seconds=1)
        tasks = [
            Task(callback="bench", run_at=due, task_id=f"p{i:06d}", kwargs={"i": i})
            for i in range(n)
        ]
        for start in range(0, n, 2000):
            await datastore.add_tasks(tasks[start : start + 2000])
        calls.counts.clear()
        cpu0, wall0 = time.process_time(), time.perf_counter()
        due_epoch = time.time()
        if profiler:
            profiler.enable()
        await scheduler.start()
        await worker.start()
    else:
        await scheduler.start()
        await worker.start()
        await asyncio.sleep(0.5)
        due_epoch = time.time() + lead
        when = datetime.fromtimestamp(due_epoch, UTC)
        tasks = [
            Task(callback="bench", run_at=when, task_id=f"p{i:06d}", kwargs={"i": i})
            for i in range(n)
        ]
        for start in range(0, n, 2000):
            await scheduler.add_tasks(tasks[start : start + 2000])
        if time.time() > due_epoch:
            say(f"    (adding took longer than the {lead} s lead)")
        calls.counts.clear()
        cpu0, wall0 = time.process_time(), time.perf_counter()
        if profiler:
            profiler.enable()
    await asyncio.wait_for(done.wait(), 300)
    await wait_until(lambda: _empty(datastore), timeout=60, every=0.005)
    if profiler:
        profiler.disable()
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    await worker.shutdown()
    await datastore.remove_all_tasks()
    await scheduler.shutdown()
    timeline = (
        f"first start {(min(starts) - due_epoch) * 1e3:.0f} ms, last start "
        f"{(max(starts) - due_epoch) * 1e3:.0f} ms after the due instant (filled: after start()); "
        f"{len(starts) - len(seen)} duplicate run(s)"
    )
    return {
        "cpu": cpu,
        "wall": wall,
        "calls": calls.describe(),
        "profile": profiler,
        "timeline": timeline,
    }


def _by_group(profiler: cProfile.Profile, n: int) -> list[tuple[str, float]]:
    stats = pstats.Stats(profiler)
    totals: dict[str, float] = defaultdict(float)
    for (filename, _, function), (_, _, tottime, _, _) in stats.stats.items():  # type: ignore[attr-defined]
        totals[_group(filename, function)] += tottime
    return sorted(((name, t / n * 1e6) for name, t in totals.items()), key=lambda kv: -kv[1])


def _top(profiler: cProfile.Profile, limit: int) -> str:
    stream = io.StringIO()
    pstats.Stats(profiler, stream=stream).sort_stats("tottime").print_stats(limit)
    lines = [line for line in stream.getvalue().splitlines() if line.strip()]
    start = next((i for i, line in enumerate(lines) if line.lstrip().startswith("ncalls")), 0)
    return "\n".join("    " + line[:170] for line in lines[start : start + limit + 1])


async def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stores", default="memory,mariadb")
    parser.add_argument("--modes", default="filled,live")
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--lead", type=float, default=2.0)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    for store in args.stores.split(","):
        await _stores().prepare(store)
        for mode in args.modes.split(","):
            say(f"== {store}, {mode} burst of {args.n:,}")
            plain = await _burst(store, args.n, mode, args.lead, profile=False)
            say(
                f"  without profiler: wall {plain['wall']:.2f} s, CPU {plain['cpu']:.2f} s "
                f"({plain['cpu'] / args.n * 1e6:.0f} µs per task)"
            )
            say(f"  {plain['timeline']}")
            say(f"  store calls: {plain['calls']}")
            profiled = await _burst(store, args.n, mode, args.lead, profile=True)
            profiler = profiled["profile"]
            assert profiler is not None
            say(
                f"  with cProfile: CPU {profiled['cpu']:.2f} s; own time per task by package "
                "(profiler overhead included, so compare shares, not absolutes):"
            )
            groups = [(name, us) for name, us in _by_group(profiler, args.n) if name != _IDLE]
            total = sum(us for _, us in groups)
            for name, us in groups[:16]:
                say(f"    {name:<32} {us:7.1f} µs  {us / total * 100:5.1f}%")
            say("  top functions by own time:")
            say(_top(profiler, args.top))
            say("")
    if args.out is not None:
        args.out.write_text("\n".join(_lines) + "\n")


if __name__ == "__main__":
    asyncio.run(main())
