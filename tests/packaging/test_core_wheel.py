"""The core wheel alone, in a fresh virtual environment, is a working scheduler."""

from __future__ import annotations

import subprocess
import sys
import venv
from pathlib import Path

import pytest

from tests.seed import ROOT, run_until_line, seed_example

pytestmark = pytest.mark.slow


def build_wheel(project: Path, out: Path) -> Path:
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(out), str(project)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = out.glob("*.whl")
    return wheel


def test_core_wheel_alone_gives_a_working_scheduler(tmp_path):
    wheel = build_wheel(ROOT, tmp_path / "dist")
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", str(wheel)], check=True, timeout=300
    )
    installed = subprocess.run(
        [str(python), "-m", "pip", "list", "--format=freeze"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "pluggy==" in installed
    assert "cronsim==" in installed
    for driver in ("SQLAlchemy", "redis", "asyncmy", "aiosqlite", "asyncpg"):
        assert f"{driver}==" not in installed, f"the core pulled in {driver}"

    plugins = subprocess.run(
        [str(env_dir / "bin" / "taskshed"), "plugins"], capture_output=True, text=True, cwd=tmp_path
    )
    assert plugins.returncode == 0, plugins.stderr
    assert "memory://" in plugins.stdout and "json-rich" in plugins.stdout

    preview = subprocess.run(
        [str(env_dir / "bin" / "taskshed"), "cron", "@daily", "--timezone", "Europe/Berlin"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert preview.returncode == 0, preview.stderr
    assert len(preview.stdout.splitlines()) == 5

    missing = subprocess.run(
        [str(python), "-c", "from taskshed.datastores import RedisDataStore"],
        capture_output=True,
        text=True,
    )
    assert "pip install 'taskshed[redis]'" in missing.stderr

    demo = subprocess.run(
        [str(env_dir / "bin" / "taskshed"), "demo"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert "memory://" in demo.stdout

    lines = run_until_line(seed_example(), "Latency:", tmp_path, python=str(python))
    assert any(line.startswith("Latency:") for line in lines)
