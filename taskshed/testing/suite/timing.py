"""update_execution_times, and times in any zone stored as the same instant (G4)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from taskshed.datastores.base import DataStore
from taskshed.errors import TaskNotFoundError
from taskshed.models import TaskExecutionTime
from taskshed.testing.suite.base import HOUR, MINUTE, T0, SuiteBase, store_test
from taskshed.testing.timezones import local_timezone

#: The same kind of wall-clock reading in zones east and west of UTC, with and
#: without daylight saving time, and on either side of a DST change.
ZONED = [
    datetime(2041, 3, 9, 12, 30, 15, 123456, tzinfo=timezone.utc),
    datetime(2041, 3, 9, 12, 30, 15, 654321, tzinfo=timezone(timedelta(hours=5, minutes=30))),
    datetime(2041, 3, 9, 1, 59, 59, 999999, tzinfo=ZoneInfo("America/New_York")),
    datetime(2041, 3, 10, 3, 0, 0, 1, tzinfo=ZoneInfo("America/New_York")),
    datetime(2041, 10, 27, 2, 30, tzinfo=ZoneInfo("Europe/Berlin")),
    datetime(2041, 6, 30, 23, 59, 59, 500000, tzinfo=ZoneInfo("Pacific/Chatham")),
]


class TimeTests(SuiteBase):
    @store_test
    async def test_update_execution_times_moves_only_the_named_tasks(
        self, store: DataStore
    ) -> None:
        await store.add_tasks([self.task("a"), self.task("b"), self.task("c", paused=True)])
        await store.update_execution_times(
            [
                TaskExecutionTime(task_id="a", run_at=T0 + HOUR),
                TaskExecutionTime(task_id="c", run_at=T0 - HOUR),
            ]
        )
        stored = {t.task_id: t for t in await store.fetch_tasks(["a", "b", "c"])}
        self.assert_same_instant(stored["a"].run_at, T0 + HOUR, "a")
        self.assert_same_instant(stored["b"].run_at, T0, "b")
        self.assert_same_instant(stored["c"].run_at, T0 - HOUR, "c")
        assert stored["c"].paused, "re-timing must not resume a paused task"
        assert [t.task_id for t in await store.fetch_due_tasks(T0)] == ["b"], (
            "after update_execution_times only b (unmoved, unpaused) is due"
        )

    @store_test
    async def test_update_with_an_unknown_id_raises_and_changes_nothing(
        self, store: DataStore
    ) -> None:
        await store.add_tasks([self.task("a"), self.task("b")])
        with self.raises(TaskNotFoundError, "update_execution_times with an unknown id"):
            await store.update_execution_times(
                [
                    TaskExecutionTime(task_id="a", run_at=T0 + HOUR),
                    TaskExecutionTime(task_id="missing", run_at=T0 + HOUR),
                    TaskExecutionTime(task_id="b", run_at=T0 + HOUR),
                ]
            )
        for task in await store.fetch_tasks(["a", "b"]):
            self.assert_same_instant(task.run_at, T0, f"{task.task_id} after the failed update")

    @store_test
    async def test_update_frees_a_claimed_task(self, store: DataStore) -> None:
        await store.add_tasks([self.task("t")])
        await store.acquire_tasks(worker_id="w", now=T0, lease_until=T0 + HOUR, limit=1)
        await store.update_execution_times([TaskExecutionTime(task_id="t", run_at=T0 + MINUTE)])
        self.assert_same_instant(await store.fetch_next_wakeup(), T0 + MINUTE, "next wakeup")
        at = T0 + MINUTE
        claims = await store.acquire_tasks(worker_id="v", now=at, lease_until=at + HOUR, limit=1)
        assert [c.task_id for c in claims] == ["t"], (
            "update_execution_times must drop the claim: the task is claimable when next due"
        )

    @store_test
    async def test_aware_times_in_any_zone_keep_their_instant(self, store: DataStore) -> None:
        tasks = [
            self.task(f"z{n}", when, paused=True, paused_at=when - MINUTE)
            for n, when in enumerate(ZONED)
        ]
        await store.add_tasks(tasks)
        stored = {t.task_id: t for t in await store.fetch_tasks([t.task_id for t in tasks])}
        for n, when in enumerate(ZONED):
            self.assert_same_instant(stored[f"z{n}"].run_at, when, f"run_at {when.isoformat()}")
            self.assert_same_instant(stored[f"z{n}"].paused_at, when - MINUTE, "paused_at")
        await store.update_execution_times(
            TaskExecutionTime(task_id=f"z{n}", run_at=when + HOUR) for n, when in enumerate(ZONED)
        )
        for task in await store.fetch_tasks([t.task_id for t in tasks]):
            when = ZONED[int(task.task_id[1:])]
            self.assert_same_instant(task.run_at, when + HOUR, f"updated {when.isoformat()}")

    @store_test
    async def test_due_order_follows_the_instant_not_the_wall_clock(self, store: DataStore) -> None:
        # 12:00 in Kolkata (06:30 UTC) is before 08:00 UTC; 04:00 in New York (09:00 UTC) after.
        kolkata = datetime(2041, 1, 1, 12, 0, tzinfo=ZoneInfo("Asia/Kolkata"))
        utc = datetime(2041, 1, 1, 8, 0, tzinfo=timezone.utc)
        new_york = datetime(2041, 1, 1, 4, 0, tzinfo=ZoneInfo("America/New_York"))
        await store.add_tasks(
            [self.task("ny", new_york), self.task("utc", utc), self.task("kol", kolkata)]
        )
        due = await store.fetch_due_tasks(datetime(2041, 1, 2, tzinfo=timezone.utc))
        assert [t.task_id for t in due] == ["kol", "utc", "ny"], (
            "tasks must be ordered by their instant, whatever the zone they were given in"
        )
        at = datetime(2041, 1, 1, 8, 0, tzinfo=timezone.utc)
        claims = await store.acquire_tasks(worker_id="w", now=at, lease_until=at + HOUR, limit=9)
        assert [c.task_id for c in claims] == ["kol", "utc"], (
            "acquire_tasks must compare instants, not wall-clock readings"
        )

    @store_test
    async def test_a_naive_time_means_local_time(self, store: DataStore) -> None:
        naive = datetime(2041, 7, 1, 9, 15, 30, 250000)
        with local_timezone():  # far from UTC: a naive time read as UTC is 5.5 h off
            expected = naive.astimezone(timezone.utc)  # how Python reads a naive time: local
            await store.add_tasks([self.task("t", naive)])
            await store.update_execution_times([TaskExecutionTime(task_id="t", run_at=naive)])
        self.assert_same_instant((await self.fetch_one(store, "t")).run_at, expected, "run_at")

    @store_test
    async def test_sub_second_precision_is_kept_at_the_declared_resolution(
        self, store: DataStore
    ) -> None:
        step = self.time_resolution
        # Each pair differs by exactly one step, so a store rounding more coarsely merges them.
        base = T0 + timedelta(microseconds=123456) // step * step
        await store.add_tasks([self.task("first", base), self.task("second", base + step)])
        first = await self.fetch_one(store, "first")
        second = await self.fetch_one(store, "second")
        self.assert_same_instant(first.run_at, base, "first")
        self.assert_same_instant(second.run_at, base + step, "second")
        due = await store.fetch_due_tasks(base)
        assert [t.task_id for t in due] == ["first"], "a time one step later counted as due"
        claims = await store.acquire_tasks(worker_id="w", now=base, lease_until=T0 + HOUR, limit=9)
        assert [c.task_id for c in claims] == ["first"], (
            "a time one step later was claimable: the store keeps coarser times than "
            "time_resolution"
        )

    @store_test
    async def test_intervals_keep_their_length(self, store: DataStore) -> None:
        intervals = [
            timedelta(microseconds=1000),
            timedelta(seconds=1, microseconds=500000),
            timedelta(days=3, hours=7),
            timedelta(days=365 * 10),
        ]
        await store.add_tasks(
            self.task(f"i{n}", run_type="recurring", interval=interval)
            for n, interval in enumerate(intervals)
        )
        for n, interval in enumerate(intervals):
            stored = (await self.fetch_one(store, f"i{n}")).interval
            assert stored is not None and abs(stored - interval) < max(
                self.time_resolution, timedelta(microseconds=1)
            ), f"interval {interval} came back as {stored}"

    @store_test
    async def test_intervals_keep_sub_millisecond_parts_at_the_declared_resolution(
        self, store: DataStore
    ) -> None:
        step = self.time_resolution
        # One step past whole milliseconds and seconds, so truncating to either shows.
        intervals = {
            "one-step": step,
            "ms-and-a-step": timedelta(milliseconds=1) + step,
            "s-and-a-step": timedelta(seconds=1) + step,
            "s-and-999-steps": timedelta(seconds=1) + 999 * step,
            "days-and-a-step": timedelta(days=2, hours=3) + step,
        }
        await store.add_tasks(
            self.task(task_id, run_type="recurring", interval=interval)
            for task_id, interval in intervals.items()
        )
        stored = {t.task_id: t for t in await store.fetch_tasks(list(intervals))}
        claims = await store.acquire_tasks(worker_id="w", now=T0, lease_until=T0 + HOUR, limit=9)
        claimed = {c.task_id: c.task for c in claims}
        for task_id, interval in intervals.items():
            for where, tasks in (("fetch_tasks", stored), ("acquire_tasks", claimed)):
                got = tasks[task_id].interval
                assert got is not None and abs(got - interval) < step, (
                    f"{where}: interval {interval} came back as {got}; the store must keep "
                    f"intervals to its time_resolution ({step}), not round them to ms or s"
                )

    @store_test
    async def test_distant_times_round_trip(self, store: DataStore) -> None:
        times = [
            datetime(1971, 1, 1, tzinfo=timezone.utc),
            datetime(2262, 4, 11, 23, 47, 16, tzinfo=timezone.utc),
            datetime(9998, 12, 31, 23, 59, 59, tzinfo=timezone.utc),
        ]
        await store.add_tasks(self.task(f"d{n}", when) for n, when in enumerate(times))
        for n, when in enumerate(times):
            self.assert_same_instant((await self.fetch_one(store, f"d{n}")).run_at, when, "run_at")
