"""Apply each mutation of the catalog, run its tests, report killed/survived.

    .venv/bin/python -m tests.mutations            # every mutation
    .venv/bin/python -m tests.mutations -k sqlite  # those whose name contains "sqlite"
    .venv/bin/python -m tests.mutations --list     # the catalog, equivalents included

The source file is changed in place (the packages are installed editable) and
restored afterwards, also on Ctrl-C; run it on a clean working tree. The exit
status is 1 when a mutation survived or no longer applies.
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

from tests.mutations.catalog import MUTATIONS, Mutation

ROOT = Path(__file__).resolve().parents[2]


def _interrupted(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def run_one(mutation: Mutation, timeout: float) -> tuple[str, float, str]:
    """(outcome, seconds, last lines of pytest's output) of one mutation."""
    path = ROOT / mutation.file
    source = path.read_text()
    if source.count(mutation.original) != 1:
        found = source.count(mutation.original)
        return "stale", 0.0, f"the original text occurs {found} times in {mutation.file}"
    started = time.monotonic()
    path.write_text(source.replace(mutation.original, mutation.mutated))
    try:
        result = subprocess.run(
            [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
             *mutation.tests],
            cwd=ROOT, capture_output=True, text=True, timeout=timeout,
        )  # fmt: skip
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-3:])
        # 1: tests failed. 0: all passed. Anything else (usage, collection) is no verdict.
        outcome = {0: "SURVIVED", 1: "killed"}.get(result.returncode, "error")
    except subprocess.TimeoutExpired:
        outcome, tail = "killed", f"timed out after {timeout} s (counts as killed: a test hung)"
    finally:
        path.write_text(source)
    return outcome, time.monotonic() - started, tail


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.mutations", description=__doc__)
    parser.add_argument("-k", default="", help="only mutations whose name contains this")
    parser.add_argument("--list", action="store_true", help="print the catalog and exit")
    parser.add_argument("--timeout", type=float, default=600, help="seconds per mutation")
    args = parser.parse_args(argv)
    chosen = [m for m in MUTATIONS if args.k.lower() in m.name.lower()]
    if args.list:
        for m in chosen:
            kind = f"equivalent: {m.equivalent}" if m.equivalent else ", ".join(m.tests)
            print(f"- {m.name} ({m.file})\n    {kind}")
        return 0
    signal.signal(signal.SIGTERM, _interrupted)
    counts = {"killed": 0, "SURVIVED": 0, "stale": 0, "error": 0, "equivalent": 0}
    for mutation in chosen:
        if mutation.equivalent:
            counts["equivalent"] += 1
            print(f"equivalent  {mutation.name}: {mutation.equivalent}", flush=True)
            continue
        outcome, seconds, tail = run_one(mutation, args.timeout)
        counts[outcome] += 1
        print(f"{outcome:<10}  {mutation.name} ({seconds:.0f} s)", flush=True)
        if outcome != "killed":
            print("    " + tail.replace("\n", "\n    "), flush=True)
    print(", ".join(f"{n} {k}" for k, n in counts.items() if n))
    return 0 if counts["SURVIVED"] == counts["stale"] == counts["error"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
