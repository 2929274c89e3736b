"""Listing and counting: filters, states, and keyset pages that never skip or repeat a task."""

from __future__ import annotations

from taskshed.claims import Completion
from taskshed.datastores.base import DataStore
from taskshed.errors import InvalidTaskError
from taskshed.listing import TaskCursor, TaskQuery
from taskshed.testing.suite.base import HOUR, MINUTE, SECOND, T0, SuiteBase, store_test


class ListingTests(SuiteBase):
    async def listed(self, store: DataStore, **filters: object) -> list[str]:
        """Every id matching ``filters`` (``now`` defaults to T0), page by page."""
        filters.setdefault("now", T0)
        ids: list[str] = []
        cursor: TaskCursor | None = None
        for _ in range(1000):
            page = await store.list_tasks(TaskQuery(after=cursor, **filters))  # type: ignore[arg-type]
            ids += [t.task_id for t in page.tasks]
            if page.next_cursor is None:
                return ids
            cursor = page.next_cursor
        raise AssertionError("list_tasks kept returning next_cursor")

    async def states_fixture(self, store: DataStore) -> None:
        await store.add_tasks(
            [
                self.task("due", T0 - MINUTE, group_id="g", callback="a"),
                self.task("claimed", T0 - 2 * MINUTE, group_id="g", callback="b"),
                self.task("expired", T0 - 3 * MINUTE, callback="a"),
                self.task("paused", T0 - MINUTE, paused=True, group_id="g", callback="a"),
                self.task("later", T0 + HOUR, callback="b"),
                self.task("failed", T0 - 5 * MINUTE, callback="a"),
            ]
        )
        claims = await store.acquire_tasks(
            worker_id="holder", now=T0 - 5 * MINUTE, lease_until=T0 + HOUR, limit=1
        )
        assert [c.task_id for c in claims] == ["failed"], "setting up: the earliest task is claimed"
        await store.complete_tasks(
            [Completion("failed", claims[0].token, None, attempts=1, last_error="E", failed_at=T0)]
        )
        [claim] = await store.acquire_tasks(
            worker_id="holder",
            now=T0 - 2 * MINUTE,
            lease_until=T0 + HOUR,
            limit=2,
            callbacks={"b"},
        )
        assert claim.task_id == "claimed", "setting up: callbacks={'b'} claims only b's task"
        [gone] = await store.acquire_tasks(
            worker_id="gone", now=T0 - 3 * MINUTE, lease_until=T0 - SECOND, limit=1
        )
        assert gone.task_id == "expired", "setting up: the next due task is claimed"

    @store_test
    async def test_states_are_judged_at_now(self, store: DataStore) -> None:
        await self.states_fixture(store)
        expected = {
            "due": ["expired", "due"],  # an expired lease is due again
            "claimed": ["claimed"],
            "paused": ["paused"],
            "scheduled": ["later"],
            "failed": ["failed"],
        }
        for state, ids in expected.items():
            assert await self.listed(store, state=state) == ids, f"state={state!r}"
            assert await store.count_tasks(TaskQuery(state=state, now=T0)) == len(ids), (  # type: ignore[arg-type]
                f"count of state={state!r}"
            )
        [claimed] = (await store.list_tasks(TaskQuery(state="claimed", now=T0))).tasks
        assert claimed.claimed_by == "holder", f"claimed_by is {claimed.claimed_by!r}"
        self.assert_same_instant(claimed.lease_until, T0 + HOUR, "lease_until of a listed claim")
        assert await self.listed(store, claimed_by="holder") == ["claimed"], (
            "claimed_by= must list the tasks that worker holds now (not expired or completed claims)"
        )

    @store_test
    async def test_filters_combine(self, store: DataStore) -> None:
        await self.states_fixture(store)
        assert await self.listed(store, group_id="g") == ["claimed", "due", "paused"], (
            "group_id= must list the group's tasks, by (run_at, task_id)"
        )
        assert await self.listed(store, callback="b") == ["claimed", "later"], (
            "callback= must list that callback's tasks"
        )
        assert await self.listed(store, group_id="g", callback="a") == ["due", "paused"], (
            "filters must combine with AND"
        )
        assert await self.listed(store, due_before=T0 - MINUTE) == [
            "failed",
            "expired",
            "claimed",
        ], "due_before= must list run_at strictly before it"
        assert await self.listed(store, due_after=T0 - MINUTE) == ["due", "paused", "later"], (
            "due_after= must list run_at at or after it"
        )
        assert await self.listed(store, group_id="nope") == [], "an unknown group lists nothing"
        assert await store.count_tasks(TaskQuery(callback="a")) == 4, (
            "count_tasks must count what list_tasks would list"
        )

    @store_test
    async def test_pages_cover_every_task_once_in_order(self, store: DataStore) -> None:
        # Ties on run_at are ordered by task id, and a page boundary may fall inside a tie.
        tasks = [self.task(f"t{n:03d}", T0 + (n // 4) * SECOND) for n in range(57)]
        await store.add_tasks(reversed(tasks))
        page = await store.list_tasks(TaskQuery(limit=10))
        assert [t.task_id for t in page.tasks] == [f"t{n:03d}" for n in range(10)], (
            "the first page must be the first `limit` tasks by (run_at, task_id)"
        )
        assert page.next_cursor is not None, "a full page must come with a next_cursor"
        ids = await self.listed(store, limit=7)
        assert ids == [t.task_id for t in tasks], "paging skipped, repeated or reordered tasks"
        last = await store.list_tasks(TaskQuery(limit=57))
        assert len(last.tasks) == 57, "a page as large as the store must hold every task"
        listed = {t.task_id: t for t in last.tasks}
        assert listed["t005"].kwargs == {} and listed["t005"].callback == tasks[5].callback, (
            "listed tasks must carry their fields"
        )

    @store_test
    async def test_count_may_stop_at_a_limit(self, store: DataStore) -> None:
        await store.add_tasks(self.task(f"t{n}", T0) for n in range(30))
        assert await store.count_tasks(TaskQuery()) == 30, "count_tasks must count every task"
        assert await store.count_tasks(TaskQuery(), limit=10) == 10, (
            "count_tasks(limit=10) must stop at 10"
        )
        assert await store.count_tasks(TaskQuery(), limit=100) == 30, (
            "count_tasks(limit=100) must count the 30 there are"
        )

    @store_test
    async def test_a_bad_query_is_a_typed_error(self, store: DataStore) -> None:
        for bad in ({"limit": 0}, {"limit": 100_000}, {"state": "sleeping"}, {"limit": "9"}):
            with self.raises(InvalidTaskError, f"TaskQuery(**{bad!r})"):
                TaskQuery(**bad)
        with self.raises(InvalidTaskError, "TaskCursor.decode of a bad cursor"):
            TaskCursor.decode("not a cursor")
        cursor = TaskCursor(T0, "t<1>")
        assert TaskCursor.decode(cursor.encode()) == cursor, "a cursor must survive encode/decode"
