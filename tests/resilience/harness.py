"""Driving a store from synchronous hypothesis tests: one event loop per module, kept open.

Hypothesis calls a test body many times; each call runs its coroutine on
:attr:`SyncStore.runner`, the loop the store's connections belong to.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Coroutine
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from taskshed.datastores.base import DataStore
from taskshed.models import Task
from tests.resilience.stores import Backend, make_backend

T = TypeVar("T")

#: A fixed instant far in the future, so nothing planted here is ever due.
FAR = datetime(2090, 1, 1, tzinfo=UTC)

#: Tasks every bad-input test checks stay byte-for-byte as they were: ids and
#: groups chosen to sit right next to what an attacker's id could aim at.
VICTIMS = [
    Task(callback="cb", run_at=FAR, task_id="victim", kwargs={"n": 1}, group_id="vgroup"),
    Task(callback="cb", run_at=FAR, task_id="victim:task", kwargs={"s": "x'"}, group_id="vgroup"),
    Task(callback="cb", run_at=FAR, task_id="{victim}", kwargs={}, group_id="vgroup:tasks"),
    Task(callback="cb", run_at=FAR, task_id="v'1", kwargs={"l": [1, 2]}),
    Task(callback="cb", run_at=FAR, task_id="v%", kwargs={}, group_id="g%"),
    Task(
        callback="cb",
        run_at=FAR,
        task_id="vrec",
        run_type="recurring",
        interval=timedelta(seconds=90),
        group_id="vgroup",
    ),
    Task(callback="cb", run_at=FAR + timedelta(days=1), task_id="vpaused", paused=True),
    # Ids a case-, accent- or width-insensitive comparison would confuse with others.
    Task(callback="cb", run_at=FAR, task_id="café", kwargs={}, group_id="ß"),
    Task(callback="cb", run_at=FAR, task_id="victimß", kwargs={}, group_id="vgroup"),
]
VICTIM_IDS = {t.task_id for t in VICTIMS}
VICTIM_GROUPS = {t.group_id for t in VICTIMS if t.group_id}


class SyncStore:
    """A started store of one backend, its seeded victims, and the raw baseline."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.runner = asyncio.Runner()
        self._tmp = tempfile.TemporaryDirectory(prefix="tsres-")
        self.backend: Backend = self.run(make_backend(kind, Path(self._tmp.name)))
        self.store: DataStore = self.backend.open()
        self.run(self.store.start())
        self.run(self.store.add_tasks(VICTIMS))
        self.baseline = self.raw()
        self.examples = 0

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.runner.run(coro)

    def raw(self) -> Any:
        return self.run(self.backend.raw())

    def assert_intact(self) -> None:
        now = self.raw()
        assert now == self.baseline, _diff(self.baseline, now)

    def close(self) -> None:
        try:
            self.run(self.backend.wipe())
            self.run(self.store.shutdown())
            self.run(self.backend.close())
        finally:
            self.runner.close()
            self._tmp.cleanup()


def _diff(before: Any, after: Any) -> str:
    if isinstance(before, dict) and isinstance(after, dict):
        added = sorted(set(after) - set(before), key=repr)[:5]
        removed = sorted(set(before) - set(after), key=repr)[:5]
        changed = [k for k in before if k in after and before[k] != after[k]][:5]
        return f"raw records changed: added {added}, removed {removed}, changed {changed}"
    b, a = set(before), set(after)
    return f"raw rows changed: added {sorted(a - b, key=repr)[:3]}, removed {sorted(b - a, key=repr)[:3]}"
