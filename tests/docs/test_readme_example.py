"""The README's first example runs as written and does what it says."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_first_example_runs_and_keeps_the_failed_task() -> None:
    text = README.read_text()
    section = text[text.index("## A first scheduler") :]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code is not None, "the README lost its first example"
    result = subprocess.run(
        [sys.executable, "-c", code.group(1)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    assert lines[0] == "hello, once", result.stdout
    assert lines.count("hello, every second") == 3, result.stdout
    assert lines[-1] == "charge 3 RuntimeError: the payment service is down", result.stdout
