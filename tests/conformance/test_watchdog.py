"""A store that hangs fails its conformance test within the watchdog, with stacks, and the run ends.

The suite runs in its own pytest process (no pytest-timeout there, as in a
plugin's own test run), against stores that never answer: one blocked in a
thread (a synchronous driver under ``asyncio.to_thread``), which no
cancellation reaches, and one that blocks the event loop itself.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

SUITE = """
import asyncio
import threading
import time

import pytest


from taskshed.config import get_serializer
from taskshed.datastores import InMemoryDataStore
from taskshed.testing import DataStoreSuite

NEVER = threading.Event()


def wait_for_a_driver_that_never_answers():
    NEVER.wait()


class StoreBlockedInAThread(InMemoryDataStore):
    async def fetch_tasks(self, task_ids):
        await asyncio.to_thread(wait_for_a_driver_that_never_answers)


class StoreBlockingTheLoop(InMemoryDataStore):
    async def fetch_tasks(self, task_ids):
        time.sleep(3600)  # a synchronous call on the event loop


class Hanging(DataStoreSuite):
    shared_between_instances = supports_multiple_processes = persistent = False
    test_timeout = 2.0
    cleanup_timeout = 1.0
    store_class = None

    @pytest.fixture
    def make_datastore(self):
        def make(serializer=None):
            return self.store_class(serializer=get_serializer(serializer or "json"))
        return make


class TestBlockedInAThread(Hanging):
    store_class = StoreBlockedInAThread


class TestBlockingTheLoop(Hanging):
    store_class = StoreBlockingTheLoop
"""


def test_a_hanging_store_fails_within_the_watchdog_with_stacks(tmp_path: Path) -> None:
    (tmp_path / "test_hanging_suite.py").write_text(SUITE)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }
    began = time.monotonic()
    result = subprocess.run(
        [
            sys.executable, "-m", "pytest", "test_hanging_suite.py", "-p", "no:asyncio",
            "-p", "no:cacheprovider", "-p", "no:timeout", "-q", "-rN",
            "-k", "test_fetch_tasks_skips_unknown_ids or test_added_tasks_come_back_with_every_field",
        ],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    elapsed = time.monotonic() - began
    out = result.stdout + result.stderr
    assert "4 failed" in out, out[-5000:]
    # 4 tests of at most 2 s each, plus up to 1 s of clean-up each, plus start-up.
    assert elapsed < 40, f"the run took {elapsed:.0f} s:\n{out[-3000:]}"
    # -rN: no short summary, whose lines pytest leaves untruncated when CI is set.
    assert out.count("did not finish within 2 s") == 4, out[-5000:]
    # The stacks show where each store was stuck.
    assert "wait_for_a_driver_that_never_answers" in out, out[-5000:]
    assert "time.sleep(3600)" in out, out[-5000:]
    assert "asyncio task" in out
