"""Malformed records planted straight into each store: logged, set aside, never deleted.

A worker runs healthy tasks beside them; every healthy one-off runs exactly
once, the recurring task keeps its rhythm, and each planted record is still
stored afterwards with its fields untouched (only the claim fields a set-aside
writes may differ), held aside for ``SET_ASIDE_FOR``. A task whose kwargs don't fit its callback
is set aside the same way; one naming a callback the worker doesn't have is
never claimed by it at all, and stays free for a worker that has it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import pytest

from taskshed.claims import SET_ASIDE_FOR
from taskshed.models import Task
from taskshed.timeutils import to_epoch_micros, utcnow
from tests.resilience.scenario import Schedule, make_worker
from tests.resilience.stores import Backend
from tests.resilience.tally import Recorder

CLAIM_FIELDS = {"claim_token", "lease_until"}


def _redis_plants(now_s: float) -> dict[str, dict[str, Any] | None]:
    base = {
        "run_at": repr(now_s), "paused": "0", "callback": "once", "kwargs": "{}",
        "run_type": "once", "interval": "", "group_id": "", "coalesce": "1", "paused_at": "",
    }  # fmt: skip
    return {
        "bad-json": {**base, "kwargs": "{not json"},
        "kwargs-not-object": {**base, "kwargs": "[1,2]"},
        "missing-fields": {"run_at": repr(now_s)},
        "run-at-not-a-number": {**base, "run_at": "soon"},
        "bad-run-type": {**base, "run_type": "weekly"},
        "bad-paused-flag": {**base, "paused": "maybe"},
        "negative-interval": {**base, "run_type": "recurring", "interval": "-5"},
        "wrong-task-id": {**base, "task_id": "someone-else"},
        "not-utf8": {**base, "callback": b"\xff\xfe"},
        "schedule-entry-without-hash": None,
    }


def _sql_plants(kind: str, now_us: int) -> dict[str, dict[str, Any]]:
    base = {
        "run_at": now_us, "paused": False, "callback": "once", "kwargs": "{}", "run_type": "once",
        "interval": None, "group_id": None, "coalesce": True, "paused_at": None,
    }  # fmt: skip
    plants = {
        "bad-json": {**base, "kwargs": "{not json"},
        "kwargs-not-object": {**base, "kwargs": "[1,2]"},
        "bad-run-type": {**base, "run_type": "weekly"},
        "recurring-without-interval": {**base, "run_type": "recurring"},
        "negative-interval": {**base, "run_type": "recurring", "interval": -5.0},
        "empty-callback": {**base, "callback": ""},
    }
    if kind == "sqlite":  # SQLite keeps whatever type it is given
        plants["run-at-not-a-number"] = {**base, "run_at": "soon"}
    return plants


async def _plant(backend: Backend, store: Any) -> list[str]:
    plants: Mapping[str, Mapping[str, Any] | None]
    now = utcnow() - timedelta(seconds=1)
    if backend.kind == "redis":
        client = await backend.admin()
        keys = store.keys
        plants = _redis_plants(to_epoch_micros(now) / 1e6)
        for task_id, fields in plants.items():
            if fields is not None:
                await client.hset(keys.task(task_id), mapping={"task_id": task_id, **fields})
            await client.zadd(keys.queue, {task_id: to_epoch_micros(now) / 1e6})
        return list(plants)
    import sqlalchemy as sa
    from taskshed_sqlalchemy.schema import tasks_table

    sql_plants = _sql_plants(backend.kind, to_epoch_micros(now))
    async with (await backend.admin()).begin() as conn:
        if backend.kind == "mariadb":
            # run_type is an ENUM there: without strict mode a bad value is stored as ''.
            await conn.execute(sa.text("SET SESSION sql_mode = ''"))
        for task_id, row in sql_plants.items():
            await conn.execute(sa.insert(tasks_table).values(task_id=task_id, **row))
    return list(sql_plants)


def _without_claim(raw: Any, backend: Backend, ids: list[str]) -> dict[str, Any]:
    """The planted records, minus the fields a set-aside may change."""
    out: dict[str, Any] = {}
    if backend.kind == "redis":
        wanted = {f"{backend.prefix}:task:{task_id}".encode() for task_id in ids}
        for key, (kind, value) in raw.items():
            if kind == "hash" and key in wanted:
                out[key] = [(f, v) for f, v in value if f.decode() not in CLAIM_FIELDS]
        return out
    for row in raw:
        if row[0] in ids:
            out[row[0]] = row[:10]  # the 10 task columns; claim_token and lease_until follow
    return out


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["mariadb", "postgresql", "sqlite", "redis"])
async def test_worker_sets_malformed_records_aside_and_runs_the_rest(
    kind: str,
    backend: Backend,
    taskshed_logs: pytest.LogCaptureFixture,
    loop_errors: list[dict],
    tally: Recorder,
) -> None:
    schedule = Schedule(one_offs=10, spread=1.0)
    store = backend.open()
    await store.start()
    planted = await _plant(backend, store)
    unknown = Task(
        callback="no_such_callback", run_at=utcnow(), task_id="unknown-callback", kwargs={"x": 1}
    )
    unfit = Task(callback="once", run_at=utcnow(), task_id="unfit-kwargs", kwargs={"unexpected": 1})
    await store.add_tasks([unknown, unfit, *schedule.tasks()])
    before = _without_claim(await backend.raw(), backend, planted)
    started = utcnow()
    worker = make_worker(schedule, backend.open())
    try:
        await worker.start()
        await schedule.wait_all_one_offs(timeout=30)
        await schedule.wait_for(lambda: schedule.ticks >= 4, 20, "ticks")
        assert worker.running
    finally:
        await worker.shutdown()
    await schedule.check(store)
    after = _without_claim(await backend.raw(), backend, planted)
    assert after == before, "a planted record was changed or deleted"
    # Still stored, and held aside: not offered again before SET_ASIDE_FOR has passed.
    now = utcnow()
    claims = await store.acquire_tasks(
        worker_id="probe", now=now, lease_until=now + timedelta(seconds=5), limit=100
    )
    set_aside = {*planted, "unfit-kwargs"}
    # (The healthy recurring task is due again by now; only the set-aside ones matter.)
    offered_early = [c.task_id for c in claims if c.task_id in set_aside]
    assert offered_early == [], offered_early
    # Never claimed by a worker without its callback: free for one that has it, at once.
    assert "unknown-callback" in {c.task_id for c in claims}
    later = started + SET_ASIDE_FOR + timedelta(seconds=30)
    offered = await store.acquire_tasks(
        worker_id="probe", now=later, lease_until=later + timedelta(seconds=5), limit=100
    )
    assert "unfit-kwargs" in {c.task_id for c in offered}
    messages = "\n".join(
        r.getMessage() for r in taskshed_logs.records if r.levelno >= logging.WARNING
    )
    store_errors = [m for m in messages.splitlines() if "datastore error" in m]
    assert not store_errors, (
        f"a malformed record made store calls fail (BUGS.md): {store_errors[:3]}"
    )
    unlogged = [t for t in planted if t not in messages]
    assert not unlogged, f"not named in any warning: {unlogged}\n{messages[-3000:]}"
    assert "unfit-kwargs" in messages and "no_such_callback" not in messages
    assert not loop_errors, loop_errors
    tally.add(
        "bad input",
        "malformed records planted in the store ("
        + ", ".join(planted)
        + "), a task naming an unknown callback and one whose kwargs don't fit its callback, beside healthy tasks",
        f"{len(planted) + 2} records logged and set aside for {SET_ASIDE_FOR}, none changed or deleted; "
        f"{len(schedule.one_off_ids)} healthy one-offs ran exactly once, recurring kept running",
    )
