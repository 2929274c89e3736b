"""The Prometheus plugin, scraped over HTTP from a real `taskshed worker`."""

from __future__ import annotations

import asyncio
import re
import time
import urllib.request
from datetime import timedelta

import pytest

from taskshed.models import Task
from tests.ops.stores import RunningWorker, add_tasks, run_taskshed, store_url
from tests.support.services import require_module

require_module("taskshed_prometheus", install="pip install -e plugins/taskshed-prometheus")
parser = require_module(
    "prometheus_client.parser", install="pip install -e plugins/taskshed-prometheus"
)


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as reply:
        text = reply.read().decode()
    samples = {}
    for family in parser.text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def total(samples, name: str) -> float:
    return sum(v for (n, _), v in samples.items() if n == name)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["sqlite", "redis"])
def test_a_scraped_worker_counts_exactly_the_runs_it_made(kind, tmp_path):
    url = store_url(kind, tmp_path)
    tasks = [Task(callback="job", task_id=f"job-{i}") for i in range(5)]
    tasks += [Task(callback="bad", task_id=f"bad-{i}") for i in range(2)]
    tasks.append(
        Task(callback="flaky", task_id="flaky", kwargs={"marker": "flaky.once"}, max_attempts=2,
             retry_backoff=timedelta(seconds=0.2))
    )  # fmt: skip
    with RunningWorker(tmp_path, "--datastore", url, "--metrics-port", "0") as worker:
        line = worker.wait_for_line("metrics on http://")
        port = int(re.search(r":(\d+)/metrics", line).group(1))
        worker.wait_until_up()
        assert value(scrape(port), "taskshed_workers") == 1
        asyncio.run(add_tasks(url, *tasks))
        deadline = time.monotonic() + 30
        while total(samples := scrape(port), "taskshed_runs_total") < 9:
            runs = {k: v for k, v in samples.items() if k[0] == "taskshed_runs_total"}
            assert time.monotonic() < deadline, f"runs seen: {runs}"
            time.sleep(0.1)
        time.sleep(0.3)  # nothing more may arrive
        samples = scrape(port)
    assert worker.proc.returncode == 0, worker.output

    assert value(samples, "taskshed_runs_total", callback="job", outcome="succeeded") == 5
    assert value(samples, "taskshed_runs_total", callback="bad", outcome="failed") == 2
    assert value(samples, "taskshed_runs_total", callback="flaky", outcome="retried") == 1
    assert value(samples, "taskshed_runs_total", callback="flaky", outcome="succeeded") == 1
    assert total(samples, "taskshed_runs_total") == 9
    assert total(samples, "taskshed_claims_total") == 9
    assert value(samples, "taskshed_run_duration_seconds_count", callback="job") == 5
    assert total(samples, "taskshed_start_lag_seconds_count") == 9
    # A job sleeps 10 ms: the duration histogram's sum says so.
    assert value(samples, "taskshed_run_duration_seconds_sum", callback="job") >= 5 * 0.01
    assert value(samples, "taskshed_running_tasks") == 0
    assert value(samples, "taskshed_claimed_tasks") == 0
    assert total(samples, "taskshed_lease_losses_total") == 0
    # Labels stay bounded: callback names, outcomes, operations; never a task id.
    labels = {name for (n, lbls) in samples if n.startswith("taskshed_") for name, _ in lbls}
    assert labels <= {"callback", "outcome", "operation", "le"}, labels


@pytest.mark.slow
def test_store_errors_are_counted(tmp_path):
    """A store that goes away under a running worker: its failed calls show in the metrics."""
    from tests.resilience.proxy import TCPProxy
    from tests.support.services import require_service

    require_service("redis")

    async def scenario():
        proxy = TCPProxy("127.0.0.1", 6379)
        await proxy.start()
        url = f"redis://127.0.0.1:{proxy.port}/7?prefix=ops-errors"
        worker = RunningWorker(
            tmp_path, "--datastore", url, "--metrics-port", "0", "--polling", "0.1"
        )
        try:
            line = await asyncio.to_thread(worker.wait_for_line, "metrics on http://")
            port = int(re.search(r":(\d+)/metrics", line).group(1))
            await asyncio.to_thread(worker.wait_until_up)
            await proxy.stop()
            deadline = time.monotonic() + 30
            while total(await asyncio.to_thread(scrape, port), "taskshed_store_errors_total") < 1:
                assert time.monotonic() < deadline, worker.output[-2000:]
                await asyncio.sleep(0.1)
            samples = await asyncio.to_thread(scrape, port)
        finally:
            await asyncio.to_thread(worker.stop)
        assert value(samples, "taskshed_store_errors_total", operation="claim") >= 1

    asyncio.run(scenario())


def test_a_port_in_use_is_one_clear_line(tmp_path, sqlite_url):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        (tmp_path / "jobs.py").write_text(
            "async def job():\n    pass\n\nCALLBACKS = {'job': job}\n"
        )
        result, _ = run_taskshed(
            "worker", "jobs:CALLBACKS", "--datastore", sqlite_url, "--metrics-port", str(port),
            "--metrics-address", "127.0.0.1", cwd=tmp_path,
        )  # fmt: skip
    assert result.returncode == 1
    assert f"can't serve metrics on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr


def test_worker_help_shows_the_plugin_option(tmp_path):
    result, _ = run_taskshed("worker", "--help", cwd=tmp_path)
    assert "--metrics-port PORT" in result.stdout


def test_gauges_follow_claims_to_their_end_in_process():
    """Claimed and running gauges go up and back down with every way a claim ends."""
    from datetime import datetime

    from prometheus_client import CollectorRegistry
    from taskshed_prometheus.metrics import TaskshedMetrics

    from taskshed.events import TaskEvent, WorkerEvent
    from taskshed.worker_info import WorkerInfo

    registry = CollectorRegistry()
    metrics = TaskshedMetrics(registry)
    now = datetime.now().astimezone()
    info = WorkerInfo(worker_id="w", host="h", pid=1, started_at=now, heartbeat_at=now,
                      expires_at=now)  # fmt: skip
    metrics.worker_event(WorkerEvent("started", info, now))

    def event(kind, task_id, **fields):
        task = Task(callback="job", task_id=task_id, run_at=now)
        metrics.task_event(TaskEvent(kind, task, "w", at=now, due_at=now, **fields))

    def gauges():
        get = registry.get_sample_value
        return get("taskshed_claimed_tasks"), get("taskshed_running_tasks")

    for task_id in ("ok", "bad", "late", "lost"):
        event("claimed", task_id)
    assert gauges() == (4, 0)
    for task_id in ("ok", "bad", "lost"):
        event("started", task_id, started_at=now)
    assert gauges() == (4, 3)
    event("succeeded", "ok", started_at=now, finished_at=now)
    event("timed_out", "bad", started_at=now, finished_at=now)
    event("failed", "bad", started_at=now, finished_at=now)
    event("released", "late")
    event("lease_lost", "lost")  # the callback still runs; its outcome follows
    assert gauges() == (1, 1)
    metrics.worker_event(WorkerEvent("stopped", info, now))  # abandoned at shutdown
    assert gauges() == (0, 0)
    assert registry.get_sample_value("taskshed_run_timeouts_total", {"callback": "job"}) == 1
    assert registry.get_sample_value("taskshed_lease_losses_total", {"callback": "job"}) == 1
    assert registry.get_sample_value("taskshed_workers") == 0
