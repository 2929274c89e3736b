"""The documentation builds without broken links or pages missing from the navigation."""

from __future__ import annotations

import subprocess
import sys

from tests.seed import ROOT
from tests.support.services import require_module


def test_mkdocs_builds_strictly(tmp_path):
    require_module("mkdocs", install="pip install -r requirements-dev.txt")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
