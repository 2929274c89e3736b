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
        assert [t.task_id for t in due] == ["bystander"], (
            "a call refused for bad input must write nothing (the good tasks of the same call "
            "included) and leave other tasks alone"
        )

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
        with self.raises(InvalidTaskError, f"add_tasks with a {problem} {field}"):
            await store.add_tasks([good, bad])
        await self._assert_only_bystander(store, bystander)

    @store_test
    async def test_bad_ids_in_reads_and_removals_raise_typed_errors(self, store: DataStore) -> None:
        bystander = await self._store_a_bystander(store)
        for bad in ("", "a\x00b", "x" * (MAX_ID_LENGTH + 1)):
            with self.raises(InvalidTaskError, f"fetch_tasks with the bad id {bad[:12]!r}"):
                await store.fetch_tasks(["bystander", bad])
            with self.raises(InvalidTaskError, f"fetch_group_tasks({bad[:12]!r})"):
                await store.fetch_group_tasks(bad)
            with self.raises(InvalidTaskError, f"remove_tasks with the bad id {bad[:12]!r}"):
                await store.remove_tasks(["bystander", bad])
            with self.raises(InvalidTaskError, f"remove_group_tasks({bad[:12]!r})"):
                await store.remove_group_tasks(bad)
            with self.raises(
                InvalidTaskError, f"update_tasks_paused_status with the bad id {bad[:12]!r}"
            ):
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
        assert set(stored) == set(AWKWARD_IDS), (
            "ids with key or query syntax in them (':', '*', '{', quotes, %, _) must be stored "
            "and read back as themselves"
        )
        for task in tasks:
            self.assert_same_task(stored[task.task_id], task)
            members = await store.fetch_group_tasks(task.group_id or "")
            assert [t.task_id for t in members] == [task.task_id], (
                f"group {task.group_id!r} must hold exactly its own task, not tasks of groups "
                "whose names resemble it"
            )
        # Removing one id or group touches nothing whose name merely resembles it.
        await store.remove_tasks(["a"])
        await store.remove_group_tasks("a:b")  # the group of AWKWARD_IDS[-2]
        left = {t.task_id for t in await store.fetch_tasks(AWKWARD_IDS)}
        assert left == set(AWKWARD_IDS) - {"a", AWKWARD_IDS[-2]}, (
            "removing id 'a' and group 'a:b' must remove exactly those, not look-alikes "
            "(patterns, prefixes)"
        )

    @pytest.mark.parametrize(
        "value",
        [object(), {1, 2}, math.nan, b"bytes", {"nested": [object()]}],
        # Stable ids (an object's repr holds its address): pytest-xdist workers must agree.
        ids=["object", "set", "nan", "bytes", "nested-object"],
    )
    @store_test
    async def test_unencodable_kwargs_name_the_task_and_key(
        self, store: DataStore, value: Any
    ) -> None:
        # Every value here is outside plain JSON (the rich serializer rejects only the
        # object() ones), so this runs with json whatever the suite's serializer is.
        if self.suite_serializer != "json":
            store = await self.open_store("json")
        bystander = await self._store_a_bystander(store)
        bad = self.task("bad-kwargs", kwargs={"fine": 1, "culprit": value})
        with self.raises(SerializationError, "add_tasks with kwargs json can't encode") as caught:
            await store.add_tasks([self.task("good"), bad])
        assert (caught.value.task_id, caught.value.key) == ("bad-kwargs", "culprit"), (
            "the SerializationError must name the task and the kwargs key at fault "
            "(prepare_tasks does this for you)"
        )
        assert "bad-kwargs" in str(caught.value) and "culprit" in str(caught.value), (
            "the error message must name the task and the key"
        )
        await self._assert_only_bystander(store, bystander)

    @store_test
    async def test_rich_serializer_rejects_what_it_cannot_encode(self, store: DataStore) -> None:
        if "json-rich" not in self.serializers:
            pytest.skip("json-rich is not among this store's serializers")
        rich = await self.open_store("json-rich")
        bystander = await self._store_a_bystander(rich)
        with self.raises(SerializationError, "json-rich add_tasks with an object()") as caught:
            await rich.add_tasks([self.task("bad", kwargs={"obj": object()})])
        assert (caught.value.task_id, caught.value.key) == ("bad", "obj"), (
            "the SerializationError must name the task and the kwargs key at fault"
        )
        await self._assert_only_bystander(rich, bystander)

    @pytest.mark.parametrize("interval", [timedelta(0), timedelta(seconds=-1)], ids=str)
    @store_test
    async def test_non_positive_intervals_are_rejected(
        self, store: DataStore, interval: timedelta
    ) -> None:
        with self.raises(ValueError, f"Task(interval={interval})"):
            Task(callback="cb", run_at=T0, run_type="recurring", interval=interval)
        bystander = await self._store_a_bystander(store)
        bad = self.task("bad", run_type="recurring", interval=HOUR)
        bad.interval = interval  # a Task changed after it was built is checked again
        with self.raises(InvalidTaskError, f"add_tasks with interval {interval}"):
            await store.add_tasks([self.task("good"), bad])
        await self._assert_only_bystander(store, bystander)
