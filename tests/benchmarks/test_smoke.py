"""The benchmark runner's smoke mode: every workload, tiny sizes, so the benchmarks cannot rot.

It runs ``benchmarks/run.py --smoke`` as a user would (a subprocess of this
interpreter) and checks what it wrote. Our side always runs; a peer runs only
if its venv under benchmarks/.venvs/ exists already (CI has none).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.services import require_service

ROOT = Path(__file__).resolve().parents[2]
RUNNER = ROOT / "benchmarks" / "run.py"

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]


def _ours(summary: dict, case_id: str) -> dict:
    case = next(c for c in summary["cases"] if c["id"] == case_id)
    return case["results"]["ours"]


def test_smoke_run_measures_every_workload_on_every_store(tmp_path: Path) -> None:
    require_service("redis")
    require_service("mariadb")
    result = subprocess.run(
        [sys.executable, str(RUNNER), "--smoke", "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=200,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["smoke"] is True
    ids = {case["id"] for case in summary["cases"]}
    for workload in (
        "schedule/batched",
        "schedule/single",
        "burst/event",
        "lag/event",
        "lag/polling",
    ):
        for store in ("memory", "redis", "mariadb"):
            assert f"{workload}/{store}" in ids
            ours = _ours(summary, f"{workload}/{store}")
            assert ours["status"] == "ok", (workload, store, ours)
    for store in ("redis", "mariadb"):
        for processes in ("p1", "p2"):
            ours = _ours(summary, f"scale/{processes}/{store}")
            assert ours["status"] == "ok", (processes, store, ours)
            # Our workers claim atomically: no task runs twice, across processes too.
            assert ours["duplicates_total"] == 0
    assert _ours(summary, "burst/event/redis")["median"]["duplicates"] == 0

    page = (tmp_path / "benchmarks.md").read_text()
    assert page.startswith("# Benchmarks")
    assert "benchmarks/run.py --smoke" in page
    assert "## Targets" in page
    # Smoke never touches the committed page, summary or charts.
    assert "--out" in summary["command"]


def test_runner_rejects_unknown_workloads() -> None:
    result = subprocess.run(
        [sys.executable, str(RUNNER), "--smoke", "--only", "nonsense"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "unknown name" in result.stderr
