"""How punctually a bare asyncio loop on this machine starts work at given instants.

    .venv/bin/python benchmarks/loop_floor.py [--n 1000] [--spread 3.0] [--runs 3]

The runner's event-driven lag workload starts 1,000 tasks due 3 ms apart and
reports start minus due time. This does the same with nothing else in the
process — no store, no scheduler, no worker: one coroutine per instant sleeps
until 1.2 ms before it and then yields to the loop until it has passed, the
way the worker waits for a prefetched task. What it reports is the lag the
machine itself adds (timer resolution, the process not being run): the floor
under the workload's figures. A second run with ``--busy`` keeps one more
process spinning on a core meanwhile, as a database server on the same cores
does while it answers the worker.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import time

#: As the worker (taskshed.workers.base): the last stretch is waited out by yielding.
_ON_THE_DOT = 0.0012


async def _one_run(n: int, spread: float) -> list[float]:
    base = time.time() + 0.5
    lags: list[float] = []

    async def start_at(due: float) -> None:
        wait = due - time.time()
        if wait > _ON_THE_DOT:
            await asyncio.sleep(wait - _ON_THE_DOT)
        while time.time() < due:  # noqa: ASYNC110 - the worker's own way of waiting
            await asyncio.sleep(0)
        lags.append(time.time() - due)

    await asyncio.gather(*(start_at(base + spread * i / n) for i in range(n)))
    return sorted(lags)


def _spin(seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--spread", type=float, default=3.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--busy", action="store_true", help="one more process spins meanwhile")
    args = parser.parse_args()
    for _ in range(args.runs):
        spinner = None
        if args.busy:
            spinner = multiprocessing.Process(target=_spin, args=(args.spread + 1.0,))
            spinner.start()
        lags = asyncio.run(_one_run(args.n, args.spread))
        if spinner is not None:
            spinner.join()
        p50, p99 = lags[len(lags) // 2], lags[int(len(lags) * 0.99)]
        print(
            f"bare loop{' (+1 busy process)' if args.busy else ''}: p50 {p50 * 1e3:.2f} ms, "
            f"p99 {p99 * 1e3:.2f} ms, max {lags[-1] * 1e3:.2f} ms"
        )


if __name__ == "__main__":
    main()
