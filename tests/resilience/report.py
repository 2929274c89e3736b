"""Run the resilience suite and write its "what was tried" table into docs/reliability.md.

    .venv/bin/python -m tests.resilience.report            # run the suite, rewrite the table
    .venv/bin/python -m tests.resilience.report --from FILE  # only render a saved tally

Extra arguments after ``--`` go to pytest (e.g. ``-- -k redis``, or ``-- -n 4 --dist
loadgroup`` to run it on pytest-xdist workers: each writes a tally of its own, joined here). The table sits
between the ``<!-- tally:begin -->`` and ``<!-- tally:end -->`` lines of the
page; everything else on the page is left as it is.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from tests.resilience.tally import TALLY_ENV, load

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "reliability.md"
BEGIN, END = "<!-- tally:begin -->", "<!-- tally:end -->"
COMMAND = ".venv/bin/python -m tests.resilience.report"
AREAS = ["worker faults", "server faults", "process faults", "bad input", "security", "load"]
STORES = ["memory", "mariadb", "postgresql", "sqlite", "redis", "-"]


def run_suite(pytest_args: list[str], out: Path) -> int:
    env = {**os.environ, TALLY_ENV: str(out)}
    command = [
        sys.executable,
        "-m",
        "pytest",
        "tests/resilience",
        "-p",
        "no:cacheprovider",
        "-q",
        *pytest_args,
    ]
    return subprocess.call(command, cwd=ROOT, env=env)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render(tally: dict[str, Any], *, returncode: int | None, pytest_args: list[str]) -> str:
    entries = sorted(
        tally["entries"],
        key=lambda e: (
            AREAS.index(e["area"]) if e["area"] in AREAS else 99,
            e["tried"],
            STORES.index(e["store"]) if e["store"] in STORES else 99,
        ),
    )
    tests = tally.get("tests", {})
    summary = ", ".join(f"{n} {outcome}" for outcome, n in sorted(tests.items()))
    when = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    command = COMMAND + (" -- " + " ".join(pytest_args) if pytest_args else "")
    lines = [
        BEGIN,
        f"Produced by `{command}` on {when} ({platform.system()} {platform.machine()}, "
        f"Python {platform.python_version()}); pytest: {summary or 'no tests'}"
        + (f", exit code {returncode}" if returncode is not None else "")
        + ".",
        "",
    ]
    # Known areas in their order, then any other an entry names (none is left off the page).
    others = sorted({e["area"] for e in entries} - set(AREAS))
    for area in [a for a in AREAS if any(e["area"] == a for e in entries)] + others:
        lines += [
            f"**{area.capitalize()}**",
            "",
            "| what was tried | store | what happened | test |",
            "|---|---|---|---|",
        ]
        for e in (e for e in entries if e["area"] == area):
            mark = {"passed": "passed", "failed": "**FAILED**", "skipped": "skipped"}.get(
                e["outcome"], e["outcome"]
            )
            lines.append(f"| {_cell(e['tried'])} | {e['store']} | {_cell(e['measure'])} | {mark} |")
        lines.append("")
    failed = [node for node, outcome in tally.get("outcomes", {}).items() if outcome == "failed"]
    if failed:
        lines += ["Failed tests:", ""] + [f"- `{node}`" for node in failed] + [""]
    lines.append(END)
    return "\n".join(lines)


def write(page: Path, table: str) -> None:
    text = page.read_text() if page.exists() else f"# Reliability\n\n{BEGIN}\n{END}\n"
    head, sep, rest = text.partition(BEGIN)
    if not sep:
        text = text.rstrip() + "\n\n" + BEGIN + "\n" + END + "\n"
        head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    page.write_text(head + table + tail)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.resilience.report")
    parser.add_argument(
        "--from", dest="source", type=Path, help="render this saved tally instead of running"
    )
    parser.add_argument("--page", type=Path, default=PAGE)
    parser.add_argument("pytest_args", nargs="*", help="arguments for pytest (after --)")
    args = parser.parse_args(argv)
    returncode = None
    if args.source is None:
        with tempfile.TemporaryDirectory() as folder:
            source = Path(folder) / "tally.json"
            returncode = run_suite(args.pytest_args, source)
            if not source.exists() and not list(source.parent.glob(source.name + ".*")):
                print("report: the test run recorded nothing", file=sys.stderr)
                return returncode or 1
            tally = load(source)
    else:
        tally = load(args.source)
    write(args.page, render(tally, returncode=returncode, pytest_args=args.pytest_args))
    print(f"report: wrote the table to {args.page}")
    return returncode or 0


if __name__ == "__main__":
    sys.exit(main())
