"""What every driver shares: its command line, clocks, percentiles, server CPU, worker processes.

Standard library only: this module is imported by drivers that run inside each
peer's own virtual environment, next to a package that may be called ``taskshed``
too (the reference), so it must not import ours.

A driver runs one measurement per invocation::

    python <driver>.py --workload schedule --store redis --params '{"n": 500, "mode": "batched"}'

and prints one JSON object on its last stdout line: ``{"metrics": {...}}`` on
success, ``{"na": "why"}`` when the peer cannot do that workload on that store.
Anything else (a traceback, a non-zero exit) is an error for the runner.
"""

from __future__ import annotations

import argparse
import asyncio
import faulthandler
import json
import os
import random
import signal
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Where the servers are; the runner may override them through the environment.
MYSQL_HOST = os.environ.get("BENCH_MYSQL_HOST", "127.0.0.1")
MYSQL_PORT = int(os.environ.get("BENCH_MYSQL_PORT", "3306"))
MYSQL_USER = os.environ.get("BENCH_MYSQL_USER", "root")
REDIS_HOST = os.environ.get("BENCH_REDIS_HOST", "127.0.0.1")
REDIS_PORT = int(os.environ.get("BENCH_REDIS_PORT", "6379"))
#: The Redis database number that only the benchmarks use (9 belongs to the resilience tests).
REDIS_DB = int(os.environ.get("BENCH_REDIS_DB", "12"))
PG_HOST = os.environ.get("BENCH_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("BENCH_PG_PORT", "5432"))
PG_USER = os.environ.get("BENCH_PG_USER", "postgres")
#: Where the SQLite benchmark databases live (one file per peer).
SQLITE_DIR = Path(os.environ.get("BENCH_SQLITE_DIR", tempfile.gettempdir()))

#: The server process names whose CPU time a run reads from /proc (SQLite and memory have none).
SERVER_PROCESSES = {
    "redis": ("redis-server",),
    "mariadb": ("mariadbd", "mysqld"),
    "postgresql": ("postgres", "postmaster"),
}


class NotApplicable(Exception):
    """This peer cannot run this workload on this store; the message says why."""


@dataclass
class Arguments:
    workload: str
    store: str
    params: dict[str, Any]
    role: str | None = None
    out: str | None = None


def parse_arguments(argv: Sequence[str] | None = None) -> Arguments:
    parser = argparse.ArgumentParser(
        description="One benchmark measurement (used by benchmarks/run.py)."
    )
    parser.add_argument("--workload", required=True)
    parser.add_argument("--store", required=True)
    parser.add_argument("--params", default="{}", help="JSON object of workload parameters")
    parser.add_argument(
        "--scale-worker",
        action="store_const",
        const="scale-worker",
        dest="role",
        help="internal: be one worker process of a scaling run (same as --role scale-worker)",
    )
    parser.add_argument(
        "--role", help="internal: be a helper process of a measurement (see run_driver)"
    )
    parser.add_argument("--out", help="internal: where a helper process writes its record")
    args = parser.parse_args(argv)
    return Arguments(args.workload, args.store, json.loads(args.params), args.role, args.out)


def emit(payload: dict[str, Any]) -> None:
    """Print the result line the runner reads (always the last line of stdout)."""
    sys.stdout.write("\n" + json.dumps(payload, sort_keys=True) + "\n")
    sys.stdout.flush()


Role = Callable[[str, dict[str, Any], str], Coroutine[Any, Any, None]]


def run_driver(
    workloads: dict[str, Callable[[str, dict[str, Any]], Coroutine[Any, Any, dict[str, Any]]]],
    scale_worker: Role | None,
    argv: Sequence[str] | None = None,
    *,
    roles: dict[str, Role] | None = None,
) -> None:
    """The ``main`` of every driver: dispatch, and turn NotApplicable into an ``na`` line.

    ``roles`` are the helper processes a measurement starts (``--role NAME
    --out FILE``): a worker of a scaling run, the worker of a cross-process lag
    run, the scheduler of a burst added from another process.
    """
    args = parse_arguments(argv)
    # On a timeout the runner sends SIGUSR1 (every thread's stack, even with a
    # blocked loop) and SIGUSR2 (every asyncio task's stack) before SIGKILL.
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    if args.role is not None:
        known = {**(roles or {})}
        if scale_worker is not None:
            known["scale-worker"] = scale_worker
        role = known.get(args.role)
        if role is None or args.out is None:
            raise SystemExit(f"this driver has no {args.role!r} role")
        asyncio.run(_with_task_dump(role(args.store, args.params, args.out)))
        return
    workload = workloads.get(args.workload)
    if workload is None:
        emit({"na": f"workload {args.workload!r} is not implemented for this peer"})
        return
    try:
        metrics = asyncio.run(_with_task_dump(workload(args.store, args.params)))
    except NotApplicable as exc:
        emit({"na": str(exc)})
        return
    emit({"metrics": metrics})


async def _with_task_dump(work: Awaitable[Any]) -> Any:
    """Run ``work``; on SIGUSR2 print every asyncio task's stack to stderr (hang diagnosis)."""

    def dump() -> None:
        for task in asyncio.all_tasks():
            print(f"--- {task!r}", file=sys.stderr)
            task.print_stack(limit=30, file=sys.stderr)
        sys.stderr.flush()

    asyncio.get_running_loop().add_signal_handler(signal.SIGUSR2, dump)
    return await work


# ---------------------------------------------------------------------- clocks


@dataclass
class Meter:
    """Wall time, this process's CPU time and the store server's CPU time over one span."""

    store: str
    wall: float = 0.0
    cpu: float = 0.0
    server_cpu: float | None = None
    _marks: tuple[float, float, float | None] = (0.0, 0.0, None)

    def start(self) -> None:
        self._marks = (time.perf_counter(), time.process_time(), server_cpu_seconds(self.store))

    def stop(self) -> None:
        wall0, cpu0, server0 = self._marks
        self.wall = time.perf_counter() - wall0
        self.cpu = time.process_time() - cpu0
        server1 = server_cpu_seconds(self.store)
        self.server_cpu = None if server0 is None or server1 is None else server1 - server0

    def as_metrics(self) -> dict[str, Any]:
        return {"wall_s": self.wall, "cpu_s": self.cpu, "server_cpu_s": self.server_cpu}


def server_cpu_seconds(store: str) -> float | None:
    """User + system CPU seconds used so far by the server process of ``store`` (Linux only)."""
    names = SERVER_PROCESSES.get(store)
    if not names:
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    found = False
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() not in names:
                continue
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # Fields after the parenthesised command name; utime and stime are the 14th and 15th.
        fields = stat[stat.rfind(")") + 2 :].split()
        total += (int(fields[11]) + int(fields[12])) / ticks
        found = True
    return total if found else None


def percentile(values: Sequence[float], fraction: float) -> float:
    """The ``fraction`` quantile with linear interpolation between closest ranks."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def lag_metrics(lags: Sequence[float], expected: int) -> dict[str, Any]:
    """p50/p99/max of start-minus-due lags, in milliseconds."""
    return {
        "p50_ms": percentile(lags, 0.50) * 1000,
        "p99_ms": percentile(lags, 0.99) * 1000,
        "max_ms": max(lags) * 1000 if lags else float("nan"),
        "ran": len(lags),
        "missing": expected - len(lags),
    }


async def wait_until(
    predicate: Callable[[], Awaitable[bool]], *, timeout: float, every: float = 0.005
) -> bool:
    """Poll ``predicate`` until it is true; False on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        if await predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(every)


class Counter:
    """Counts callback runs and sets an event when ``target`` distinct tasks have run."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.runs = 0
        self.seen: set[Any] = set()
        self.done = asyncio.Event()
        self.starts: list[float] = []

    def hit(self, key: Any, *, due: float | None = None) -> None:
        now = time.time()
        self.runs += 1
        if due is not None:
            self.starts.append(now - due)
        self.seen.add(key)
        if len(self.seen) >= self.target:
            self.done.set()

    @property
    def duplicates(self) -> int:
        return self.runs - len(self.seen)


# ---------------------------------------------------------------------- worker processes


async def add_one_by_one(n: int, gap: float, add: Callable[[str, float], Awaitable[Any]]) -> None:
    """The adding side of a cross-process lag run: ``add(key, due)`` for ``n`` tasks due now.

    Keys ``x00000``...; irregular gaps around ``gap`` seconds (the same
    sequence for every peer), so that no rhythm lines up with a worker's own
    polling.
    """
    rng = random.Random(15)
    for i in range(n):
        await add(f"x{i:05d}", time.time())
        await asyncio.sleep(gap * rng.uniform(0.5, 1.5))


def cross_lag_result(out: Path, n: int, **extra: Any) -> dict[str, Any]:
    """The metrics of a cross-process lag run from its worker's record file, plus ``extra``."""
    record = ProcessRecord()
    record.add(out)
    return {
        **lag_metrics(lags_from_record(record), n),
        "duplicates": record.runs - record.unique,
        **extra,
    }


@dataclass
class ProcessRecord:
    """What the worker processes of a scaling run executed."""

    starts: dict[str, list[float]] = field(default_factory=dict)
    per_process: list[int] = field(default_factory=list)

    def add(self, path: Path) -> None:
        count = 0
        text = path.read_text() if path.exists() else ""
        for line in text.splitlines():
            stamp, _, key = line.partition(" ")
            self.starts.setdefault(key, []).append(float(stamp))
            count += 1
        self.per_process.append(count)

    @property
    def unique(self) -> int:
        return len(self.starts)

    @property
    def runs(self) -> int:
        return sum(len(times) for times in self.starts.values())

    @property
    def last_first_start(self) -> float:
        return max((min(times) for times in self.starts.values()), default=float("nan"))


class WorkerRecorder:
    """Inside a worker process: remember each callback start, write them all at exit."""

    def __init__(self, out: str) -> None:
        self.out = out
        self.lines: list[str] = []

    def hit(self, key: str) -> None:
        self.lines.append(f"{time.time():.6f} {key}")

    def flush(self) -> None:
        Path(self.out).write_text("\n".join(self.lines) + ("\n" if self.lines else ""))


async def serve_until_terminated(
    start: Callable[[], Awaitable[None]],
    stop: Callable[[], Awaitable[None]],
    recorder: WorkerRecorder,
) -> None:
    """Worker-process main: start, say READY, run until SIGTERM, stop, write the record."""
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    await start()
    sys.stdout.write("READY\n")
    sys.stdout.flush()
    await stopping.wait()
    try:
        await asyncio.wait_for(stop(), timeout=20)
    finally:
        recorder.flush()


async def run_scaling(
    *,
    driver: str,
    store: str,
    params: dict[str, Any],
    schedule: Callable[[float], Awaitable[None]],
    is_drained: Callable[[], Awaitable[bool]],
) -> dict[str, Any]:
    """Start ``params['processes']`` worker processes of ``driver``, schedule, count.

    ``schedule(due_epoch)`` adds ``params['n']`` tasks, all due at ``due_epoch``,
    with keys ``t00000``...; ``is_drained()`` is true once the store holds none
    of them. Throughput is tasks over the time from their due time until the
    store was drained; duplicates are callback starts beyond one per task.
    """
    processes = int(params["processes"])
    n = int(params["n"])
    timeout = float(params.get("timeout", 60))
    lead = float(params.get("lead", 1.0))
    folder = Path(tempfile.mkdtemp(prefix="taskshed-bench-scale-"))
    children: list[asyncio.subprocess.Process] = []
    record = ProcessRecord()
    try:
        for index in range(processes):
            out = folder / f"worker-{index}.txt"
            children.append(await start_role(driver, "scale-worker", store, params, out))
        for child in children:
            await wait_ready(child)
        due = time.time() + lead
        await schedule(due)
        if time.time() > due:
            raise RuntimeError("scheduling took longer than the lead time; raise params.lead")
        drained = await wait_until(is_drained, timeout=lead + timeout, every=0.01)
        drained_at = time.time()
        # A worker that fetched the tasks before they left the store may still be
        # starting its (duplicate) copies: give it a moment to finish them.
        await asyncio.sleep(float(params.get("settle", 0.5)))
    finally:
        await stop_children(children)
    for index in range(processes):
        record.add(folder / f"worker-{index}.txt")
    elapsed = drained_at - due
    return {
        "processes": processes,
        "n": n,
        "unique": record.unique,
        "runs": record.runs,
        "duplicates": record.runs - record.unique,
        "per_process": record.per_process,
        "elapsed_s": elapsed,
        "tasks_per_s": record.unique / elapsed if elapsed > 0 else float("nan"),
        "last_start_s": record.last_first_start - due,
        "timed_out": not drained,
    }


async def _ready(child: asyncio.subprocess.Process) -> bool:
    """Read the child's stdout until it says READY (False if it exits first)."""
    assert child.stdout is not None
    while line := await child.stdout.readline():
        if line.strip() == b"READY":
            return True
    return False


# ---------------------------------------------------------------------- helper processes


async def start_role(
    driver: str, role: str, store: str, params: dict[str, Any], out: Path
) -> asyncio.subprocess.Process:
    """Start this driver again as a helper process (``--role``); it says READY when it is up."""
    return await asyncio.create_subprocess_exec(
        sys.executable, driver, "--workload", role, "--store", store,
        "--params", json.dumps(params), "--role", role, "--out", str(out),
        stdout=asyncio.subprocess.PIPE,
        stdin=asyncio.subprocess.PIPE,
    )  # fmt: skip


async def wait_ready(child: asyncio.subprocess.Process, timeout: float = 60) -> None:
    if not await asyncio.wait_for(_ready(child), timeout=timeout):
        raise RuntimeError(f"a helper process did not start (exit {await child.wait()})")


async def tell(child: asyncio.subprocess.Process, line: str) -> None:
    """Send one line to a helper process's stdin (see :func:`next_command`)."""
    assert child.stdin is not None
    child.stdin.write(line.encode() + b"\n")
    await child.stdin.drain()


async def answer(child: asyncio.subprocess.Process, timeout: float) -> str:
    """The next line a helper process prints (empty if it exits)."""
    assert child.stdout is not None
    line = await asyncio.wait_for(child.stdout.readline(), timeout)
    return line.decode().strip()


async def next_command() -> str:
    """Inside a helper process: the next line from the parent ("" once it closed our stdin)."""
    line = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    return line.strip()


def say_to_parent(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


async def stop_children(children: Sequence[asyncio.subprocess.Process]) -> None:
    """SIGTERM every helper still running, wait for them (SIGKILL after 30 s)."""
    for child in children:
        if child.returncode is None:
            child.send_signal(signal.SIGTERM)
    for child in children:
        try:
            await asyncio.wait_for(child.wait(), timeout=30)
        except TimeoutError:
            child.kill()
            await child.wait()


def tcp_ports_of(pid: int, server_port: int | None = None) -> set[int]:
    """The local TCP ports of ``pid``'s sockets (Linux): how a server tells its connections apart.

    With ``server_port``, only those of connections to that port: Linux gives two
    connections to different servers the same local port at times, so a port
    alone may also name another process's connection to another server.
    """
    inodes: set[str] = set()
    fd_dir = Path(f"/proc/{pid}/fd")
    try:
        entries = list(fd_dir.iterdir())
    except OSError:
        return set()
    for entry in entries:
        try:
            target = os.readlink(entry)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports: set[int] = set()
    for table in ("tcp", "tcp6"):
        try:
            rows = Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if len(fields) > 9 and fields[9] in inodes:
                if server_port is not None and int(fields[2].rsplit(":", 1)[1], 16) != server_port:
                    continue
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def lags_from_record(record: ProcessRecord) -> list[float]:
    """Start minus due of each task's first start, for keys of the form ``name|due_epoch``."""
    lags = []
    for key, starts in record.starts.items():
        _, _, due = key.partition("|")
        if due:
            lags.append(min(starts) - float(due))
    return lags
