"""What the store checks about the Redis server when it starts.

**Eviction.** A Redis with ``maxmemory`` set and an ``allkeys-*`` policy
deletes keys it picks when memory runs out: stored tasks would vanish without
an error anywhere. With ``noeviction`` (Redis's default) a full server refuses
writes instead, and the ``volatile-*`` policies only evict keys that carry a
TTL, which task keys never do. So the store refuses to start on an evicting
server unless told ``allow_eviction=True`` (then it logs a warning at every
start).
"""

from __future__ import annotations

import logging
from typing import Any

from taskshed.errors import ConfigurationError

log = logging.getLogger(__name__)

#: Policies under which Redis may delete keys without a TTL, that is, tasks.
EVICTING_POLICIES = frozenset({"allkeys-lru", "allkeys-lfu", "allkeys-random", "allkeys-lrm"})


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


async def memory_settings(client: Any) -> tuple[int, str]:
    """``(maxmemory, maxmemory_policy)`` from ``INFO memory`` (works where CONFIG is disabled)."""
    info = await client.info("memory")
    fields = {_text(key): value for key, value in info.items()}
    try:
        maxmemory = int(_text(fields.get("maxmemory", 0)))
    except ValueError:
        maxmemory = 0
    return maxmemory, _text(fields.get("maxmemory_policy", "noeviction"))


async def check_eviction(client: Any, *, allow: bool, where: str) -> None:
    """Raise :class:`ConfigurationError` when the server may evict task keys and ``allow`` is off."""
    maxmemory, policy = await memory_settings(client)
    if not maxmemory or policy not in EVICTING_POLICIES:
        return
    if allow:
        log.warning(
            "%s: maxmemory is %d bytes with maxmemory-policy %s: Redis may delete stored "
            "tasks when memory runs out (allowed by allow_eviction)",
            where,
            maxmemory,
            policy,
        )
        return
    raise ConfigurationError(
        f"{where}: maxmemory-policy is {policy} with maxmemory {maxmemory}: Redis would "
        "delete stored tasks when memory runs out. Set maxmemory-policy noeviction (or a "
        "volatile-* policy), or pass allow_eviction=True (?allow_eviction=1) to accept it"
    )
