"""`taskshed worker` against a server database whose schema was never migrated."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize("backend", ["mariadb", "postgresql"], indirect=True)
def test_worker_stops_at_once_when_the_schema_needs_an_upgrade(sql_url, tmp_path):
    (tmp_path / "jobs.py").write_text("async def job():\n    pass\n\nCALLBACKS = {'job': job}\n")
    result = subprocess.run(
        [sys.executable, "-m", "taskshed", "worker", "jobs:CALLBACKS", "--datastore", sql_url],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "taskshed db upgrade" in result.stderr
    assert "Traceback" not in result.stderr
