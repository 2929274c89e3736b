"""The in-memory store's claim path: what it hands out and in which order.

A claim's kwargs come from a kept copy when JSON would give them back as
they went in (string keys, scalar values), else from decoding the stored
payload; either way nobody shares a mutable object with the store. One call
claims each task once, and hands lapsed leases out in ``run_at`` order.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from taskshed.datastores import InMemoryDataStore
from taskshed.models import Task
from taskshed.serializers.json import JSONSerializer

T0 = datetime.fromisoformat("2030-01-01T00:00:00+00:00")
S = timedelta(seconds=1)


async def _claim(
    store: InMemoryDataStore, now: datetime, lease_until: datetime, limit: int
) -> list:
    return await store.acquire_tasks(
        worker_id="w", now=now, lease_until=lease_until, limit=limit, callbacks={"job"}
    )


async def _kwargs_of(store: InMemoryDataStore, task_id: str) -> dict[str, Any]:
    [task] = await store.fetch_tasks([task_id])
    return task.kwargs


async def test_scalar_kwargs_are_handed_out_as_copies() -> None:
    store = InMemoryDataStore()
    mine = {"n": 1, "s": "x", "f": 0.5, "b": True, "z": None}
    await store.add_tasks([Task(callback="job", run_at=T0, task_id="a", kwargs=mine)])
    mine["n"] = 99  # the caller's dict is theirs
    [claim] = await _claim(store, T0, T0 + S, 1)
    assert claim.task.kwargs == {"n": 1, "s": "x", "f": 0.5, "b": True, "z": None}
    claim.task.kwargs["n"] = 2  # the claim's dict is the worker's
    claim.task.kwargs["extra"] = 1
    assert await _kwargs_of(store, "a") == {"n": 1, "s": "x", "f": 0.5, "b": True, "z": None}
    [again] = await _claim(store, T0 + 2 * S, T0 + 3 * S, 1)  # the lease lapsed
    assert again.task.kwargs == {"n": 1, "s": "x", "f": 0.5, "b": True, "z": None}


async def test_nested_kwargs_are_decoded_afresh_for_every_claim() -> None:
    store = InMemoryDataStore()
    mine: dict[str, Any] = {"items": [1, 2], "opts": {"k": "v"}}
    await store.add_tasks([Task(callback="job", run_at=T0, task_id="a", kwargs=mine)])
    mine["items"].append(3)
    [claim] = await _claim(store, T0, T0 + S, 1)
    claim.task.kwargs["items"].append(4)
    claim.task.kwargs["opts"]["k"] = "changed"
    assert await _kwargs_of(store, "a") == {"items": [1, 2], "opts": {"k": "v"}}
    [again] = await _claim(store, T0 + 2 * S, T0 + 3 * S, 1)
    assert again.task.kwargs == {"items": [1, 2], "opts": {"k": "v"}}


class _Tagging(JSONSerializer):
    """A serializer of the application's own whose decoding differs from plain JSON."""

    name = "tagging"

    def loads(self, data: str) -> dict[str, Any]:
        return {**super().loads(data), "decoded_by": self.name}


async def test_another_serializer_decodes_every_claim_itself() -> None:
    store = InMemoryDataStore(serializer=_Tagging())
    await store.add_tasks([Task(callback="job", run_at=T0, task_id="a", kwargs={"n": 1})])
    [claim] = await _claim(store, T0, T0 + S, 1)
    assert claim.task.kwargs == {"n": 1, "decoded_by": "tagging"}
    assert await _kwargs_of(store, "a") == {"n": 1, "decoded_by": "tagging"}


async def test_one_call_claims_each_task_once_even_under_a_lease_already_over() -> None:
    store = InMemoryDataStore()
    times = [0, 1, 2, 8]  # seconds after T0
    await store.add_tasks([Task(callback="job", run_at=T0 + t * S, task_id=f"t{t}") for t in times])
    [first] = await _claim(store, T0, T0 + S, 1)  # t0, leased until T0+1s
    assert first.task_id == "t0"
    # At T0+10s that lease has lapsed, and this call's own lease (to T0+5s) ends
    # before "now" too: the tasks it claims are claimable again at once, ahead of
    # t8. Each is still claimed once, and t8 too.
    claims = await _claim(store, T0 + 10 * S, T0 + 5 * S, 10)
    ids = [c.task_id for c in claims]
    assert sorted(ids) == ["t0", "t1", "t2", "t8"], ids
    # Nothing was dropped from the schedule: those leases ended at T0+5s, so all four
    # are claimable again.
    held = await _claim(store, T0 + 10 * S, T0 + 20 * S, 10)
    assert sorted(c.task_id for c in held) == ["t0", "t1", "t2", "t8"]


async def test_a_lapsed_lease_comes_first_when_its_task_was_due_first() -> None:
    store = InMemoryDataStore()
    await store.add_tasks([Task(callback="job", run_at=T0, task_id="early")])
    await _claim(store, T0, T0 + 10 * S, 1)  # "early" leased until T0+10s
    await store.add_tasks([Task(callback="job", run_at=T0 + 5 * S, task_id="later")])
    # At T0+20s both are claimable: "later" since T0+5s, "early" since its lease ended
    # at T0+10s, but "early" was due first.
    claims = await _claim(store, T0 + 20 * S, T0 + 30 * S, 10)
    assert [c.task_id for c in claims] == ["early", "later"]
