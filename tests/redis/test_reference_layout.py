"""Keys written the way TaskShed 0.10 wrote them load and run unchanged, and stay readable by it."""

from __future__ import annotations

import asyncio
import json
import math
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from taskshed_redis import RedisDataStore

from taskshed.models import Task
from taskshed.timeutils import utcnow
from taskshed.workers import EventDrivenWorker
from tests.redis.helpers import T0, Raw, check_layout

pytestmark = pytest.mark.redis


async def write_like_0_10(raw: Raw, base: str, task: Task, *, old_release: bool = False) -> None:
    """Write ``task`` with the commands and value formats 0.10 used (redis-py turns floats into repr)."""
    fields: dict[str, Any] = {
        "task_id": task.task_id,
        "run_at": task.run_at.timestamp(),
        "paused": int(task.paused),
        "callback": task.callback,
        # releases before 0.10 used json.dumps' default separators
        "kwargs": json.dumps(task.kwargs)
        if old_release
        else json.dumps(task.kwargs, separators=(",", ":")),
        "run_type": task.run_type,
        "interval": task.interval_seconds() if task.interval else "",
        "group_id": task.group_id if task.group_id is not None else "",
    }
    if not old_release:  # coalesce and paused_at came in a later release
        fields["coalesce"] = int(task.coalesce)
        fields["paused_at"] = task.paused_at.timestamp() if task.paused_at else ""
    pipe = raw.pipeline()
    pipe.zadd(
        f"{base}:task_queue", {task.task_id: "+inf" if task.paused else task.run_at.timestamp()}
    )
    pipe.hset(f"{base}:task:{task.task_id}", mapping=fields)
    if task.group_id is not None:
        pipe.sadd(f"{base}:group:{task.group_id}:tasks", task.task_id)
    await pipe.execute()


def read_like_0_10(fields: dict[str, str]) -> dict[str, Any]:
    """What 0.10's reader takes from a hash: it must still make sense of ours."""
    return {
        "task_id": fields["task_id"],
        "run_at": datetime.fromtimestamp(float(fields["run_at"]), tz=timezone.utc),
        "paused": bool(int(fields["paused"])),
        "callback": fields["callback"],
        "kwargs": json.loads(fields["kwargs"]),
        "run_type": fields["run_type"],
        "interval": float(fields["interval"]) if fields["interval"] else None,
        "group_id": fields["group_id"] or None,
        "coalesce": bool(int(fields["coalesce"])),
        "paused_at": float(fields["paused_at"]) if fields["paused_at"] else None,
    }


REFERENCE_TASKS = [
    Task(callback="cb", run_at=T0, task_id="plain", kwargs={"n": 1, "s": "ü"}),
    Task(
        callback="cb",
        run_at=T0 + timedelta(microseconds=250),
        task_id="rec",
        run_type="recurring",
        interval=timedelta(seconds=2.5),
        group_id="grp",
        coalesce=False,
    ),
    Task(
        callback="cb",
        run_at=T0,
        task_id="held",
        group_id="grp",
        paused=True,
        paused_at=T0 - timedelta(hours=1),
    ),
]


async def test_reference_hashes_load_unchanged(store: RedisDataStore, raw: Raw) -> None:
    for task in REFERENCE_TASKS:
        await write_like_0_10(raw, store.keys.base, task)
    old = Task(callback="cb", run_at=T0, task_id="older", kwargs={"a": [1, 2]}, group_id="grp")
    await write_like_0_10(raw, store.keys.base, old, old_release=True)
    loaded = {t.task_id: t for t in await store.fetch_tasks(["plain", "rec", "held", "older"])}
    assert loaded == {t.task_id: t for t in [*REFERENCE_TASKS, old]}
    assert {t.task_id for t in await store.fetch_group_tasks("grp")} == {"rec", "held", "older"}
    due = [t.task_id for t in await store.fetch_due_tasks(T0 + timedelta(seconds=1))]
    assert sorted(due[:2]) == ["older", "plain"] and due[2:] == ["rec"]
    assert await store.fetch_next_wakeup() == T0
    assert await check_layout(raw, store, indexes=False) == []


async def test_our_changes_keep_the_reference_fields_meaning(
    store: RedisDataStore, raw: Raw
) -> None:
    for task in REFERENCE_TASKS:
        await write_like_0_10(raw, store.keys.base, task)
    claims = await store.acquire_tasks(
        worker_id="w", now=T0, lease_until=T0 + timedelta(seconds=30), limit=10
    )
    assert {c.task_id for c in claims} == {"plain"}
    fields = await raw.hgetall(store.keys.task("plain"))
    # a claim adds fields; run_at is still the scheduled time, not the lease
    assert read_like_0_10(fields)["run_at"] == T0
    assert set(fields) - {"claim_token", "lease_until"} == {
        "task_id", "run_at", "paused", "callback", "kwargs", "run_type", "interval", "group_id", "coalesce", "paused_at",
    }  # fmt: skip
    await store.update_group_paused_status("grp", False)
    held = read_like_0_10(await raw.hgetall(store.keys.task("held")))
    assert held["paused"] is False and held["paused_at"] is None and held["run_at"] == T0
    await store.update_tasks_paused_status(["rec"], True)
    rec = read_like_0_10(await raw.hgetall(store.keys.task("rec")))
    assert rec["paused"] is True and rec["paused_at"] is not None
    assert await raw.zscore(store.keys.queue, "rec") == math.inf


async def test_reference_tasks_run_on_a_worker(store: RedisDataStore, raw: Raw) -> None:
    start = utcnow() - timedelta(seconds=1)
    one_off = Task(
        callback="note", run_at=start, task_id="ref-once", kwargs={"tag": "once"}, group_id="g"
    )
    recurring = Task(
        callback="note",
        run_at=start,
        task_id="ref-every",
        kwargs={"tag": "every"},
        run_type="recurring",
        interval=timedelta(hours=1),
    )
    await write_like_0_10(raw, store.keys.base, one_off, old_release=True)
    await write_like_0_10(raw, store.keys.base, recurring)
    seen: dict[str, asyncio.Event] = {"once": asyncio.Event(), "every": asyncio.Event()}

    async def note(tag: str) -> None:
        seen[tag].set()

    worker = EventDrivenWorker({"note": note}, store)
    await worker.start()
    try:
        await asyncio.wait_for(asyncio.gather(*(e.wait() for e in seen.values())), timeout=10)
    finally:
        # shutdown() writes the outcomes of finished callbacks before it returns
        await worker.shutdown()
    assert not await raw.exists(store.keys.task("ref-once"), store.keys.group("g"))
    fields = await raw.hgetall(store.keys.task("ref-every"))
    assert read_like_0_10(fields)["run_at"] == recurring.run_at + timedelta(hours=1)
    assert await check_layout(raw, store) == []
