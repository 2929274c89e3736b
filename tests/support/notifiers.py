"""What the notifier tests share: an inbox for the notices a handler hears, and a worker process.

The worker process is an ``EventDrivenWorker`` with ``max_sleep=30`` s
(``python -m taskshed.testing.worker_process``): a task it starts within half a
second of being added was woken by a notifier, since nothing else wakes it
sooner.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from taskshed.notifiers.base import Notice
from tests.support.waiting import wait_until

#: What a notifier tells its subscribers after it reconnected. On a shared server
#: another test may kill connections, so one can arrive at any time.
RECHECK = Notice("schedule")
#: The worker process's lease, seconds. After a run the worker wakes once more when
#: the lease would have ended; a test that wants it in its long sleep waits that long.
WORKER_LEASE = 2.0


class Inbox:
    """Collects the notices a handler receives; :meth:`next` reads them in order, waiting if need be."""

    def __init__(self) -> None:
        self.notices: list[Notice] = []
        self.read = 0

    def __call__(self, notice: Notice) -> None:
        self.notices.append(notice)

    async def next(self, timeout: float = 5.0, *, skip_rechecks: bool = False) -> Notice:
        """The next notice; with ``skip_rechecks``, the next one that is not a :data:`RECHECK`."""
        while True:
            await wait_until(
                lambda: len(self.notices) > self.read, timeout=timeout, what="a notice"
            )
            self.read += 1
            notice = self.notices[self.read - 1]
            if not (skip_rechecks and notice == RECHECK):
                return notice

    def published(self) -> list[Notice]:
        """What arrived, reconnection hints left out."""
        return [n for n in self.notices if n != RECHECK]


class NotifiedWorker:
    """A worker process on the store at ``url`` (``TASKSHED_NOTIFIER=notifier`` when given)."""

    def __init__(self, url: str, workdir: Path, notifier: str | None = None) -> None:
        self.record = workdir / "record.txt"
        self.stderr = workdir / "worker.err"
        env = dict(os.environ, TASKSHED_DATASTORE=url)
        if notifier:
            env["TASKSHED_NOTIFIER"] = notifier
        self.process = subprocess.Popen(
            [sys.executable, "-m", "taskshed.testing.worker_process",
             "--record", str(self.record), "--worker", "event", "--interval", "30",
             "--lease", str(WORKER_LEASE)],
            env=env, stdout=subprocess.DEVNULL, stderr=self.stderr.open("wb"),
        )  # fmt: skip

    def lines(self, kind: str) -> list[tuple[float, str]]:
        """The record's lines of ``kind`` (R ready, S started, D done) as (time, what)."""
        if not self.record.exists():
            return []
        found = []
        for line in self.record.read_text().splitlines():
            parts = line.split(" ", 2)
            if parts[0] == kind:
                found.append((float(parts[1]), parts[2] if len(parts) > 2 else ""))
        return found

    def starts(self, task_id: str) -> list[float]:
        return [at for at, what in self.lines("S") if what == task_id]

    def ready(self) -> bool:
        return bool(self.lines("R"))

    async def wait_for(self, condition: Callable[[], object], what: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if self.process.poll() is not None:
                raise AssertionError(f"the worker exited: {self.stderr.read_text()[-3000:]}")
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            await asyncio.sleep(0.005)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
