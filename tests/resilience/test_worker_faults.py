"""Once per occurrence across real worker processes, on every shared store, when a callback blocks
its event loop and when one host's clock is off.

Each scenario runs :func:`taskshed.testing.processes.run_worker_processes`: fresh interpreters that
record every callback start in a file. A skewed host is a worker process run under Debian's
``faketime`` (its whole clock shifted; the servers keep the true time).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from taskshed.testing.processes import run_worker_processes
from tests.resilience.stores import SHARED_KINDS, Backend
from tests.resilience.tally import Recorder

SERVER_KINDS = [kind for kind in SHARED_KINDS if kind != "sqlite"]


@pytest.mark.slow
@pytest.mark.parametrize("style", ["blocking", "plain"])
@pytest.mark.parametrize("kind", SHARED_KINDS)
async def test_a_callback_that_blocks_for_longer_than_the_lease_starts_once(
    kind: str, style: str, backend: Backend, tmp_path: Path, tally: Recorder
) -> None:
    lease, duration = 1.5, 4.0
    run = await run_worker_processes(
        backend.url, processes=2, tasks=1, callback_duration=duration, lease=lease,
        callback_style=style, worker="event", polling_interval=0.05,
        workdir=tmp_path / "procs", timeout=30,
    )  # fmt: skip
    assert not run.timed_out, run.describe()
    assert not run.missing and not run.restarted, run.describe()
    what = "an async def calling time.sleep" if style == "blocking" else "a plain def"
    tally.add(
        "worker faults",
        f"{what} running {duration} s with a {lease} s lease, 2 event-driven worker processes",
        "started once: the heartbeat thread renewed the lease while the callback held its worker",
    )


@pytest.mark.slow
@pytest.mark.parametrize("kind", SERVER_KINDS)
async def test_a_worker_whose_clock_is_ahead_neither_takes_over_nor_starts_early(
    kind: str, backend: Backend, tmp_path: Path, tally: Recorder
) -> None:
    lease, skew = 3.0, 2.5
    # Worker 1's clock is 2.5 s ahead. Tasks are due 2 s after they are added and run 6 s each,
    # twice the lease: a worker trusting its own clock would claim them 2.5 s early, or take
    # over a healthy worker's renewed claim as soon as it thinks the lease has passed.
    run = await run_worker_processes(
        backend.url, processes=2, tasks=6, callback_duration=6.0, lease=lease,
        clock_skew={1: skew}, due_in=2.0, worker="polling", polling_interval=0.05,
        max_concurrency=3, batch_size=3, workdir=tmp_path / "procs", timeout=60,
    )  # fmt: skip
    assert not run.timed_out, run.describe()
    assert not run.missing and not run.restarted, run.describe()
    early = {
        task_id: round(run.due_at - when, 3)
        for task_id, starts in run.start_times.items()
        for _, when in starts
        if when < run.due_at - 0.25
    }
    assert not early, f"started early by that many seconds: {early}; {run.describe()}"
    by_skewed = sum(run.starts_by_worker.get(1, {}).values())
    tally.add(
        "worker faults",
        f"one of 2 worker processes with its clock {skew} s ahead (faketime), lease {lease} s, "
        "6 s callbacks",
        f"no task started early or twice; the skewed worker ran {by_skewed} of 6 "
        "(both used the store's clock)",
    )


@pytest.mark.slow
@pytest.mark.parametrize("kind", SERVER_KINDS)
async def test_a_worker_whose_clock_is_behind_does_not_start_late_or_twice(
    kind: str, backend: Backend, tmp_path: Path, tally: Recorder
) -> None:
    run = await run_worker_processes(
        backend.url, processes=1, tasks=3, callback_duration=0.0, lease=3.0,
        clock_skew={0: -20.0}, due_in=1.0, worker="event", polling_interval=0.2,
        workdir=tmp_path / "procs", timeout=30,
    )  # fmt: skip
    assert not run.timed_out, run.describe()
    assert not run.missing and not run.restarted, run.describe()
    late = [when - run.due_at for starts in run.start_times.values() for _, when in starts]
    assert all(-0.25 < lag < 2.0 for lag in late), f"start lags {late} (clock 20 s behind)"
    tally.add(
        "worker faults",
        "a worker process whose clock is 20 s behind (faketime)",
        f"tasks started {min(late):+.2f}..{max(late):+.2f} s from their due time, by the store's clock",
    )
