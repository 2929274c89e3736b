"""Running the seed page's example (it runs forever) until it prints a given line."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "datastores" / "index.md"
#: The user's page as it is kept beside the checkout (``../shared``), when it is.
SEED = ROOT.parent / "shared" / "seed" / "datastores.md"
#: A copy of that page kept in the repository, so a clone on its own still checks the docs.
SEED_COPY = ROOT / "tests" / "fixtures" / "seed_datastores.md"


def first_python_block(page: Path) -> str:
    match = re.search(r"```py[^\n]*\n(.*?)```", page.read_text(), re.S)
    assert match, f"no python example in {page}"
    return match.group(1)


def run_until_line(
    script: str, marker: str, cwd: Path, timeout: float = 30.0, python: str = sys.executable
) -> list[str]:
    """Run ``script`` (it runs forever), return its output up to ``marker``, then stop it."""
    path = cwd / "example.py"
    path.write_text(script)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [python, str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        cwd=cwd,
    )
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    try:
        assert proc.stdout is not None
        os.set_blocking(proc.stdout.fileno(), False)
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if line:
                lines.append(line.rstrip("\n"))
                if marker in line:
                    return lines
            elif proc.poll() is not None:
                break
            else:
                time.sleep(0.02)
        raise AssertionError(f"no {marker!r} line within {timeout} s; output:\n" + "\n".join(lines))
    finally:
        proc.kill()
        proc.wait()


def seed_example() -> str:
    """The example of the seed page, as the docs carry it."""
    return first_python_block(DOC)
