"""Callbacks for ``taskshed worker tests.resilience.cli_callbacks:CALLBACKS`` in the process tests.

Each appends ``S <task>`` when it starts, ``D <task>`` when it returns and
``C <task>`` when it is cancelled to the file named by ``TSRES_RECORD``
(one ``O_APPEND`` write per line, so a line survives the process's death).
"""

from __future__ import annotations

import asyncio
import os


def _record(kind: str, task: str) -> None:
    fd = os.open(os.environ["TSRES_RECORD"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, f"{kind} {task}\n".encode())
    finally:
        os.close(fd)


async def quick(task: str, seconds: float = 1.0) -> None:
    _record("S", task)
    await asyncio.sleep(seconds)
    _record("D", task)


async def hang(task: str) -> None:
    _record("S", task)
    try:
        await asyncio.sleep(3600)
    except asyncio.CancelledError:
        _record("C", task)
        raise
    _record("D", task)


CALLBACKS = {"quick": quick, "hang": hang}
