"""Where the lag of a task added by another process goes: the add, the notice, the claim.

    .venv/bin/python benchmarks/profile_cross_lag.py [--store postgresql] [--notifier redis]
                                                     [--n 200] [--gap 0.02]

A scheduler here adds ``n`` tasks due *now*, ``gap`` seconds apart; an
``EventDrivenWorker`` in a child process runs them (the runner's ``lag/cross``
case). The worker records when each notice arrived, when each claim started
and ended, and when each callback started; this prints the percentiles of
the add (commit and publish), of due-to-notice, of notice-to-claim, of the
claim itself and of the whole lag. Uses the benchmark databases.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent / "drivers"))

import stores_ours as stores


def _percentiles(name: str, values: list[float]) -> str:
    values = sorted(values)
    if not values:
        return f"{name:<22} (none)"
    at = lambda q: values[min(len(values) - 1, int(len(values) * q))]  # noqa: E731
    return f"{name:<22} p50 {at(0.5):6.2f} ms   p90 {at(0.9):6.2f} ms   p99 {at(0.99):6.2f} ms"


async def worker(args: argparse.Namespace) -> None:
    datastore = stores.make_store(args.store)
    events: list[tuple[str, float, float]] = []

    async def xlag(due: float) -> None:
        events.append(("start", time.time(), due))

    params = {"notifier": args.notifier} if args.notifier else {}
    runner = stores.make_worker("cross", {"xlag": xlag}, datastore, params)
    heard = runner._on_notice

    def on_notice(notice: Any) -> None:
        events.append(("notice", time.time(), 0.0))
        heard(notice)

    runner._on_notice = on_notice  # type: ignore[method-assign]
    acquire = datastore.acquire_tasks

    async def timed_acquire(**kwargs: Any) -> Any:
        began = time.time()
        claims = await acquire(**kwargs)
        events.append(("claim", began, time.time()))
        return claims

    datastore.acquire_tasks = timed_acquire  # type: ignore[method-assign]
    await datastore.start()
    await runner.start()
    print("READY", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    await runner.shutdown()
    await datastore.shutdown()
    await asyncio.to_thread(Path(args.out).write_text, json.dumps(events))


async def scheduler(args: argparse.Namespace) -> None:
    await stores.prepare(args.store)
    datastore = stores.make_store(args.store)
    await datastore.start()
    params = {"notifier": args.notifier} if args.notifier else {}
    sched = stores.make_scheduler(datastore, params)
    await sched.start()
    out = Path(tempfile.mkdtemp(prefix="taskshed-xlag-profile-")) / "events.json"
    command = [
        sys.executable,
        __file__,
        "--store",
        args.store,
        "--role",
        "worker",
        "--out",
        str(out),
    ]
    if args.notifier:
        command += ["--notifier", args.notifier]
    child = await asyncio.create_subprocess_exec(
        *command, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE
    )
    assert child.stdin is not None and child.stdout is not None
    await child.stdout.readline()
    await asyncio.sleep(1.0)
    adds: list[float] = []
    for i in range(args.n):
        due = time.time()
        await sched.add_task(
            "xlag",
            run_at=datetime.fromtimestamp(due, UTC),
            task_id=f"x{i:05d}",
            kwargs={"due": due},
        )
        adds.append((time.time() - due) * 1000)
        await asyncio.sleep(args.gap)
    await asyncio.sleep(1.0)
    child.stdin.write(b"\n")
    await child.stdin.drain()
    await child.wait()
    await datastore.remove_all_tasks()
    await sched.shutdown()
    events = json.loads(await asyncio.to_thread(out.read_text))
    notices = sorted(at for kind, at, _ in events if kind == "notice")
    claims = sorted((began, ended) for kind, began, ended in events if kind == "claim")
    starts = [(at, due) for kind, at, due in events if kind == "start"]
    to_notice, to_claim, claiming = [], [], []
    for _, due in starts:
        notice = next((n for n in notices if n >= due), None)
        if notice is None:
            continue
        to_notice.append((notice - due) * 1000)
        claim = next((c for c in claims if c[0] >= notice), None)
        if claim is not None:
            to_claim.append((claim[0] - notice) * 1000)
            claiming.append((claim[1] - claim[0]) * 1000)
    via = args.notifier or "the store's own"
    print(f"{args.store}, notifier {via}, {len(starts)} tasks")
    print(_percentiles("add (commit, publish)", adds))
    print(_percentiles("due -> notice", to_notice))
    print(_percentiles("notice -> claim", to_claim))
    print(_percentiles("claim", claiming))
    print(_percentiles("lag (due -> start)", [(at - due) * 1000 for at, due in starts]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", default="postgresql")
    parser.add_argument("--notifier", default=None, help="e.g. redis (default: the store's own)")
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--gap", type=float, default=0.02)
    parser.add_argument("--role", default="scheduler", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    asyncio.run(worker(args) if args.role == "worker" else scheduler(args))


if __name__ == "__main__":
    main()
