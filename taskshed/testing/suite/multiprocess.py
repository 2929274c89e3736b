"""Several worker processes on one store: one start per task, and recovery from a dead worker."""

from __future__ import annotations

from pathlib import Path

import pytest

from taskshed.datastores.base import DataStore
from taskshed.testing.processes import run_worker_processes
from taskshed.testing.suite.base import SuiteBase, store_test


class ProcessTests(SuiteBase):
    def _process_url(self, request: pytest.FixtureRequest) -> str:
        """The URL the processes open; asked for only when the store supports processes."""
        if not self.supports_multiple_processes:
            pytest.skip("the store can't be shared by processes (supports_multiple_processes)")
        return str(request.getfixturevalue("datastore_url"))

    @pytest.mark.parametrize("kind", ["polling", "event"])
    @store_test(timeout_attr="process_timeout")
    async def test_worker_processes_start_every_task_exactly_once(
        self, store: DataStore, request: pytest.FixtureRequest, tmp_path: Path, kind: str
    ) -> None:
        run = await run_worker_processes(
            self._process_url(request),
            processes=3,
            tasks=90,
            callback_duration=0.01,
            worker=kind,
            timeout=self.process_timeout / 2,
            plugins=self.process_plugins,
            workdir=tmp_path,
        )
        assert not run.timed_out, run.describe()
        assert not run.missing, run.describe()
        assert not run.restarted, run.describe()  # G1: nobody died, so no second start
        assert not run.duplicates, run.describe()
        assert not run.left_in_store, run.describe()

    @store_test(timeout_attr="process_timeout")
    async def test_a_killed_workers_tasks_run_again_after_the_lease(
        self, store: DataStore, request: pytest.FixtureRequest, tmp_path: Path
    ) -> None:
        lease = 1.5
        run = await run_worker_processes(
            self._process_url(request),
            processes=3,
            tasks=24,
            callback_duration=1.0,
            lease=lease,
            kill_after_starts=2,
            max_concurrency=4,
            batch_size=4,
            timeout=self.process_timeout / 2,
            plugins=self.process_plugins,
            workdir=tmp_path,
        )
        assert not run.timed_out, run.describe()
        assert run.killed_worker is not None and run.interrupted, run.describe()
        # G2: nothing is lost; what the dead worker was running starts again elsewhere ...
        assert not run.missing, run.describe()
        assert run.interrupted <= set(run.restarted), run.describe()
        # Not before the lease ended (half of it: a loaded machine may start a
        # callback a little after its claim; a store ignoring leases restarts
        # within one polling interval).
        for task_id in run.interrupted:
            assert run.restart_delays[task_id] >= lease / 2, (
                f"{task_id} restarted {run.restart_delays[task_id]:.2f} s after it started, "
                f"before its {lease} s lease ended"
            )
        # ... and G1 holds for every task the dead worker never touched.
        touched = run.started_by_killed
        assert set(run.restarted) <= touched, run.describe()
        assert set(run.duplicates) <= touched, run.describe()
        assert not run.left_in_store, run.describe()
