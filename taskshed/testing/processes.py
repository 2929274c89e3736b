"""Run real worker *processes* against one datastore and count what they executed.

This is how a store proves G1 (one start per occurrence) and G2 (nothing lost
when a worker dies) across processes. Usage, from an async test::

    from taskshed.testing.processes import run_worker_processes

    async def test_no_duplicates_across_processes(redis_url):
        run = await run_worker_processes(
            redis_url, processes=3, tasks=200, callback_duration=0.01, timeout=60
        )
        assert not run.timed_out, run.describe()
        assert not run.missing and not run.duplicates, run.describe()
        assert not run.restarted  # nobody died, so nothing started twice

and the crash case (a worker SIGKILLed in the middle of its callbacks)::

    run = await run_worker_processes(
        url, processes=3, tasks=30, callback_duration=1.0, lease=2.0, kill_after_starts=3
    )
    assert run.killed_worker is not None and run.interrupted
    assert not run.missing                       # every task finished somewhere
    assert run.interrupted <= set(run.restarted) # ... the interrupted ones started again
    assert set(run.restarted) <= run.started_by_killed  # only those touched by the dead worker

From sync code use ``asyncio.run(run_worker_processes(...))``.

What happens: ``processes`` copies of ``python -m taskshed.testing.worker_process``
start (fresh interpreters, not forks of the test process) with the datastore
URL in ``TASKSHED_DATASTORE``. Each opens the store with
:func:`taskshed.open_datastore` (so the store's plugin must be installed, or
named in ``plugins=`` to be registered in code), runs a worker
(``worker="polling"`` or ``"event"``) and appends a line to its own record file
as each callback starts and returns (one ``O_APPEND`` write per line: it
survives SIGKILL). Once every process is ready, ``tasks`` one-off tasks are
added, all due at once, in group ``group_id``. The helper then polls the record
files and the store, with ``timeout``, until every task has a recorded
completion *and* is gone from the store; then it stops the workers with SIGTERM
(SIGKILL after ``stop_timeout``) and removes whatever it added.

Starts and completions (callback returns) are counted separately. A worker
killed mid-callback leaves that task started but not completed; the task
starts again on another worker once its lease ends, so G1 ("once, as long as
no worker dies") holds for every task the dead worker did not touch. A task
the dead worker *finished* but had not yet recorded in the store (workers
complete in batches) may also legitimately run again; such tasks are all in
:attr:`ProcessRun.started_by_killed`.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import shutil
import signal
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from taskshed.config import DATASTORE_ENV, open_datastore
from taskshed.errors import DataStoreError
from taskshed.models import Task
from taskshed.plugins import register_plugin
from taskshed.testing.worker_process import RECORD_CALLBACK
from taskshed.timeutils import utcnow

__all__ = ["ProcessRun", "WorkerProcessError", "run_worker_processes"]

_POLL = 0.05  # seconds between looks at the record files


class WorkerProcessError(RuntimeError):
    """A worker process could not start (its stderr is in the message)."""


@dataclass
class ProcessRun:
    """What the worker processes did with the scheduled tasks."""

    #: The ids of the tasks that were scheduled.
    task_ids: list[str]
    #: How many times each task's callback started / returned, over all processes.
    starts: Counter[str] = field(default_factory=Counter)
    completions: Counter[str] = field(default_factory=Counter)
    #: The same per worker process (index 0..processes-1).
    starts_by_worker: dict[int, Counter[str]] = field(default_factory=dict)
    completions_by_worker: dict[int, Counter[str]] = field(default_factory=dict)
    #: Start-to-start delay of each task that started twice, seconds.
    restart_delays: dict[str, float] = field(default_factory=dict)
    #: When each task's callback started (epoch seconds on the true clock: a process run
    #: under ``clock_skew`` has its skew taken off), by worker index.
    start_times: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
    #: When the tasks were due (epoch seconds).
    due_at: float = 0.0
    #: The index of the SIGKILLed worker, if one was killed.
    killed_worker: int | None = None
    #: Tasks whose callback had started but not returned in the killed worker.
    interrupted: set[str] = field(default_factory=set)
    #: Ids still in the store when the run ended (normally none).
    left_in_store: set[str] = field(default_factory=set)
    timed_out: bool = False
    elapsed: float = 0.0
    #: Each process's exit code after the run (0: shut down cleanly, -9: SIGKILLed).
    exit_codes: dict[int, int | None] = field(default_factory=dict)
    #: Where the record files and worker stderr logs are.
    workdir: Path | None = None

    @property
    def missing(self) -> set[str]:
        """Tasks whose callback never returned in any process."""
        return {task_id for task_id in self.task_ids if self.completions[task_id] == 0}

    @property
    def duplicates(self) -> dict[str, int]:
        """Tasks whose callback returned more than once, with the count."""
        return {task_id: n for task_id, n in self.completions.items() if n > 1}

    @property
    def restarted(self) -> dict[str, int]:
        """Tasks whose callback started more than once, with the count."""
        return {task_id: n for task_id, n in self.starts.items() if n > 1}

    @property
    def started_by_killed(self) -> set[str]:
        """Tasks the killed worker started (empty when no worker was killed)."""
        if self.killed_worker is None:
            return set()
        return set(self.starts_by_worker.get(self.killed_worker, ()))

    def describe(self) -> str:
        """A short summary for assertion messages."""
        per_worker = {
            index: sum(counts.values())
            for index, counts in sorted(self.completions_by_worker.items())
        }
        summary = (
            f"{len(self.task_ids)} tasks, {sum(self.starts.values())} starts, "
            f"{sum(self.completions.values())} completions in {self.elapsed:.1f} s "
            f"(per worker {per_worker}); timed_out={self.timed_out}, "
            f"missing={sorted(self.missing)[:10]}, duplicates={dict(list(self.duplicates.items())[:10])}, "
            f"restarted={dict(list(self.restarted.items())[:10])}, killed_worker={self.killed_worker}, "
            f"interrupted={sorted(self.interrupted)[:10]}, left_in_store={sorted(self.left_in_store)[:10]}, "
            f"records in {self.workdir}"
        )
        failed = {
            i: code for i, code in self.exit_codes.items() if code and i != self.killed_worker
        }
        if failed and self.workdir is not None:
            for index in failed:
                log = (self.workdir / f"worker-{index}.err").read_text(errors="replace")
                summary += f"\nworker {index} exited with {failed[index]}:\n{log[-2000:]}"
        return summary


async def run_worker_processes(
    url: str,
    *,
    processes: int = 3,
    tasks: int = 50,
    callback_duration: float = 0.0,
    lease: float = 5.0,
    kill_after_starts: int | None = None,
    timeout: float = 60.0,
    worker: str = "polling",
    polling_interval: float = 0.05,
    max_concurrency: int = 20,
    batch_size: int = 10,
    serializer: str | None = None,
    plugins: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    workdir: str | Path | None = None,
    group_id: str | None = None,
    stop_timeout: float = 10.0,
    callback_style: str = "async",
    clock_skew: Mapping[int, float] | None = None,
    due_in: float = 0.0,
) -> ProcessRun:
    """Start ``processes`` workers on ``url``, schedule ``tasks`` tasks, wait, and count.

    :param url: the datastore URL every process opens (the store must be shared
        between processes; ``memory://`` is not).
    :param callback_duration: how long each callback sleeps, seconds.
    :param lease: the workers' lease, seconds (renewed every third of it while a
        callback runs; a dead worker's tasks are claimable after at most this).
    :param kill_after_starts: SIGKILL the first worker whose callbacks have
        started this many times (it is then usually mid-callback: give the
        callbacks a duration). ``None`` kills nobody.
    :param timeout: the longest to wait for all tasks to finish, seconds; on
        expiry the result has ``timed_out=True`` (nothing is raised).
    :param worker: ``"polling"`` (``PollingWorker``), ``"event"``
        (``EventDrivenWorker``) or ``"module:factory"`` called as
        ``factory(callback_map, datastore, lease=..., max_concurrency=..., batch_size=...)``.
    :param polling_interval: the polling interval, or the event-driven worker's
        longest sleep, seconds.
    :param plugins: modules each process registers with
        :func:`taskshed.register_plugin` before opening the store (also
        registered here for scheduling).
    :param env: extra environment variables for the processes.
    :param workdir: where to put record files (default: a new temporary folder,
        kept so that a failure can be inspected).
    :param callback_style: ``"async"`` (the callback awaits ``asyncio.sleep``),
        ``"blocking"`` (an ``async def`` that calls ``time.sleep``: it blocks its
        worker's event loop) or ``"plain"`` (a plain ``def`` calling ``time.sleep``).
    :param clock_skew: ``{process index: seconds}``: run those processes under
        Debian's ``faketime`` with their clocks that far ahead (negative: behind).
        Their recorded start times are corrected back to the true clock.
    :param due_in: schedule the tasks this many seconds after they are added.
    :raises WorkerProcessError: a process exited before it was ready.
    """
    if processes < 1 or tasks < 0:
        raise ValueError("need at least one process and a non-negative number of tasks")
    for module_name in plugins:
        register_plugin(importlib.import_module(module_name))
    folder = (
        Path(workdir) if workdir is not None else Path(tempfile.mkdtemp(prefix="taskshed-procs-"))
    )
    folder.mkdir(parents=True, exist_ok=True)
    run_id = uuid.uuid4().hex[:10]
    group = group_id or f"taskshed-testing-{run_id}"
    task_ids = [f"proc-{run_id}-{index:05d}" for index in range(tasks)]
    run = ProcessRun(task_ids=task_ids, workdir=folder)
    records = [folder / f"worker-{index}.log" for index in range(processes)]

    child_env = dict(os.environ)
    child_env.update(env or {})
    child_env[DATASTORE_ENV] = url
    command = [sys.executable, "-m", "taskshed.testing.worker_process"]
    skews = dict(clock_skew or {})
    if skews and shutil.which("faketime") is None:
        raise WorkerProcessError(
            "clock_skew needs Debian's faketime (apt-get install faketime); ./dev.sh installs it"
        )
    options = [
        "--worker", worker,
        "--duration", str(callback_duration),
        "--lease", str(lease),
        "--interval", str(polling_interval),
        "--max-concurrency", str(max_concurrency),
        "--batch-size", str(batch_size),
        "--style", callback_style,
    ]  # fmt: skip
    if serializer:
        options += ["--serializer", serializer]
    for module_name in plugins:
        options += ["--plugin", module_name]

    store = open_datastore(url, serializer=serializer)
    await store.start()
    children: list[asyncio.subprocess.Process] = []
    started = time.monotonic()
    try:
        for index, record in enumerate(records):
            record.touch()
            with (folder / f"worker-{index}.err").open("wb") as stderr:
                skew = skews.get(index)
                prefix = ["faketime", "-m", "-f", f"{skew:+.6f}s"] if skew is not None else []
                children.append(
                    await asyncio.create_subprocess_exec(
                        *prefix,
                        *command,
                        "--record",
                        str(record),
                        *options,
                        env=child_env,
                        stdin=asyncio.subprocess.DEVNULL,
                        stdout=asyncio.subprocess.DEVNULL,
                        stderr=stderr,
                    )
                )
        await _wait_ready(children, records, folder, deadline=time.monotonic() + timeout)

        run_at = utcnow() + timedelta(seconds=due_in)
        run.due_at = run_at.timestamp()
        await store.add_tasks(
            Task(
                callback=RECORD_CALLBACK,
                run_at=run_at,
                task_id=task_id,
                kwargs={"task": task_id},
                group_id=group,
            )
            for task_id in task_ids
        )
        deadline = time.monotonic() + timeout
        while True:
            _read_records(run, records, skews)
            if kill_after_starts is not None and run.killed_worker is None:
                for index, counts in run.starts_by_worker.items():
                    if sum(counts.values()) >= kill_after_starts:
                        if children[index].returncode is None:
                            children[index].send_signal(signal.SIGKILL)
                        await children[index].wait()
                        run.killed_worker = index
                        break
            if not run.missing:
                try:
                    done = not task_ids or not await store.fetch_tasks(task_ids)
                except DataStoreError:
                    # Only a progress check: a test may be killing every connection to
                    # the server (this one's too); it asks again next time round.
                    done = False
                if done:
                    break
            if time.monotonic() >= deadline:
                run.timed_out = True
                break
            await asyncio.sleep(_POLL)
    finally:
        await _stop(children, stop_timeout)
        run.elapsed = time.monotonic() - started
        run.exit_codes = {index: child.returncode for index, child in enumerate(children)}
        try:
            _read_records(run, records, skews)
            if task_ids:
                run.left_in_store = {task.task_id for task in await store.fetch_tasks(task_ids)}
                await store.remove_group_tasks(group)
        finally:
            await store.shutdown()
    if run.killed_worker is not None:
        killed = run.killed_worker
        run.interrupted = {
            task_id
            for task_id, n in run.starts_by_worker.get(killed, Counter()).items()
            if run.completions_by_worker.get(killed, Counter())[task_id] < n
        }
    return run


async def _wait_ready(
    children: list[asyncio.subprocess.Process],
    records: list[Path],
    folder: Path,
    *,
    deadline: float,
) -> None:
    waiting = set(range(len(children)))
    while waiting:
        for index in list(waiting):
            if records[index].read_bytes().startswith(b"R "):
                waiting.discard(index)
            elif children[index].returncode is not None:
                error = (folder / f"worker-{index}.err").read_text(errors="replace")
                raise WorkerProcessError(
                    f"worker process {index} exited with {children[index].returncode} "
                    f"before it was ready:\n{error[-4000:]}"
                )
        if not waiting:
            return
        if time.monotonic() >= deadline:
            raise WorkerProcessError(f"worker processes {sorted(waiting)} not ready in time")
        await asyncio.sleep(_POLL)


def _read_records(
    run: ProcessRun, records: list[Path], skews: Mapping[int, float] | None = None
) -> None:
    """Recount everything from the files (they only grow, so a full re-read is simple)."""
    run.starts.clear()
    run.completions.clear()
    run.start_times = {}
    start_times: dict[str, list[float]] = {}
    for index, record in enumerate(records):
        starts: Counter[str] = Counter()
        completions: Counter[str] = Counter()
        text = record.read_text()
        # Only whole lines: the last one may be half-written right now.
        for line in text[: text.rfind("\n") + 1].splitlines():
            kind, stamp, task_id = line.split(" ", 2)
            if kind == "S":
                starts[task_id] += 1
                true_time = float(stamp) - (skews or {}).get(index, 0.0)
                start_times.setdefault(task_id, []).append(true_time)
                run.start_times.setdefault(task_id, []).append((index, true_time))
            elif kind == "D":
                completions[task_id] += 1
        run.starts_by_worker[index] = starts
        run.completions_by_worker[index] = completions
        run.starts.update(starts)
        run.completions.update(completions)
    run.restart_delays = {
        task_id: sorted(times)[1] - min(times)
        for task_id, times in start_times.items()
        if len(times) > 1
    }


async def _stop(children: list[asyncio.subprocess.Process], stop_timeout: float) -> None:
    """SIGTERM every worker (a graceful shutdown), SIGKILL those still alive after the timeout."""
    for child in children:
        if child.returncode is None:
            child.send_signal(signal.SIGTERM)
    if not children:
        return
    _, alive = await asyncio.wait(
        [asyncio.ensure_future(child.wait()) for child in children], timeout=stop_timeout
    )
    if alive:
        for child in children:
            if child.returncode is None:
                child.kill()
        await asyncio.wait(alive)
