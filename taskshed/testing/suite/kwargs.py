"""Task kwargs come back exactly as they went in, with each serializer the store supports."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest

from taskshed.datastores.base import DataStore
from taskshed.testing.suite.base import HOUR, T0, SuiteBase, store_test

PLAIN_JSON: dict[str, Any] = {
    "text": "héllo wörld 😀 \" ' \\ \n \x01",
    "empty": "",
    "int": 2**53,
    "negative": -17,
    "float": 0.1,
    "bool": True,
    "none": None,
    "list": [1, "two", [3.0, None], {"four": False}],
    "dict": {"nested": {"deeper": ["x"]}, "": "empty key"},
    "big": "z" * 200_000,
}

RICH: dict[str, Any] = {
    "aware": datetime(2041, 1, 2, 3, 4, 5, 678901, tzinfo=timezone(timedelta(hours=-3))),
    "naive": datetime(2041, 1, 2, 3, 4, 5, 678901),
    "date": date(2041, 2, 28),
    "time": time(23, 59, 58, 123),
    "timedelta": timedelta(days=-1, seconds=5, microseconds=7),
    "uuid": UUID("12345678-1234-5678-1234-567812345678"),
    "decimal": Decimal("3.14159265358979323846264338327950288"),
    "bytes": b"\x00\xff binary",
    "set": {1, 2, 3},
    "tuple": (1, "a", (2, 3)),
    "nested": {"when": [date(2041, 1, 1), {"ids": {UUID(int=1)}}]},
    "plain": PLAIN_JSON["list"],
}


class KwargsTests(SuiteBase):
    @store_test
    async def test_plain_json_kwargs_round_trip(self, store: DataStore) -> None:
        await store.add_tasks([self.task("t", kwargs=PLAIN_JSON), self.task("empty")])
        assert (await self.fetch_one(store, "t")).kwargs == PLAIN_JSON, (
            "fetch_tasks must return kwargs exactly as added"
        )
        assert (await self.fetch_one(store, "empty")).kwargs == {}, (
            "empty kwargs must come back as {}"
        )
        claims = await store.acquire_tasks(worker_id="w", now=T0, lease_until=T0 + HOUR, limit=2)
        assert {c.task_id: c.task.kwargs for c in claims} == {"t": PLAIN_JSON, "empty": {}}, (
            "claims must carry kwargs exactly as added"
        )

    @store_test
    async def test_rich_kwargs_round_trip(self, store: DataStore) -> None:
        if "json-rich" not in self.serializers:
            pytest.skip("json-rich is not among this store's serializers")
        rich = await self.open_store("json-rich")
        await rich.add_tasks([self.task("t", kwargs=RICH)])
        back = (await self.fetch_one(rich, "t")).kwargs
        assert back == RICH, "json-rich kwargs must come back exactly as added"
        for key, value in RICH.items():
            assert type(back[key]) is type(value), f"kwargs[{key!r}] came back as {type(back[key])}"
        assert back["aware"].utcoffset() == timedelta(hours=-3), (
            "an aware datetime in kwargs must keep its own offset"
        )
        assert back["naive"].tzinfo is None, "a naive datetime in kwargs must stay naive"

    @store_test
    async def test_fetched_kwargs_are_copies(self, store: DataStore) -> None:
        kwargs = {"items": [1, 2]}
        await store.add_tasks([self.task("t", kwargs=kwargs)])
        kwargs["items"].append(3)  # the caller's dict is not the stored one
        fetched = await self.fetch_one(store, "t")
        fetched.kwargs["items"].append(4)
        assert (await self.fetch_one(store, "t")).kwargs == {"items": [1, 2]}, (
            "the store must keep its own copy of kwargs: changing the caller's dict or a "
            "fetched one must not change what is stored"
        )
