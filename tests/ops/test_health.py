"""`taskshed health` exit codes and `taskshed worker --health-file`."""

from __future__ import annotations

import os
import time

import pytest

from tests.ops.stores import SERVER_KINDS, RunningWorker, run_taskshed, store_url


@pytest.fixture(params=["sqlite", *SERVER_KINDS])
def url(request, tmp_path):
    return store_url(request.param, tmp_path)


@pytest.mark.slow
def test_health_needs_enough_live_workers_serving_the_callbacks(url, tmp_path):
    result, _ = run_taskshed("health", "--datastore", url, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "datastore: ok, schema current" in result.stdout
    result, _ = run_taskshed("health", "--datastore", url, "--min-workers", "1", cwd=tmp_path)
    assert result.returncode == 1 and "workers: FAIL: 0 alive" in result.stdout

    with RunningWorker(tmp_path, "--datastore", url) as worker:
        worker.wait_until_up()
        result, _ = run_taskshed(
            "health", "--datastore", url, "--min-workers", "1", "--callback", "job", cwd=tmp_path
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert "workers: ok: 1 alive" in result.stdout and "callback 'job': ok" in result.stdout
        result, _ = run_taskshed("health", "--datastore", url, "--callback", "nope", cwd=tmp_path)
        assert result.returncode == 1 and "no live worker serves it" in result.stdout
    # A worker that stopped unregisters itself.
    result, _ = run_taskshed("health", "--datastore", url, "--min-workers", "1", cwd=tmp_path)
    assert result.returncode == 1, result.stdout


@pytest.mark.parametrize("kind", ["mariadb", "postgresql"])
def test_health_fails_on_a_schema_that_needs_an_upgrade(kind, tmp_path):
    url = store_url(kind, tmp_path, migrated=False)
    result, _ = run_taskshed("health", "--datastore", url, cwd=tmp_path)
    assert result.returncode == 1
    assert "datastore: FAIL" in result.stdout and "taskshed db upgrade" in result.stdout


def test_health_fails_on_an_unreachable_store(tmp_path):
    result, _ = run_taskshed("health", "--datastore", "redis://127.0.0.1:1/0", cwd=tmp_path)
    assert result.returncode == 1 and "datastore: FAIL: can't reach" in result.stdout


@pytest.mark.slow
def test_health_file_is_renewed_every_heartbeat_and_removed_on_exit(tmp_path, sqlite_url):
    with RunningWorker(tmp_path, "--datastore", sqlite_url, "--lease", "3") as worker:
        worker.wait_until_up()
        first = os.stat(worker.health).st_mtime
        worker_id = worker.health.read_text().split()[0]
        assert worker_id in worker.output
        deadline = time.monotonic() + 10  # renewed every second (a third of the lease)
        while os.stat(worker.health).st_mtime == first:
            assert time.monotonic() < deadline, "the health file was not renewed"
            time.sleep(0.1)
    assert worker.proc.returncode == 0
    assert not worker.health.exists()
