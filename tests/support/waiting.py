"""Waiting on conditions with a deadline instead of sleeping and hoping."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

#: Exceptions a condition may raise while what it polls is still coming up.
_NOT_YET: tuple[type[BaseException], ...] = (OSError,)


async def wait_until(
    condition: Callable[[], bool | Awaitable[bool]], *, timeout: float = 10.0, what: str = ""
) -> None:
    """Poll ``condition`` (plain or async) every 10 ms; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or condition}")
        await asyncio.sleep(0.01)


def poll_until(
    condition: Callable[[], bool],
    *,
    timeout: float = 10.0,
    what: str = "",
    ignore: tuple[type[BaseException], ...] = _NOT_YET,
) -> None:
    """:func:`wait_until` outside an event loop (server start-up); ``ignore`` counts as not yet."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if condition():
                return
        except ignore:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or condition}")
        time.sleep(0.02)
