"""Shared bits of the Redis store tests: task builders and a layout consistency check."""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from typing import Any, TypeAlias

from taskshed_redis import RedisDataStore
from taskshed_redis.keys import CALL_ID_KEY

from taskshed.models import Task

#: A ``redis.asyncio.Redis`` made with ``decode_responses=True`` (its replies are
#: ``str``, which redis-py's annotations can't express).
Raw: TypeAlias = Any

#: A fixed instant: store-level tests pass ``now`` explicitly around it.
T0 = datetime(2040, 1, 1, 12, 0, tzinfo=timezone.utc)
SECOND = timedelta(seconds=1)
LEASE = timedelta(seconds=30)


def once(task_id: str, at: datetime = T0, **fields: Any) -> Task:
    fields.setdefault("callback", "cb")
    return Task(run_at=at, task_id=task_id, **fields)


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


async def check_layout(raw: Raw, store: RedisDataStore, *, indexes: bool = True) -> list[str]:
    """Every way the keys of ``store`` can disagree with each other; empty when consistent.

    Every task hash is in the schedule with the score its fields call for, every
    schedule entry has a hash, every group set member names that group, every
    task with a group is in its set, and the claims index holds exactly the
    claimed tasks. With ``indexes`` (leave it out only for keys written the 0.10
    way and not yet adopted) the indexes of ours are checked too: see
    :func:`check_indexes`.
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
    if indexes:
        problems += await check_indexes(raw, store, hashes, queue)
    return problems


async def check_indexes(
    raw: Raw, store: RedisDataStore, hashes: dict[str, dict[str, str]], queue: dict[str, float]
) -> list[str]:
    """The indexes 0.10 doesn't have agree with the hashes.

    The run index holds every task at its run_at; each callback's due index
    holds exactly its claimable tasks at their schedule score, and its run
    index all its tasks; the failed and paused indexes hold exactly the failed
    and the paused (unfailed) tasks; the holders hash names exactly the claimed.
    """
    keys = store.keys
    problems: list[str] = []
    runs = dict(await raw.zrange(keys.runs, 0, -1, withscores=True))
    if set(runs) != set(hashes):
        problems.append(f"run index {sorted(runs)} != tasks {sorted(hashes)}")
    failed = set(await raw.zrange(keys.failed, 0, -1))
    paused = set(await raw.zrange(keys.paused, 0, -1))
    holders = set(await raw.hkeys(keys.holders))
    expected_due: dict[str, dict[str, float]] = {}
    expected_runs: dict[str, set[str]] = {}
    for task_id, fields in hashes.items():
        run_at = float(fields["run_at"])
        if task_id in runs and runs[task_id] != run_at:
            problems.append(f"{task_id!r} has run index score {runs[task_id]}, expected {run_at}")
        is_failed = bool(fields.get("failed_at"))
        if is_failed != (task_id in failed):
            problems.append(f"{task_id!r}: failed={is_failed} but in failed index={not is_failed}")
        is_paused = fields.get("paused") == "1" and not is_failed
        if is_paused != (task_id in paused):
            problems.append(f"{task_id!r}: paused={is_paused} but in paused index={not is_paused}")
        if bool(fields.get("claim_token")) != (task_id in holders):
            problems.append(f"{task_id!r}: claimed and holders index disagree")
        callback = fields["callback"]
        expected_runs.setdefault(callback, set()).add(task_id)
        due = expected_due.setdefault(callback, {})
        if not is_failed and fields.get("paused") != "1":
            due[task_id] = queue.get(task_id, math.nan)
    seen: set[str] = set()
    async for key in raw.scan_iter(match=keys.callback_pattern(), count=1000):
        seen.add(key)
    for callback, members in expected_runs.items():
        seen.discard(keys.callback_runs(callback))
        seen.discard(keys.due(callback))
        stored_runs = set(await raw.zrange(keys.callback_runs(callback), 0, -1))
        if stored_runs != members:
            problems.append(f"callback {callback!r} run index {stored_runs} != {members}")
        stored_due = dict(await raw.zrange(keys.due(callback), 0, -1, withscores=True))
        if stored_due != expected_due[callback]:
            problems.append(
                f"callback {callback!r} due index {stored_due} != {expected_due[callback]}"
            )
    if seen:
        problems.append(f"callback indexes of no stored task: {sorted(seen)}")
    return problems


def _expected_score(fields: dict[str, str]) -> float:
    if fields.get("paused") == "1" or fields.get("failed_at"):
        return math.inf
    run_at = float(fields["run_at"])
    if fields.get("claim_token"):
        return max(run_at, float(fields["lease_until"]))
    return run_at


def without_call_ids(keys: Iterable[str | bytes]) -> list[str]:
    """``keys`` without the stores' call-id keys (``<base>:once:<32 hex>``, expiring in a minute)."""
    names = [k.decode() if isinstance(k, bytes) else k for k in keys]
    return sorted(k for k in names if not CALL_ID_KEY.search(k))
