"""What the one-line-per-run INFO log costs a worker: runs per second with it on and off.

    python -m tests.ops.run_log_cost [--datastore URL] [--tasks N] [--repeat K]

Each round stores N no-op one-off tasks due now, starts an event-driven
worker and times it until every callback has run and every outcome is
recorded; log records go through the ``taskshed`` command's own logging
set-up to a file (as a worker's stderr redirected to a file or a journal).
Prints the median runs/s of K rounds per configuration.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import tempfile
import time
from pathlib import Path

from taskshed.config import open_datastore
from taskshed.logs import LogFormat, configure_logging
from taskshed.models import Task
from taskshed.timeutils import utcnow
from taskshed.workers import EventDrivenWorker

CONFIGURATIONS: tuple[tuple[str, bool, LogFormat], ...] = (
    ("run log off", False, "text"),
    ("run log on, text", True, "text"),
    ("run log on, json", True, "json"),
)


async def one_round(url: str, tasks: int) -> tuple[float, float]:
    """Runs per second of one worker draining ``tasks`` due tasks, and CPU microseconds per run.

    CPU time (of the whole process, every thread) is the steadier number on a
    busy machine; runs/s is what a worker gets with the machine to itself.
    """
    store = open_datastore(url)
    await store.start()
    await store.remove_all_tasks()
    done = asyncio.Event()
    ran = 0

    async def noop() -> None:
        nonlocal ran
        ran += 1
        if ran == tasks:
            done.set()

    now = utcnow()
    await store.add_tasks(
        Task(callback="noop", run_at=now, task_id=f"cost-{i:07d}") for i in range(tasks)
    )
    worker = EventDrivenWorker({"noop": noop}, store, max_concurrency=1000, batch_size=1000)
    began, cpu = time.perf_counter(), time.process_time()
    await worker.start()
    await asyncio.wait_for(done.wait(), timeout=600)
    await worker.shutdown()  # records the last outcomes
    took, cpu = time.perf_counter() - began, time.process_time() - cpu
    left = await store.fetch_due_tasks(utcnow())
    await store.shutdown()
    assert not left, f"{len(left)} tasks were not recorded as done"
    return tasks / took, cpu / tasks * 1e6


def measure(url: str, tasks: int, repeat: int) -> dict[str, tuple[float, float]]:
    """Per configuration: the median runs/s and the median CPU microseconds per run."""
    results: dict[str, tuple[float, float]] = {}
    with tempfile.TemporaryDirectory() as folder:
        for name, run_log, fmt in CONFIGURATIONS:
            rates, costs = [], []
            for _ in range(repeat):
                with (Path(folder) / "worker.log").open("w") as sink:
                    configure_logging(logging.INFO, fmt, run_log=run_log, stream=sink)
                    rate, cost = asyncio.run(one_round(url, tasks))
                rates.append(rate)
                costs.append(cost)
            results[name] = (statistics.median(rates), statistics.median(costs))
    logging.basicConfig(force=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datastore", default="memory://")
    parser.add_argument("--tasks", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    results = measure(args.datastore, args.tasks, args.repeat)
    base_rate, base_cost = results["run log off"]
    print(f"{args.datastore}, {args.tasks} no-op tasks, median of {args.repeat} rounds")
    for name, (rate, cost) in results.items():
        print(
            f"  {name:<18} {rate:7.0f} runs/s ({(rate / base_rate - 1) * 100:+6.1f} %)  "
            f"{cost:6.1f} µs CPU per run ({cost - base_cost:+6.1f})"
        )


if __name__ == "__main__":
    main()
