"""The documentation builds without broken links or pages missing from the navigation."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from tests.seed import ROOT


def test_mkdocs_builds_strictly(tmp_path):
    if shutil.which("mkdocs") is None and not (ROOT / ".venv" / "bin" / "mkdocs").exists():
        pytest.importorskip("mkdocs")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
