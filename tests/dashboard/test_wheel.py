"""``pip install "taskshed[dashboard]"`` from wheels into a fresh venv, then ``taskshed dashboard``."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import venv
import zipfile
from pathlib import Path

import httpx
import pytest

from tests.support.ports import free_port

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def _run(command: list[str], *, cwd: Path, timeout: float = 600) -> str:
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{command}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout


def test_the_wheel_carries_templates_and_htmx_and_serves_the_dashboard(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    for project in (ROOT, ROOT / "plugins" / "taskshed-dashboard"):
        _run(
            [sys.executable, "-m", "build", "--wheel", "--outdir", str(dist), str(project)],
            cwd=ROOT,
        )
    core = next(dist.glob("taskshed-1.0.0-*.whl"))
    plugin = next(dist.glob("taskshed_dashboard-1.0.0-*.whl"))
    names = set(zipfile.ZipFile(plugin).namelist())
    for needed in (
        "taskshed_dashboard/static/htmx.min.js",
        "taskshed_dashboard/static/htmx.LICENSE",
        "taskshed_dashboard/templates/base.html",
        "taskshed_dashboard/py.typed",
    ):
        assert needed in names, needed

    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    # taskshed[dashboard] with our two distributions from these files, never from an index.
    _run(
        [str(python), "-m", "pip", "install", "--quiet", f"{core}[dashboard]", str(plugin)],
        cwd=tmp_path,
    )
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TASKSHED_")}
    command = [str(env_dir / "bin" / "taskshed"), "dashboard", "--datastore", "memory://"]
    process = subprocess.Popen(
        [*command, "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                page = httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
                break
            except httpx.TransportError:
                assert process.poll() is None, process.communicate()[0]
                assert time.monotonic() < deadline, "the dashboard did not come up"
                time.sleep(0.2)
        assert page.status_code == 200 and "memory://" in page.text
        assert httpx.get(f"http://127.0.0.1:{port}/static/htmx.min.js").status_code == 200
    finally:
        process.terminate()
        process.communicate(timeout=30)
