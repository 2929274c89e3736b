"""Process faults with real worker processes: SIGKILL mid-callback, SIGTERM/SIGINT, a hung callback.

Uses :func:`taskshed.testing.processes.run_worker_processes` (fresh
interpreters, each recording every callback start and return in a file that
survives SIGKILL) and the ``taskshed worker`` command itself.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from taskshed.models import Task
from taskshed.testing.processes import run_worker_processes
from taskshed.testing.suite.multiprocess import check_killed_worker_recovery
from taskshed.timeutils import utcnow
from taskshed.urls import URL
from tests.resilience.proxy import TCPProxy
from tests.resilience.stores import SHARED_KINDS, Backend, make_backend, own_redis_backend
from tests.resilience.tally import Recorder
from tests.support.redis_server import RedisServer

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.parametrize("kind", SHARED_KINDS)
async def test_sigkill_mid_callback_reruns_after_the_lease_on_another_worker(
    kind: str, backend: Backend, tmp_path: Path, tally: Recorder
) -> None:
    # The conformance suite's scenario (taskshed.testing), on every shared store.
    run = await check_killed_worker_recovery(backend.url, workdir=tmp_path / "procs", timeout=60)
    tally.add(
        "process faults",
        "SIGKILL of one of 3 worker processes in the middle of its callbacks (lease 3 s)",
        f"{len(run.interrupted)} interrupted tasks re-ran on another worker after "
        f"{min(run.restart_delays.values()):.1f}-{max(run.restart_delays.values()):.1f} s; "
        f"all {len(run.task_ids)} tasks completed, {len(run.restarted) - len(run.interrupted)} other re-runs "
        f"(all started by the killed worker)",
    )


@pytest.mark.slow
@pytest.mark.parametrize("kind", SHARED_KINDS)
async def test_a_callback_that_outlives_its_lease_is_never_started_twice(
    kind: str, backend: Backend, tmp_path: Path, tally: Recorder
) -> None:
    lease, duration = 3.0, 7.0  # renewed at least twice; 3 s: a busy box may stall a process
    run = await run_worker_processes(
        backend.url, processes=2, tasks=6, callback_duration=duration, lease=lease,
        workdir=tmp_path / "procs", timeout=60, max_concurrency=3, batch_size=3,
    )  # fmt: skip
    assert not run.timed_out, run.describe()
    assert not run.missing and not run.duplicates and not run.restarted, run.describe()
    tally.add(
        "process faults",
        f"callbacks running {duration} s with a {lease} s lease, 2 worker processes polling every 50 ms",
        f"{len(run.task_ids)} tasks, each started exactly once: the lease was renewed "
        f"(every {lease / 3:.1f} s) while the callback ran",
    )


def _records(path: Path) -> list[tuple[str, str]]:
    if not path.exists():
        return []
    return [tuple(line.split(" ", 1)) for line in path.read_text().splitlines() if " " in line]  # type: ignore[misc]


# SIGTERM on every store; SIGINT (Ctrl-C) takes the same path, checked on two.
SIGNALS = [
    *(pytest.param(kind, signal.SIGTERM, id=f"{kind}-SIGTERM") for kind in SHARED_KINDS),
    *(pytest.param(kind, signal.SIGINT, id=f"{kind}-SIGINT") for kind in ("sqlite", "redis")),
]


@pytest.mark.slow
@pytest.mark.parametrize(("kind", "signum"), SIGNALS)
async def test_taskshed_worker_stops_gracefully_on_a_signal(
    kind: str, backend: Backend, signum: int, tmp_path: Path, tally: Recorder
) -> None:
    grace = 3.0
    record = tmp_path / "record.log"
    store = backend.open()
    await store.start()
    now = utcnow()
    tasks = [
        Task(
            callback="quick",
            run_at=now - timedelta(seconds=3),
            task_id="quick",
            kwargs={"task": "quick", "seconds": 1.5},
        ),
        Task(
            callback="hang",
            run_at=now - timedelta(seconds=2),
            task_id="hang",
            kwargs={"task": "hang"},
        ),
    ] + [
        Task(
            callback="quick",
            run_at=now - timedelta(seconds=1),
            task_id=f"waiting-{i}",
            kwargs={"task": f"waiting-{i}"},
        )
        for i in range(3)
    ]
    await store.add_tasks(tasks)
    env = {**os.environ, "TSRES_RECORD": str(record), "TASKSHED_DATASTORE": backend.url}
    # Popen only starts the process; the loop below polls it without blocking.
    proc = subprocess.Popen(  # noqa: ASYNC220
        [sys.executable, "-m", "taskshed.cli.main", "worker", "tests.resilience.cli_callbacks:CALLBACKS",
         "--concurrency", "2", "--lease", "30", "--shutdown-timeout", str(grace)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while {"quick", "hang"} - {t for k, t in _records(record) if k == "S"}:
            assert proc.poll() is None, proc.communicate()[0].decode(errors="replace")[-3000:]
            assert time.monotonic() < deadline, "the worker did not start both callbacks"
            await asyncio.sleep(0.02)
        signalled = time.monotonic()
        proc.send_signal(signum)
        while proc.poll() is None:
            assert time.monotonic() - signalled < grace + 15, "the worker did not exit"
            await asyncio.sleep(0.02)
        took = time.monotonic() - signalled
        output = proc.communicate()[0].decode(errors="replace")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    lines = _records(record)
    assert proc.returncode == 0, output[-3000:]
    assert "never retrieved" not in output and "Unhandled" not in output, output[-3000:]
    assert ("D", "quick") in lines, f"the running callback was not allowed to finish: {lines}"
    assert ("C", "hang") in lines and ("D", "hang") not in lines, lines
    assert not [t for k, t in lines if t.startswith("waiting")], (
        f"claimed after the signal: {lines}"
    )
    assert took < grace + 5, took
    # The finished one-off is gone; the cancelled and the waiting ones are claimable at once.
    assert await store.fetch_tasks(["quick"]) == []
    probe_now = utcnow()
    claims = await store.acquire_tasks(
        worker_id="probe", now=probe_now, lease_until=probe_now + timedelta(seconds=30), limit=10
    )
    claimable = {c.task_id for c in claims}
    await store.shutdown()
    assert claimable == {"hang", "waiting-0", "waiting-1", "waiting-2"}, claimable
    name = signal.Signals(signum).name
    tally.add(
        "process faults",
        f"{name} to `taskshed worker` (concurrency 2, grace {grace:.0f} s) with one 1.5 s callback and one hung callback running, 3 more due",
        f"exit 0 after {took:.1f} s; running callback finished, hung one cancelled and released "
        f"(claimable at once, lease 30 s), 0 of 3 due tasks claimed after the signal",
    )


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["redis", "mariadb"])
async def test_taskshed_worker_stops_on_sigterm_while_the_store_is_down(
    kind: str, tmp_path: Path, own_redis: RedisServer, tally: Recorder
) -> None:
    """SIGTERM arrives while the store is unreachable: the worker still exits, and nothing is lost."""
    grace = 2.0
    proxy: TCPProxy | None = None
    if kind == "redis":
        own_redis.start()
        backend = own_redis_backend(own_redis.url)
        worker_url = backend.url
    else:
        backend = await make_backend(kind, tmp_path)
        proxy = TCPProxy("127.0.0.1", URL.parse(backend.url).port or 3306)
        await proxy.start()
        worker_url = replace(URL.parse(backend.url), port=proxy.port).render(hide_password=False)
    store = backend.open()
    await store.start()
    await store.add_tasks(
        [Task(callback="hang", run_at=utcnow(), task_id="hang-down", kwargs={"task": "hang-down"})]
    )
    record, log_path = tmp_path / "record.log", tmp_path / "worker.log"
    env = {**os.environ, "TSRES_RECORD": str(record), "TASKSHED_DATASTORE": worker_url}
    with log_path.open("wb") as log_file:
        proc = subprocess.Popen(  # noqa: ASYNC220 -- only starts it; polled below
            [sys.executable, "-m", "taskshed.cli.main", "worker", "tests.resilience.cli_callbacks:CALLBACKS",
             "--lease", "30", "--shutdown-timeout", str(grace), "--polling", "0.1"],
            cwd=ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while ("S", "hang-down") not in _records(record):
            assert proc.poll() is None, log_path.read_text(errors="replace")[-3000:]
            assert time.monotonic() < deadline, "the callback did not start"
            await asyncio.sleep(0.02)
        if proxy is not None:
            await proxy.stop()
        else:
            await asyncio.to_thread(own_redis.stop, save=True)
        signalled = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        while proc.poll() is None:
            assert time.monotonic() - signalled < 90, "the worker did not exit"
            await asyncio.sleep(0.05)
        took = time.monotonic() - signalled
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proxy is not None:
            await proxy.start()
        elif own_redis.process is None or own_redis.process.poll() is not None:
            await asyncio.to_thread(own_redis.start)
    output = log_path.read_text(errors="replace")
    # Back up: the task could not be handed back, so it waits for its lease, then runs again.
    assert [t.task_id for t in await store.fetch_tasks(["hang-down"])] == ["hang-down"]
    now = utcnow()
    at_once = await store.acquire_tasks(
        worker_id="probe", now=now, lease_until=now + timedelta(seconds=1), limit=5
    )
    later = now + timedelta(seconds=31)
    claims = at_once or await store.acquire_tasks(
        worker_id="probe", now=later, lease_until=later + timedelta(seconds=5), limit=5
    )
    await store.remove_tasks(["hang-down"])
    await store.shutdown()
    await backend.close()
    if proxy is not None:
        await proxy.stop()
    assert proc.returncode == 0, output[-3000:]
    assert "never retrieved" not in output and "Unhandled" not in output, output[-3000:]
    assert ("C", "hang-down") in _records(record)
    assert [c.task_id for c in claims] == ["hang-down"]
    assert took < grace + 30, took
    tally.add(
        "process faults",
        f"SIGTERM to `taskshed worker` (grace {grace:.0f} s) while the store was unreachable and a callback hung",
        f"exit {proc.returncode} after {took:.1f} s; the hung callback was cancelled; its task stayed stored and "
        + (
            "was handed back (claimable at once)"
            if at_once
            else "could not be handed back, so it was claimable again when its 30 s lease ended"
        ),
    )


async def _count_scheduled(backend: Backend) -> int:
    """How many tasks the process helper has scheduled (read around the store)."""
    if backend.kind == "redis":
        client = await backend.admin()
        return int(await client.zcard(f"{backend.prefix}:task_queue"))
    import sqlalchemy as sa

    async with (await backend.admin()).connect() as conn:
        return int(
            (await conn.execute(sa.text("SELECT COUNT(*) FROM _taskshed_data"))).scalar() or 0
        )


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["mariadb", "postgresql", "redis"])
async def test_worker_processes_under_a_storm_of_killed_connections(
    kind: str, tmp_path: Path, own_redis: RedisServer, tally: Recorder
) -> None:
    """3 worker processes run 150 half-second tasks while every connection they open is killed, for 3 s."""
    if kind == "redis":
        # The test's own server: every client but the test's own can be killed.
        own_redis.start()
        backend = own_redis_backend(own_redis.url)

        async def kill_all() -> int:
            client = await backend.admin()
            return int(
                await client.execute_command("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes")
            )
    else:
        backend = await make_backend(kind, tmp_path)
        kill_all = backend.kill_worker_connections
    killed = 0

    async def storm() -> None:
        nonlocal killed
        deadline = time.monotonic() + 60
        while await _count_scheduled(backend) == 0:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.02)
        until = time.monotonic() + 3.0
        while time.monotonic() < until:
            killed += await kill_all()
            await asyncio.sleep(0.02)

    stormer = asyncio.create_task(storm())
    try:
        run = await run_worker_processes(
            backend.worker_url, processes=3, tasks=150, callback_duration=0.5, lease=3.0,
            workdir=tmp_path / "procs", timeout=90, max_concurrency=10, batch_size=10,
        )  # fmt: skip
        await stormer
    finally:
        stormer.cancel()
        await backend.wipe()
        await backend.close()
    assert not run.timed_out, run.describe()
    assert not run.missing and not run.duplicates and not run.restarted, run.describe()
    assert killed > 0
    tally.add(
        "server faults",
        "3 worker processes running 150 half-second tasks while every connection they (and the scheduler) open is killed server-side for 3 s",
        f"{killed} connections killed during the run; all {len(run.task_ids)} tasks completed, "
        f"{len(run.restarted)} started more than once; run took {run.elapsed:.1f} s",
    )
