"""Bad input gets a typed error and leaves every stored task as it was (G6)."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

import pytest

from taskshed.datastores.base import DataStore
from taskshed.errors import InvalidTaskError, SerializationError
from taskshed.models import Task
from taskshed.testing.suite.base import HOUR, T0, SuiteBase, store_test
from taskshed.validation import MAX_ID_LENGTH

BAD_IDS = {
    "empty": "",
    "too long": "x" * (MAX_ID_LENGTH + 1),
    "huge": "y" * 1_000_000,
    "NUL": "a\x00b",
    "lone surrogate": "a\ud800b",
}

#: Ids and group names that could collide with a store's own key or query syntax.
AWKWARD_IDS = [
    "a",
    "a:b",
    "a:*",
    "*",
    "task:{a}",
    "{a}",
    "group:a:tasks",
    "a b",
    "a%",
    "a_",
    "'; DROP TABLE tasks; --",
    'quote"s',
    "back\\slash",
    "tab\tnewline\n",
    "ünïcödé-😀",
    "z" * MAX_ID_LENGTH,
    "😀" * MAX_ID_LENGTH,
]


class BadInputTests(SuiteBase):
    async def _store_a_bystander(self, store: DataStore) -> Task:
        bystander = self.task("bystander", kwargs={"keep": "me"}, group_id="g")
        await store.add_tasks([bystander])
        return bystander

    async def _assert_only_bystander(self, store: DataStore, bystander: Task) -> None:
        self.assert_same_task(await self.fetch_one(store, "bystander"), bystander)
        due = await store.fetch_due_tasks(T0 + 1000 * HOUR)
        assert [t.task_id for t in due] == ["bystander"], "a rejected task was stored"

    @pytest.mark.parametrize("field", ["task_id", "callback", "group_id"])
    @pytest.mark.parametrize("problem", sorted(BAD_IDS))
    @store_test
    async def test_bad_ids_and_names_are_rejected_before_anything_is_written(
        self, store: DataStore, field: str, problem: str
    ) -> None:
        bystander = await self._store_a_bystander(store)
        good = self.task("good")
        bad = self.task("bad")
        setattr(bad, field, BAD_IDS[problem])
        with pytest.raises(InvalidTaskError):
            await store.add_tasks([good, bad])
        await self._assert_only_bystander(store, bystander)

    @store_test
    async def test_bad_ids_in_reads_and_removals_raise_typed_errors(self, store: DataStore) -> None:
        bystander = await self._store_a_bystander(store)
        for bad in ("", "a\x00b", "x" * (MAX_ID_LENGTH + 1)):
            with pytest.raises(InvalidTaskError):
                await store.remove_tasks(["bystander", bad])
            with pytest.raises(InvalidTaskError):
                await store.remove_group_tasks(bad)
            with pytest.raises(InvalidTaskError):
                await store.update_tasks_paused_status(["bystander", bad], True)
        await self._assert_only_bystander(store, bystander)

    @store_test
    async def test_awkward_ids_are_stored_and_kept_apart(self, store: DataStore) -> None:
        tasks = [
            self.task(task_id, kwargs={"n": n}, group_id=AWKWARD_IDS[-1 - n])
            for n, task_id in enumerate(AWKWARD_IDS)
        ]
        await store.add_tasks(tasks)
        stored = {t.task_id: t for t in await store.fetch_tasks(AWKWARD_IDS)}
        assert set(stored) == set(AWKWARD_IDS)
        for task in tasks:
            self.assert_same_task(stored[task.task_id], task)
            members = await store.fetch_group_tasks(task.group_id or "")
            assert [t.task_id for t in members] == [task.task_id]
        # Removing one id or group touches nothing whose name merely resembles it.
        await store.remove_tasks(["a"])
        await store.remove_group_tasks("a:b")  # the group of AWKWARD_IDS[-2]
        left = {t.task_id for t in await store.fetch_tasks(AWKWARD_IDS)}
        assert left == set(AWKWARD_IDS) - {"a", AWKWARD_IDS[-2]}

    @pytest.mark.parametrize(
        "value", [object(), {1, 2}, math.nan, b"bytes", {"nested": [object()]}], ids=repr
    )
    @store_test
    async def test_unencodable_kwargs_name_the_task_and_key(
        self, store: DataStore, value: Any
    ) -> None:
        # Every value here is outside plain JSON; the rich serializer rejects the object() ones.
        bystander = await self._store_a_bystander(store)
        bad = self.task("bad-kwargs", kwargs={"fine": 1, "culprit": value})
        with pytest.raises(SerializationError) as caught:
            await store.add_tasks([self.task("good"), bad])
        assert caught.value.task_id == "bad-kwargs"
        assert caught.value.key == "culprit"
        assert "bad-kwargs" in str(caught.value) and "culprit" in str(caught.value)
        await self._assert_only_bystander(store, bystander)

    @store_test
    async def test_rich_serializer_rejects_what_it_cannot_encode(self, store: DataStore) -> None:
        if "json-rich" not in self.serializers:
            pytest.skip("json-rich is not among this store's serializers")
        rich = await self.open_store("json-rich")
        bystander = await self._store_a_bystander(rich)
        with pytest.raises(SerializationError) as caught:
            await rich.add_tasks([self.task("bad", kwargs={"obj": object()})])
        assert (caught.value.task_id, caught.value.key) == ("bad", "obj")
        await self._assert_only_bystander(rich, bystander)

    @pytest.mark.parametrize("interval", [timedelta(0), timedelta(seconds=-1)], ids=str)
    @store_test
    async def test_non_positive_intervals_are_rejected(
        self, store: DataStore, interval: timedelta
    ) -> None:
        with pytest.raises(ValueError):
            Task(callback="cb", run_at=T0, run_type="recurring", interval=interval)
        bystander = await self._store_a_bystander(store)
        bad = self.task("bad", run_type="recurring", interval=HOUR)
        bad.interval = interval  # a Task changed after it was built is checked again
        with pytest.raises(InvalidTaskError):
            await store.add_tasks([self.task("good"), bad])
        await self._assert_only_bystander(store, bystander)
