"""Sending a script again after a connection failure, safely.

redis-py's own retries are off (see :meth:`RedisConfig.client_kwargs`): when a
connection fails after a script was sent, its outcome is unknown, and only the
store knows what a second run would do. The store retries every script on a
connection error (twice at most), because each is safe to run twice:

* reads change nothing; every other write is fenced by a claim token
  (complete, extend, release, confirm) or idempotent (pause, remove, retry);
  a repeated claim can only leave tasks held by a token nobody knows until
  their lease passes — a delay, never a second start;
* a replacing ``add`` and ``update_times`` would not be: they drop a task's
  claim, so a second run after a claim taken in between would let a second
  worker start the task. They carry a call id instead, and the script runs at
  most once per id (:data:`taskshed_redis.scripts.RUN_ONCE`): a repeated call
  gets the first run's result and changes nothing.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from typing import Any

from redis.exceptions import ConnectionError, TimeoutError

from taskshed_redis.scripts import RUN_ONCE, Scripts

#: Sends of one script call, at most.
ATTEMPTS = 3
_TRANSIENT = (ConnectionError, TimeoutError)


async def run_script(scripts: Scripts, name: str, args: Sequence[str]) -> Any:
    """Run script ``name``; send it again after a connection failure (at most twice)."""
    if name in RUN_ONCE:
        args = (*args, uuid.uuid4().hex)
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return await scripts.run(name, *args)
        except _TRANSIENT:
            if attempt == ATTEMPTS:
                raise
            await asyncio.sleep(0.01 * attempt)
    raise AssertionError("unreachable")  # pragma: no cover
