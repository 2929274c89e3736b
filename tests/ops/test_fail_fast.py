"""`taskshed worker` stops within 5 s with one clear line when its store refuses for good."""

from __future__ import annotations

import asyncio
import functools
import os
import signal
import subprocess
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest

from taskshed.urls import URL
from tests.ops.stores import TASKSHED, run_taskshed, store_url, write_jobs
from tests.support.services import MYSQL_URL, POSTGRESQL_URL, REDIS_URL, require_service

#: The issue's bound: a worker that can't ever work says so this fast (on an idle machine).
FAIL_FAST_SECONDS = 10.0


@functools.cache
def fail_fast_bound() -> float:
    """10 s, stretched on a machine so busy that starting Python alone takes more than a second.

    A worker that retried would never exit (the tests' timeout is 60 s), so the
    bound still tells "stopped at once" from "retrying"; it just doesn't fail a
    run on a loaded machine (parallel test workers) for the interpreter's start.
    """
    began = time.monotonic()
    subprocess.run([*TASKSHED, "--help"], capture_output=True, check=True, timeout=60)
    return max(FAIL_FAST_SECONDS, FAIL_FAST_SECONDS * (time.monotonic() - began))


def _server(kind: str) -> URL:
    require_service(kind)
    return URL.parse({"mariadb": MYSQL_URL, "postgresql": POSTGRESQL_URL, "redis": REDIS_URL}[kind])


def _fails_fast(tmp_path: Path, url: str, expected: str, env: dict[str, str] | None = None) -> str:
    write_jobs(tmp_path)
    result, took = run_taskshed(
        "worker", "jobs:CALLBACKS", "--datastore", url, cwd=tmp_path, env=env
    )
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1, result.stderr
    assert took < fail_fast_bound(), f"took {took:.1f} s: {result.stderr}"
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("taskshed: error: "), lines
    assert expected in lines[0], lines[0]
    assert "Traceback" not in result.stderr
    return lines[0]


@pytest.mark.mariadb
def test_wrong_password_on_mariadb(tmp_path):
    url = replace(_server("mariadb"), username="root", password="wrong-ops-password", path="/mysql")
    line = _fails_fast(tmp_path, url.render(hide_password=False), "wrong user name or password")
    assert "wrong-ops-password" not in line and "root:***@" in line


@pytest.mark.postgresql
def test_unknown_user_on_postgresql(tmp_path):
    # The test server trusts local connections, so a wrong password can't be refused;
    # an unknown role is refused the same way (SQLSTATE 28000 instead of 28P01).
    url = replace(_server("postgresql"), username="taskshed_ops_nobody", password="x")
    _fails_fast(tmp_path, url.render(hide_password=False), "this user may not connect")


@pytest.mark.redis
def test_wrong_password_on_redis(tmp_path):
    url = replace(_server("redis"), username="taskshed-ops-nobody", password="wrong", path="/7")
    _fails_fast(tmp_path, url.render(hide_password=False), "wrong user name or password")


@pytest.mark.parametrize("kind", ["mariadb", "postgresql"])
def test_missing_database(tmp_path, kind):
    url = replace(_server(kind), path="/taskshed_ops_no_such_database")
    _fails_fast(tmp_path, url.render(hide_password=False), "the database does not exist")


@pytest.mark.redis
def test_missing_redis_database_number(tmp_path):
    url = replace(_server("redis"), path="/999")
    _fails_fast(tmp_path, url.render(hide_password=False), "database number does not exist")


@pytest.mark.parametrize(("kind", "module"), [("mariadb", "asyncmy"), ("postgresql", "asyncpg")])
def test_missing_driver(tmp_path, kind, module):
    hidden = tmp_path / "hidden" / module
    hidden.mkdir(parents=True)
    (hidden / "__init__.py").write_text(f'raise ImportError("No module named {module!r}")\n')
    env = {"PYTHONPATH": os.pathsep.join([str(hidden.parent), os.environ.get("PYTHONPATH", "")])}
    url = _server(kind).render(hide_password=False)
    line = _fails_fast(tmp_path, url, "driver is not installed", env=env)
    assert "pip install 'taskshed[" in line


@pytest.mark.redis
def test_missing_redis_driver_names_the_extra(tmp_path):
    # The plugin loads without redis-py (it imports it only when a store is
    # built), so the command itself says what to install, in one line.
    hidden = tmp_path / "hidden" / "redis"
    hidden.mkdir(parents=True)
    (hidden / "__init__.py").write_text("raise ImportError('No module named redis')\n")
    env = {"PYTHONPATH": str(hidden.parent)}
    line = _fails_fast(tmp_path, REDIS_URL, "Redis driver is not installed", env=env)
    assert "pip install 'taskshed[redis]'" in line


@pytest.mark.parametrize("kind", ["mariadb", "postgresql"])
def test_unmigrated_schema(tmp_path, kind):
    url = store_url(kind, tmp_path, migrated=False)
    _fails_fast(tmp_path, url, "taskshed db upgrade")


def test_unknown_scheme(tmp_path):
    """One error line, then the schemes installed, one indented line each (what to type instead)."""
    write_jobs(tmp_path)
    result, took = run_taskshed(
        "worker", "jobs:CALLBACKS", "--datastore", "nosuch://somewhere", cwd=tmp_path
    )
    first, *details = result.stderr.strip().splitlines()
    assert result.returncode == 1 and took < fail_fast_bound(), result.stderr
    assert first.startswith("taskshed: error: unknown datastore URL scheme 'nosuch'"), first
    assert details and all(line.startswith("  ") for line in details), result.stderr
    assert any(line.lstrip().startswith("memory://") for line in details), details
    assert "Traceback" not in result.stderr


def test_sqlite_file_that_cant_be_opened(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'no-such-folder' / 'x.db'}"
    _fails_fast(tmp_path, url, "SQLite file can't be opened")


def test_no_datastore_configured_is_said_not_defaulted(tmp_path):
    env = {"TASKSHED_DATASTORE": ""}
    write_jobs(tmp_path)
    result, _ = run_taskshed("worker", "jobs:CALLBACKS", cwd=tmp_path, env=env)
    assert result.returncode == 1, result.stderr
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert "no datastore configured" in result.stderr
    assert not (tmp_path / "taskshed.db").exists()


def test_a_server_that_is_down_is_not_waited_for_by_default(tmp_path):
    url = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    line = _fails_fast(tmp_path, url, "can't reach the datastore")
    assert "--wait-for-store" in line


def test_wait_for_store_gives_up_after_the_time_given(tmp_path):
    write_jobs(tmp_path)
    result, took = run_taskshed(
        "worker", "jobs:CALLBACKS", "--datastore", "redis://127.0.0.1:1/0",
        "--wait-for-store", "2", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 1
    assert took >= 2
    assert "still failing after --wait-for-store 2 s" in result.stderr.strip().splitlines()[-1]


@pytest.mark.slow
@pytest.mark.redis
def test_wait_for_store_connects_once_the_server_is_up(tmp_path):
    from tests.resilience.proxy import TCPProxy

    server = _server("redis")
    write_jobs(tmp_path)

    async def scenario() -> None:
        proxy = TCPProxy(server.host or "127.0.0.1", server.port or 6379)
        url = f"redis://127.0.0.1:{proxy.port}/7?prefix=ops-wait"
        health = tmp_path / "healthy"
        lines: list[str] = []
        proc = subprocess.Popen(  # noqa: ASYNC220 -- only starts it; polled below
            [*TASKSHED, "worker", "jobs:CALLBACKS", "--datastore", url,
             "--wait-for-store", "60", "--health-file", str(health)],
            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        assert proc.stdout is not None
        reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)
        reader.start()
        try:
            deadline = time.monotonic() + 30
            while not any("not reachable yet" in line for line in lines):
                assert proc.poll() is None, "".join(lines)
                assert time.monotonic() < deadline, "the worker never said it waits"
                await asyncio.sleep(0.05)
            await proxy.start()
            while not health.exists():
                assert proc.poll() is None, "".join(lines)
                assert time.monotonic() < deadline + 30, "the worker never connected"
                await asyncio.sleep(0.05)
            proc.send_signal(signal.SIGTERM)
            await asyncio.to_thread(proc.wait, 30)
        finally:
            if proc.poll() is None:
                proc.kill()
            await proxy.stop()
        reader.join(5)
        assert proc.returncode == 0, "".join(lines)

    asyncio.run(scenario())
