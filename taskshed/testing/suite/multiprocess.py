"""Several worker processes on one store: one start per task, and recovery from a dead worker."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from taskshed.datastores.base import DataStore
from taskshed.testing.processes import ProcessRun, run_worker_processes
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
            timeout=self.process_timeout / 3,  # for readiness, then for the run; stopping after
            plugins=self.process_plugins,
            serializer=self.suite_serializer,
            workdir=tmp_path,
        )
        # First what a store that hands out held tasks breaks (its workers may also time out).
        assert not run.restarted, (  # G1: nobody died, so no second start
            f"G1: while no worker dies, every task must start exactly once: {run.describe()}"
        )
        assert not run.duplicates, f"every task must complete exactly once: {run.describe()}"
        assert not run.timed_out, f"the workers did not finish every task in time: {run.describe()}"
        assert not run.missing, f"every task must run to completion, none lost: {run.describe()}"
        assert not run.left_in_store, (
            f"completed one-off tasks must be removed from the store: {run.describe()}"
        )

    @store_test(timeout_attr="process_timeout")
    async def test_a_killed_workers_tasks_run_again_after_the_lease(
        self, store: DataStore, request: pytest.FixtureRequest, tmp_path: Path
    ) -> None:
        await check_killed_worker_recovery(
            self._process_url(request),
            workdir=tmp_path,
            timeout=self.process_timeout / 3,  # for readiness, then for the run; stopping after
            plugins=self.process_plugins,
            serializer=self.suite_serializer,
        )


async def check_killed_worker_recovery(
    url: str,
    *,
    workdir: Path,
    timeout: float,
    plugins: Sequence[str] = (),
    lease: float = 3.0,
    serializer: str | None = None,
) -> ProcessRun:
    """SIGKILL one of three worker processes mid-callback; its tasks run again after the lease.

    The scenario every store that is shared by processes must pass (G1, G2);
    returns the run for callers that report on it.
    """
    run = await run_worker_processes(
        url,
        processes=3,
        tasks=24,
        callback_duration=1.0,
        lease=lease,
        kill_after_starts=2,
        max_concurrency=4,
        batch_size=4,
        timeout=timeout,
        plugins=plugins,
        serializer=serializer,
        workdir=workdir,
    )
    assert not run.timed_out, f"the workers did not finish every task in time: {run.describe()}"
    assert run.killed_worker is not None and run.interrupted, (
        f"the test could not kill a worker mid-callback: {run.describe()}"
    )
    # G2: nothing is lost; what the dead worker was running starts again elsewhere ...
    assert not run.missing, f"G2: a dead worker's tasks must not be lost: {run.describe()}"
    assert run.interrupted <= set(run.restarted), (
        f"G2: what a dead worker was running must start again elsewhere: {run.describe()}"
    )
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
    assert set(run.restarted) <= touched, (
        f"G1: tasks the dead worker never touched must start exactly once: {run.describe()}"
    )
    assert set(run.duplicates) <= touched, (
        f"G1: tasks the dead worker never touched must complete exactly once: {run.describe()}"
    )
    assert not run.left_in_store, (
        f"completed one-off tasks must be removed from the store: {run.describe()}"
    )
    return run
