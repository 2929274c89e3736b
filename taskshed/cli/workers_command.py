"""``taskshed workers``: the live workers, what each holds, and callbacks nobody serves."""

from __future__ import annotations

import argparse
import asyncio
import json
from collections import Counter
from datetime import datetime

from taskshed.cli.options import add_store_options, positive_int
from taskshed.cli.output import duration, local_time, table
from taskshed.cli.session import scheduler_session
from taskshed.listing import MAX_PAGE_SIZE, TaskQuery
from taskshed.models import task_state
from taskshed.schedulers import AsyncScheduler
from taskshed.worker_info import WorkerInfo

#: Claims listed per worker.
_HELD_SHOWN = 10


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "workers",
        help="list live workers, what they hold, and callbacks no live worker serves",
        description="List the workers registered in the datastore that are still "
        "heartbeating, with the tasks each holds; then warn about callbacks of stored tasks "
        "that no live worker serves (those tasks would never run).",
    )
    add_store_options(parser)
    parser.add_argument(
        "--scan",
        type=positive_int,
        default=10_000,
        metavar="N",
        help="look at up to N stored tasks for unserved callbacks (10,000)",
    )
    parser.add_argument("--json", action="store_true", help="one JSON document instead of text")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    return asyncio.run(_run(args))


async def _run(args: argparse.Namespace) -> int:
    async with scheduler_session(args, "taskshed workers") as scheduler:
        store = scheduler.datastore
        now = await store.current_time()
        workers = await store.fetch_workers(now)
        held = {
            w.worker_id: (
                await store.list_tasks(
                    TaskQuery(claimed_by=w.worker_id, limit=_HELD_SHOWN, now=now)
                )
            ).tasks
            for w in workers
        }
        served = {name for w in workers for name in w.callbacks}
        stored, due, scanned, complete = await _callbacks_in_use(scheduler, now, args.scan)
    unserved = sorted(set(stored) - served)
    if args.json:
        print(
            json.dumps(
                {
                    "workers": [
                        _worker_record(w, [t.task_id for t in held[w.worker_id]]) for w in workers
                    ],
                    "unserved_callbacks": {
                        name: {"tasks": stored[name], "due": due[name]} for name in unserved
                    },
                    "tasks_scanned": scanned,
                    "scan_complete": complete,
                },
                indent=2,
            )
        )
        return 0
    if not workers:
        print("no live workers")
    else:
        rows = [
            ("WORKER", "HOST", "PID", "KIND", "UP", "HEARTBEAT", "RUNNING", "HELD", "CALLBACKS")
        ]
        rows += [
            (
                w.worker_id,
                w.host,
                str(w.pid),
                w.kind or "-",
                duration(now - w.started_at),
                f"{duration(now - w.heartbeat_at)} ago",
                str(w.running),
                str(w.held),
                ", ".join(w.callbacks) or "-",
            )
            for w in workers
        ]
        table(rows)
        for w in workers:
            tasks = held[w.worker_id]
            if tasks:
                more = " ..." if w.held > len(tasks) else ""
                shown = ", ".join(
                    f"{t.task_id} ({t.callback}, due {local_time(t.run_at)})" for t in tasks
                )
                print(f"{w.worker_id} holds: {shown}{more}")
    scope = "" if complete else f" (among the first {scanned} stored tasks)"
    for name in unserved:
        print(
            f"WARNING: no live worker serves callback {name!r}: {stored[name]} task(s) "
            f"waiting, {due[name]} of them due now{scope}"
        )
    return 0


async def _callbacks_in_use(
    scheduler: AsyncScheduler, now: datetime, limit: int
) -> tuple[Counter[str], Counter[str], int, bool]:
    """Callbacks of runnable (not paused, not failed) tasks, with how many are due; scans <= limit."""
    stored: Counter[str] = Counter()
    due: Counter[str] = Counter()
    scanned = 0
    query = TaskQuery(limit=min(MAX_PAGE_SIZE, limit), now=now)
    while True:
        page = await scheduler.list_tasks(query)
        for task in page.tasks:
            state = task_state(task, now)
            if state in ("paused", "failed"):
                continue
            stored[task.callback] += 1
            if state == "due":
                due[task.callback] += 1
        scanned += len(page.tasks)
        if page.next_cursor is None:
            return stored, due, scanned, True
        if scanned >= limit:
            return stored, due, scanned, False
        query = TaskQuery(
            limit=min(MAX_PAGE_SIZE, limit - scanned), now=now, after=page.next_cursor
        )


def _worker_record(info: WorkerInfo, holds: list[str]) -> dict[str, object]:
    return {
        "worker_id": info.worker_id,
        "host": info.host,
        "pid": info.pid,
        "kind": info.kind,
        "version": info.version,
        "started_at": info.started_at.isoformat(),
        "heartbeat_at": info.heartbeat_at.isoformat(),
        "expires_at": info.expires_at.isoformat(),
        "running": info.running,
        "held": info.held,
        "callbacks": list(info.callbacks),
        "holds": holds,
    }
