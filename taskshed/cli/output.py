"""What commands print: tables, local times, and a quiet end when the reader goes away."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import IO

#: Exit status when stdout's reader went away (``| head``), as a process killed by SIGPIPE has.
BROKEN_PIPE_STATUS = 141


def run_quietly(func: Callable[[], int]) -> int:
    """Run ``func``; if stdout's reader goes away (``taskshed tasks list | head``) end quietly.

    Python would otherwise print a ``BrokenPipeError`` traceback, twice: once
    for the write and once when the interpreter flushes stdout on exit.
    """
    try:
        status = func()
        sys.stdout.flush()
        return status
    except BrokenPipeError:
        with contextlib.suppress(OSError, ValueError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        return BROKEN_PIPE_STATUS


def local_time(value: datetime | None) -> str:
    """An aware time in this machine's zone, with its offset: ``2025-06-01 14:03:07.120+02:00``."""
    if value is None:
        return "-"
    return value.astimezone().isoformat(sep=" ", timespec="milliseconds")


def duration(value: timedelta | float | None) -> str:
    """``1.5 s``, ``12 min``, ``3 h 20 min``, ``2 d 4 h`` — short and readable."""
    if value is None:
        return "-"
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    if seconds < 60:
        text = (
            f"{seconds:.1f} s" if seconds < 10 and seconds != int(seconds) else f"{seconds:.0f} s"
        )
    elif seconds < 3600:
        minutes, secs = divmod(int(seconds), 60)
        text = f"{minutes} min" + (f" {secs} s" if secs else "")
    elif seconds < 86400:
        hours, rem = divmod(int(seconds), 3600)
        text = f"{hours} h" + (f" {rem // 60} min" if rem // 60 else "")
    else:
        days, rem = divmod(int(seconds), 86400)
        text = f"{days} d" + (f" {rem // 3600} h" if rem // 3600 else "")
    return sign + text


def table(rows: Sequence[Sequence[str]], *, file: IO[str] | None = None) -> None:
    """Print ``rows`` (the first one a header) in left-aligned columns; the last column runs free."""
    out = file or sys.stdout
    if not rows:
        return
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        print("  ".join([*cells, row[-1]]).rstrip(), file=out)
