"""Shared bits of the Redis store tests: task builders and a layout consistency check."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone
from typing import Any, TypeAlias

from taskshed_redis import RedisDataStore

from taskshed.models import Task

#: A ``redis.asyncio.Redis`` made with ``decode_responses=True`` (its replies are
#: ``str``, which redis-py's annotations can't express).
Raw: TypeAlias = Any

#: A fixed instant: store-level tests pass ``now`` explicitly around it.
T0 = datetime(2040, 1, 1, 12, 0, tzinfo=timezone.utc)
SECOND = timedelta(seconds=1)
LEASE = timedelta(seconds=30)


def once(task_id: str, at: datetime = T0, **fields: Any) -> Task:
    return Task(callback="cb", run_at=at, task_id=task_id, **fields)


def every(
    task_id: str, at: datetime = T0, interval: timedelta = timedelta(minutes=1), **fields: Any
) -> Task:
    return Task(
        callback="cb", run_at=at, task_id=task_id, run_type="recurring", interval=interval, **fields
    )


async def acquire(
    store: RedisDataStore,
    now: datetime = T0,
    *,
    limit: int = 100,
    lease: timedelta = LEASE,
    worker: str = "w",
) -> dict:
    claims = await store.acquire_tasks(
        worker_id=worker, now=now, lease_until=now + lease, limit=limit
    )
    return {claim.task_id: claim for claim in claims}


async def check_layout(raw: Raw, store: RedisDataStore) -> list[str]:
    """Every way the keys of ``store`` can disagree with each other; empty when consistent.

    Every task hash is in the schedule with the score its fields call for, every
    schedule entry has a hash, every group set member names that group, every
    task with a group is in its set, and the claims index holds exactly the
    claimed tasks.
    """
    keys = store.keys
    problems: list[str] = []
    queue = dict(await raw.zrange(keys.queue, 0, -1, withscores=True))
    claims = set(await raw.zrange(keys.claims, 0, -1))
    hashes = {}
    async for key in raw.scan_iter(match=keys.task_pattern(), count=1000):
        task_id = keys.task_id_of(key)
        assert task_id is not None
        hashes[task_id] = await raw.hgetall(key)
    for task_id in queue.keys() - hashes.keys():
        problems.append(f"{task_id!r} is scheduled but has no hash")
    for task_id, fields in hashes.items():
        if task_id not in queue:
            problems.append(f"{task_id!r} has a hash but is not scheduled")
            continue
        expected = _expected_score(fields)
        if (
            not math.isclose(queue[task_id], expected, rel_tol=0, abs_tol=1e-6)
            and queue[task_id] != expected
        ):
            problems.append(f"{task_id!r} has score {queue[task_id]}, expected {expected}")
        claimed = bool(fields.get("claim_token"))
        if claimed != (task_id in claims):
            problems.append(
                f"{task_id!r}: claimed={claimed} but in claims index={task_id in claims}"
            )
        group = fields.get("group_id")
        if group and not await raw.sismember(keys.group(group), task_id):
            problems.append(f"{task_id!r} is missing from the set of group {group!r}")
    async for key in raw.scan_iter(match=keys.group_pattern(), count=1000):
        group = key[len(keys.base) + len(":group:") : -len(":tasks")]
        for member in await raw.smembers(key):
            if hashes.get(member, {}).get("group_id") != group:
                problems.append(f"group {group!r} lists {member!r}, which is not in it")
    return problems


def _expected_score(fields: dict[str, str]) -> float:
    if fields.get("paused") == "1":
        return math.inf
    run_at = float(fields["run_at"])
    if fields.get("claim_token"):
        return max(run_at, float(fields["lease_until"]))
    return run_at
