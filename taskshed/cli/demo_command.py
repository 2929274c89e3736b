"""``taskshed demo``: schedule a few tasks into the configured store, run them, report, exit."""

from __future__ import annotations

import argparse
import asyncio
import uuid
from datetime import datetime, timedelta

from taskshed.cli.options import add_store_options, describe_store, positive_float, store_from_args
from taskshed.models import Task
from taskshed.schedulers import AsyncScheduler
from taskshed.timeutils import utcnow
from taskshed.workers import EventDrivenWorker

ONE_OFF_DELAYS = (0.5, 1.0, 1.5)
RECURRING_EVERY = 0.4
RECURRING_RUNS = 4


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="schedule a few one-off and recurring tasks, run them, and exit",
        description="Schedules three one-off tasks and one recurring task into the configured "
        "datastore (by default the embedded SQLite file taskshed.db), runs them with an "
        "event-driven worker, prints when each was due and when it ran, removes what it "
        "added and exits.",
    )
    add_store_options(parser)
    parser.add_argument(
        "--timeout", type=positive_float, default=30.0, help="give up after this many seconds (30)"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    print(f"datastore: {describe_store(args)}")
    return asyncio.run(_demo(args))


async def _demo(args: argparse.Namespace) -> int:
    group = f"taskshed-demo-{uuid.uuid4().hex[:8]}"
    expected = len(ONE_OFF_DELAYS) + RECURRING_RUNS
    finished = asyncio.Event()
    ran = 0

    async def report(label: str, due: str, started: datetime | None = None) -> None:
        nonlocal ran
        now = started or utcnow()
        lag_ms = (now - datetime.fromisoformat(due)).total_seconds() * 1000
        print(f"{label:<14} due {due[11:23]}  ran {now.isoformat()[11:23]}  lag {lag_ms:6.1f} ms")
        ran += 1
        if ran >= expected:
            finished.set()

    async def tick(label: str) -> None:
        # A recurring task's kwargs are fixed, so the due time comes from the store.
        started = utcnow()
        tasks = await scheduler.fetch_tasks(task_ids=[f"{group}-recurring"])
        due = tasks[0].run_at if tasks else started
        await report(label, due.isoformat(), started)

    store = store_from_args(args)
    worker = EventDrivenWorker({"report": report, "tick": tick}, store)
    scheduler = AsyncScheduler(store, worker=worker)
    await store.start()
    # The demo's worker would claim (and, not knowing their callbacks, set aside)
    # any other task that falls due while it runs: refuse a store that has some.
    horizon = utcnow() + timedelta(seconds=args.timeout + 5)
    others = await store.fetch_due_tasks(horizon)
    if others:
        await store.shutdown()
        print(
            f"demo: this datastore holds {len(others)} other task(s) due within "
            f"{args.timeout:.0f} s; the demo's worker would claim them. Run the demo "
            "against an empty store, e.g. --datastore memory:// or "
            "--datastore sqlite+aiosqlite:///demo.db"
        )
        return 1
    await scheduler.start()
    try:
        start = utcnow()
        tasks = [
            Task(
                task_id=f"{group}-once-{i}",
                callback="report",
                run_at=start + timedelta(seconds=delay),
                kwargs={
                    "label": f"one-off #{i}",
                    "due": (start + timedelta(seconds=delay)).isoformat(),
                },
                group_id=group,
            )
            for i, delay in enumerate(ONE_OFF_DELAYS, 1)
        ]
        tasks.append(
            Task(
                task_id=f"{group}-recurring",
                callback="tick",
                run_at=start + timedelta(seconds=RECURRING_EVERY),
                run_type="recurring",
                interval=timedelta(seconds=RECURRING_EVERY),
                kwargs={"label": "recurring"},
                group_id=group,
            )
        )
        await scheduler.add_tasks(tasks)
        print(
            f"scheduled {len(ONE_OFF_DELAYS)} one-off tasks and 1 recurring task "
            f"(every {RECURRING_EVERY} s, shown {RECURRING_RUNS} times)"
        )
        try:
            await asyncio.wait_for(finished.wait(), timeout=args.timeout)
        except TimeoutError:
            print(f"demo: only {ran} of {expected} runs happened within {args.timeout} s")
            return 1
        print(f"done: {ran} runs")
        return 0
    finally:
        # The worker stops first, so that removing the demo's tasks can't race
        # the completion of a run that is still being recorded.
        await worker.shutdown()
        try:
            await scheduler.remove_tasks(group_id=group)
        except Exception as exc:
            print(f"demo: could not remove its tasks (group {group}): {exc}")
        await scheduler.shutdown()
