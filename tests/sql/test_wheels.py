"""From wheels into a fresh venv: ``taskshed[mysql]``, ``taskshed db upgrade``, the seed example.

The sequence a user follows: build the core's and the plugin's wheels with
``python -m build --wheel``, install ``taskshed[mysql]`` from them into a new
virtual environment, upgrade a MariaDB database from the installed wheel (so
the migrations must be inside it), then run the seed example of
``shared/seed/datastores.md`` with ``MySQLDataStore(config=MySQLConfig(...))`` in
place of ``InMemoryDataStore()`` and see it print its latency line.
"""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
import time
import venv
from collections.abc import Iterator
from pathlib import Path

import pytest
from taskshed_sqlalchemy.schema import SCHEMA_REVISION

from taskshed.urls import URL
from tests.sql.databases import database_url, drop_tables

pytestmark = [pytest.mark.slow, pytest.mark.mariadb]

ROOT = Path(__file__).resolve().parents[2]

# The seed example, verbatim but for the datastore (and the import it needs).
SEED = """\
from datetime import datetime, timedelta

from taskshed.datastores import MySQLConfig, MySQLDataStore
from taskshed.schedulers import AsyncScheduler
from taskshed.workers import EventDrivenWorker


async def calculate_job_latency(run_at: str):
    current_time = datetime.now()
    scheduled_time = datetime.fromisoformat(run_at)
    latency = current_time - scheduled_time
    print(
        f"\\nExecuted at:\\t{{current_time}}\\n"
        f"Scheduled for:\\t{{scheduled_time}}\\n"
        f"Latency:\\t{{latency.total_seconds()}} s"
    )


datastore = MySQLDataStore(config=MySQLConfig(host={host!r}, port={port!r}, user={user!r}, db={db!r}))
worker = EventDrivenWorker(
    callback_map={{"calculate_job_latency": calculate_job_latency}},
    datastore=datastore,
)
scheduler = AsyncScheduler(datastore=datastore, worker=worker)


async def main():
    await scheduler.start()
    await worker.start()

    run_at = datetime.now() + timedelta(seconds=1)

    await scheduler.add_task(
        callback="calculate_job_latency",
        run_at=run_at,
        kwargs={{"run_at": run_at.isoformat()}},
    )


if __name__ == "__main__":
    import asyncio

    loop = asyncio.new_event_loop()
    loop.create_task(main())
    loop.run_forever()
"""


def _run(command: list[str], *, cwd: Path, timeout: float = 300) -> str:
    result = subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert result.returncode == 0, f"{command}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout


def _read_lines_until(process: subprocess.Popen[str], marker: str, timeout: float) -> list[str]:
    """Lines of ``process``'s stdout up to the one holding ``marker`` (or until ``timeout``)."""
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            break
        if line is None:
            break
        seen.append(line)
        if marker in line:
            break
    return seen


@pytest.fixture
def mariadb_url(tmp_path: Path) -> Iterator[str]:
    url = database_url("mariadb", tmp_path)
    yield url
    import asyncio

    asyncio.run(drop_tables(url))


def test_wheels_in_a_fresh_venv_upgrade_mariadb_and_run_the_seed_example(
    tmp_path: Path, mariadb_url: str
) -> None:
    dist = tmp_path / "dist"
    for project in (ROOT, ROOT / "plugins" / "taskshed-sqlalchemy"):
        _run(
            [sys.executable, "-m", "build", "--wheel", "--outdir", str(dist), str(project)],
            cwd=ROOT,
        )
    wheels = sorted(p.name for p in dist.glob("*.whl"))
    assert any(name.startswith("taskshed-1.0.0") for name in wheels), wheels
    assert any(name.startswith("taskshed_sqlalchemy-1.0.0") for name in wheels), wheels

    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    # `pip install 'taskshed[mysql]'`, with our two distributions taken from these wheel
    # files (never from an index, which could hold another project's release).
    core = next(dist.glob("taskshed-1.0.0-*.whl"))
    plugin = next(dist.glob("taskshed_sqlalchemy-1.0.0-*.whl"))
    _run(
        [str(python), "-m", "pip", "install", "--quiet", f"{core}[mysql]", str(plugin)],
        cwd=tmp_path,
        timeout=600,
    )
    work = tmp_path / "app"  # no pyproject.toml here: nothing but the arguments configure it
    work.mkdir()
    taskshed = str(env_dir / "bin" / "taskshed")
    out = _run([taskshed, "db", "upgrade", "--datastore", mariadb_url], cwd=work)
    assert SCHEMA_REVISION in out
    current = _run([taskshed, "db", "current", "--datastore", mariadb_url], cwd=work)
    assert "(head)" in current

    url = URL.parse(mariadb_url)
    script = work / "seed_example.py"
    script.write_text(
        SEED.format(
            host=url.host, port=url.port or 3306, user=url.username or "root", db=url.database
        )
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("TASKSHED_")}
    env["PYTHONUNBUFFERED"] = "1"
    process = subprocess.Popen(
        [str(python), str(script)],
        cwd=work,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        lines = _read_lines_until(process, "Latency:", timeout=30)
    finally:
        process.kill()
        process.wait()
    text = "".join(lines)
    assert "Latency:" in text, text
    latency = float(text.split("Latency:")[1].split()[0])
    print(f"\nseed example on MariaDB from wheels: latency {latency} s")
    # Not before its time; how soon after is for benchmarks/, not for a loaded CI box.
    assert latency >= 0, text
