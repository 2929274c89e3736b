"""The ``taskshed`` command: plugins, demo and worker, run as a user would run them."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest

from taskshed import open_datastore
from taskshed.models import Task
from taskshed.timeutils import utcnow
from tests.support.services import require_module

TASKSHED = [sys.executable, "-m", "taskshed.cli.main"]


def run_cli(*args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 60):
    return subprocess.run(
        [*TASKSHED, *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_plugins_lists_every_plugin_with_what_it_provides(tmp_path):
    result = run_cli("plugins", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "memory://" in result.stdout
    assert "json-rich" in result.stdout
    assert "taskshed" in result.stdout  # the distribution column


def test_plugins_never_shows_a_password(tmp_path):
    result = run_cli(
        "plugins", cwd=tmp_path, env={"TASKSHED_DATASTORE": "redis://user:topsecret@localhost:1/0"}
    )
    assert "topsecret" not in result.stdout + result.stderr
    assert "redis://user:***@localhost:1/0" in result.stdout


def test_demo_runs_and_exits_by_itself(tmp_path):
    result = run_cli("demo", "--datastore", "memory://", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("one-off #") == 3
    assert result.stdout.count("recurring") >= 4
    assert "done: 7 runs" in result.stdout


def test_unknown_scheme_is_a_clear_error_not_a_traceback(tmp_path):
    result = run_cli("demo", "--datastore", "nosuch://x", cwd=tmp_path)
    assert result.returncode == 1
    assert "unknown datastore URL scheme 'nosuch'" in result.stderr
    assert "Traceback" not in result.stderr


CALLBACKS = textwrap.dedent(
    """
    import asyncio
    from pathlib import Path

    HERE = Path(__file__).parent


    async def slow(name, seconds):
        (HERE / f"{name}.started").touch()
        await asyncio.sleep(seconds)
        (HERE / f"{name}.finished").touch()


    CALLBACKS = {"slow": slow}
    """
)


async def _add(url: str, *tasks: Task) -> None:
    store = open_datastore(url)
    await store.start()
    await store.add_tasks(tasks)
    await store.shutdown()


async def _stored(url: str, task_id: str) -> bool:
    store = open_datastore(url)
    await store.start()
    try:
        return bool(await store.fetch_tasks([task_id]))
    finally:
        await store.shutdown()


def _wait_for_file(path: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path.name} never appeared"
        time.sleep(0.05)


@pytest.mark.parametrize(("grace", "finishes"), [(30.0, True), (0.2, False)])
def test_sigterm_lets_running_callbacks_finish_within_the_grace_period(
    tmp_path, sqlite_url, grace, finishes
):
    require_module("taskshed_sqlalchemy", install="./dev.sh setup")
    (tmp_path / "jobs.py").write_text(CALLBACKS)
    asyncio.run(
        _add(
            sqlite_url,
            Task(
                callback="slow", run_at=utcnow(), task_id="t", kwargs={"name": "t", "seconds": 1.5}
            ),
        )
    )
    worker = subprocess.Popen(
        [
            *TASKSHED,
            "worker",
            "jobs:CALLBACKS",
            "--datastore",
            sqlite_url,
            "--shutdown-timeout",
            str(grace),
        ],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        _wait_for_file(tmp_path / "t.started")
        worker.send_signal(signal.SIGTERM)
        output, _ = worker.communicate(timeout=60)
    finally:
        worker.kill()
    assert worker.returncode == 0, output
    assert (tmp_path / "t.finished").exists() is finishes
    # A finished one-off is gone; an unfinished one was released and is claimable at once.
    assert asyncio.run(_stored(sqlite_url, "t")) is not finishes
    if not finishes:
        store = open_datastore(sqlite_url)

        async def claim():
            await store.start()
            now = utcnow()
            try:
                return await store.acquire_tasks(
                    worker_id="other", now=now, lease_until=now + timedelta(seconds=5), limit=5
                )
            finally:
                await store.shutdown()

        assert [c.task_id for c in asyncio.run(claim())] == ["t"]


def test_bad_option_values_are_usage_errors_not_tracebacks(tmp_path):
    for option in (["--concurrency", "0"], ["--lease", "-1"], ["--polling", "0"]):
        result = run_cli("worker", "jobs:CALLBACKS", *option, cwd=tmp_path)
        assert result.returncode == 2, option
        assert "Traceback" not in result.stderr and "error:" in result.stderr


def test_plugins_flags_a_configuration_no_plugin_provides(tmp_path):
    result = run_cli("plugins", cwd=tmp_path, env={"TASKSHED_SERIALIZER": "yaml"})
    assert result.returncode == 1
    assert "unknown serializer 'yaml'" in result.stdout


def test_strict_mode_reports_a_broken_plugin_in_one_line(tmp_path):
    (tmp_path / "broken_plugin_module.py").write_text("import taskshed_no_such_driver_xyz\n")
    env = {
        "TASKSHED_STRICT_PLUGINS": "1",
        "TASKSHED_PLUGINS": "broken_plugin_module",
        "PYTHONPATH": str(tmp_path),
    }
    demo = run_cli("demo", "--datastore", "memory://", cwd=tmp_path, env=env)
    assert demo.returncode == 1
    assert demo.stderr.startswith("taskshed: error:") and "Traceback" not in demo.stderr
    assert "broken_plugin_module" in demo.stderr
    listing = run_cli("plugins", cwd=tmp_path, env=env)
    assert listing.returncode == 1 and "Traceback" not in listing.stderr
    assert "LOAD ERROR" in listing.stdout and "memory://" in listing.stdout


def test_demo_refuses_a_store_holding_other_tasks(tmp_path, sqlite_url):
    require_module("taskshed_sqlalchemy", install="./dev.sh setup")
    asyncio.run(
        _add(sqlite_url, Task(callback="production_job", run_at=utcnow(), task_id="keep-me"))
    )
    result = run_cli("demo", "--datastore", sqlite_url, cwd=tmp_path)
    assert result.returncode == 1
    assert "other task(s)" in result.stdout
    assert asyncio.run(_stored(sqlite_url, "keep-me"))


def test_db_without_the_sql_plugin_names_the_extra(tmp_path):
    env = {"TASKSHED_DISABLE_PLUGIN_AUTOLOAD": "1"}
    result = run_cli("db", "upgrade", cwd=tmp_path, env=env)
    assert result.returncode == 2
    assert "pip install 'taskshed[sqlite]" in result.stderr


BLOCKING = textwrap.dedent(
    """
    import time
    from pathlib import Path

    HERE = Path(__file__).parent


    async def stuck(name):
        (HERE / f"{name}.started").touch()
        time.sleep(60)  # blocks the worker's event loop


    CALLBACKS = {"stuck": stuck}
    """
)


def test_a_second_sigterm_stops_at_once_and_releases_the_claim(tmp_path, sqlite_url):
    require_module("taskshed_sqlalchemy", install="./dev.sh setup")
    (tmp_path / "jobs.py").write_text(BLOCKING)
    asyncio.run(
        _add(sqlite_url, Task(callback="stuck", run_at=utcnow(), task_id="t", kwargs={"name": "t"}))
    )
    worker = subprocess.Popen(
        [*TASKSHED, "worker", "jobs:CALLBACKS", "--datastore", sqlite_url, "--lease", "30"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    first_seen = threading.Event()

    def read() -> None:
        assert worker.stdout is not None
        for line in worker.stdout:
            lines.append(line)
            if "received SIGTERM: shutting down" in line:
                first_seen.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        _wait_for_file(tmp_path / "t.started")
        worker.send_signal(signal.SIGTERM)
        # The first one starts a graceful shutdown, which the callback blocks; the second
        # is sent once the worker said so (two signals at once could arrive as one).
        assert first_seen.wait(20), "".join(lines)
        began = time.monotonic()
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=20)
    finally:
        if worker.poll() is None:
            worker.kill()
        reader.join(10)
    output = "".join(lines)
    assert time.monotonic() - began < 8, output
    assert worker.returncode == 130, output
    assert "releasing claims and stopping now" in output, output
    taken = asyncio.run(_claim_now(sqlite_url))
    assert taken == ["t"], f"the claim was not released (still leased for 30 s):\n{output}"


async def _claim_now(url: str) -> list[str]:
    store = open_datastore(url)
    await store.start()
    try:
        now = await store.current_time()
        claims = await store.acquire_tasks(
            worker_id="next", now=now, lease_until=now + timedelta(seconds=5), limit=5
        )
        return [claim.task_id for claim in claims]
    finally:
        await store.shutdown()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--lease", "0.075"], "lease must be between 1 s and one day"),
        (["--lease", "1e12"], "lease must be between 1 s and one day"),
        (["--lease", "3", "--prefetch", "2.5"], "must be less than a third of the lease"),
        (["--max-attempts", "0"], "must be at least 1"),
    ],
)
def test_taskshed_worker_refuses_unsafe_settings_in_one_line(tmp_path, options, message):
    (tmp_path / "jobs.py").write_text("async def a():\n    pass\n\n\nCALLBACKS = {'a': a}\n")
    result = run_cli("worker", "jobs:CALLBACKS", "--datastore", "memory://", *options, cwd=tmp_path)
    assert result.returncode in (1, 2), result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr
