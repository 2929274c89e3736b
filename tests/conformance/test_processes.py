"""The multi-process runner itself: how it reports a worker that can't start, and explicit plugins."""

from __future__ import annotations

from pathlib import Path

import pytest

from taskshed.testing.processes import WorkerProcessError, run_worker_processes
from tests.support.services import require_module

require_module("taskshed_example_store", install="pip install -e tests/example_plugin")

NO_AUTOLOAD = {"TASKSHED_DISABLE_PLUGIN_AUTOLOAD": "1"}


async def test_a_worker_that_cannot_open_the_store_is_reported_with_its_error(
    tmp_path: Path,
) -> None:
    # Without entry points the processes don't know the example:// scheme.
    with pytest.raises(WorkerProcessError, match="unknown datastore URL scheme 'example'"):
        await run_worker_processes(
            f"example://{tmp_path / 'tasks.json'}",
            processes=1,
            tasks=1,
            env=NO_AUTOLOAD,
            workdir=tmp_path / "records",
            timeout=20,
        )


async def test_plugins_are_registered_in_each_process(tmp_path: Path) -> None:
    run = await run_worker_processes(
        f"example://{tmp_path / 'tasks.json'}",
        processes=2,
        tasks=20,
        env=NO_AUTOLOAD,
        plugins=["taskshed_example_store.plugin"],
        workdir=tmp_path / "records",
        timeout=20,
    )
    assert not run.timed_out and not run.missing and not run.restarted, run.describe()
    assert run.exit_codes == {0: 0, 1: 0}, run.describe()  # both shut down gracefully
    assert sorted((tmp_path / "records").iterdir()) == sorted(
        tmp_path / "records" / f"worker-{n}.{ext}" for n in (0, 1) for ext in ("log", "err")
    )
