"""`pip install 'taskshed[prometheus]'` from wheels: the plugin loads, and a worker serves /metrics."""

from __future__ import annotations

import re
import subprocess
import sys
import time
import urllib.request
import venv
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def _wheel(project: Path, out: Path) -> Path:
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(out), str(project)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return out


def test_the_prometheus_extra_from_wheels(tmp_path):
    dist = tmp_path / "dist"
    _wheel(ROOT, dist)
    _wheel(ROOT / "plugins" / "taskshed-prometheus", dist)
    core = next(dist.glob("taskshed-*.whl"))
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python, taskshed = env_dir / "bin" / "python", env_dir / "bin" / "taskshed"
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--find-links", str(dist),
         f"{core}[prometheus]"],
        check=True, timeout=300,
    )  # fmt: skip
    plugins = subprocess.run(
        [str(taskshed), "plugins"], capture_output=True, text=True, cwd=tmp_path
    )
    assert plugins.returncode == 0, plugins.stdout + plugins.stderr
    assert re.search(r"^prometheus\s+taskshed-prometheus\s+1\.0\.0", plugins.stdout, re.M)

    (tmp_path / "jobs.py").write_text("async def job():\n    pass\n\nCALLBACKS = {'job': job}\n")
    worker = subprocess.Popen(
        [str(taskshed), "worker", "jobs:CALLBACKS", "--datastore", "memory://",
         "--metrics-port", "0", "--metrics-address", "127.0.0.1"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        assert worker.stdout is not None
        deadline = time.monotonic() + 60
        port = None
        for line in worker.stdout:
            found = re.search(r"metrics on http://127\.0\.0\.1:(\d+)/metrics", line)
            if found:
                port = int(found.group(1))
                break
            assert time.monotonic() < deadline
        assert port is not None
        deadline = time.monotonic() + 30
        while True:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as reply:
                text = reply.read().decode()
            if "taskshed_workers 1.0" in text:
                break
            assert time.monotonic() < deadline, text
            time.sleep(0.1)
    finally:
        worker.terminate()
        worker.wait(timeout=60)
