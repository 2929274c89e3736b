"""The fields added after TaskShed 0.10: stored, read back, and reset by a replacement."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from taskshed.claims import Completion
from taskshed.datastores.base import DataStore
from taskshed.models import Task
from taskshed.testing.suite.base import HOUR, MINUTE, SECOND, T0, SuiteBase, store_test
from taskshed.workers.outcomes import next_occurrence

#: (zone, expression, first fire, the following fires): what the DST rules give in 2027.
DST_CASES = [
    # Spring forward in Berlin (02:00 -> 03:00 on 28 March): 02:30 doesn't exist that day and
    # runs once, right after the gap (03:00 CEST = 01:00 UTC).
    (
        "Europe/Berlin",
        "30 2 * * *",
        datetime(2027, 3, 27, 1, 30, tzinfo=timezone.utc),
        [
            datetime(2027, 3, 28, 1, 0, tzinfo=timezone.utc),
            datetime(2027, 3, 29, 0, 30, tzinfo=timezone.utc),
        ],
    ),
    # Fall back in Berlin (03:00 -> 02:00 on 31 October): 02:30 happens twice; it runs at the
    # first (02:30 CEST = 00:30 UTC), then 02:30 CET the next day.
    (
        "Europe/Berlin",
        "30 2 * * *",
        datetime(2027, 10, 30, 0, 30, tzinfo=timezone.utc),
        [
            datetime(2027, 10, 31, 0, 30, tzinfo=timezone.utc),
            datetime(2027, 11, 1, 1, 30, tzinfo=timezone.utc),
        ],
    ),
    # New York springs forward on 14 March (02:00 -> 03:00 EDT = 07:00 UTC).
    (
        "America/New_York",
        "30 2 * * *",
        datetime(2027, 3, 13, 7, 30, tzinfo=timezone.utc),
        [
            datetime(2027, 3, 14, 7, 0, tzinfo=timezone.utc),
            datetime(2027, 3, 15, 6, 30, tzinfo=timezone.utc),
        ],
    ),
    # ... and falls back on 7 November: 01:30 EDT (05:30 UTC) runs, 01:30 EST doesn't.
    (
        "America/New_York",
        "30 1 * * *",
        datetime(2027, 11, 6, 5, 30, tzinfo=timezone.utc),
        [
            datetime(2027, 11, 7, 5, 30, tzinfo=timezone.utc),
            datetime(2027, 11, 8, 6, 30, tzinfo=timezone.utc),
        ],
    ),
]


class FieldTests(SuiteBase):
    def cron_task(self, task_id: str, **fields: object) -> Task:
        return self.task(
            task_id,
            T0,
            run_type="cron",
            cron="*/15 9-17 * * mon-fri",
            timezone="Europe/Berlin",
            **fields,  # type: ignore[arg-type]
        )

    @store_test
    async def test_schedule_and_policy_fields_round_trip(self, store: DataStore) -> None:
        cron = self.cron_task(
            "cron",
            end_at=T0 + 30 * HOUR,
            jitter=timedelta(seconds=7, microseconds=500),
            max_attempts=5,
            retry_backoff=timedelta(seconds=2, microseconds=250),
            timeout=timedelta(minutes=3, microseconds=1),
        )
        interval = self.task("every", T0, run_type="recurring", interval=HOUR, end_at=T0 + 5 * HOUR)
        plain = self.task("plain", T0)
        await store.add_tasks([cron, interval, plain])
        got = {t.task_id: t for t in await store.fetch_tasks(["cron", "every", "plain"])}
        for name in ("run_type", "cron", "timezone", "max_attempts"):
            assert getattr(got["cron"], name) == getattr(cron, name), (
                f"cron task: {name} came back as {getattr(got['cron'], name)!r}, "
                f"expected {getattr(cron, name)!r}"
            )
        for name in ("jitter", "retry_backoff", "timeout"):
            value = getattr(got["cron"], name)
            assert value is not None, f"cron task: {name} was lost"
            assert abs(value - getattr(cron, name)) <= max(
                self.time_resolution, timedelta(microseconds=1)
            ), f"cron task: {name} came back as {value}, expected {getattr(cron, name)}"
        self.assert_same_instant(got["cron"].end_at, T0 + 30 * HOUR, "cron end_at")
        self.assert_same_instant(got["every"].end_at, T0 + 5 * HOUR, "interval end_at")
        for name in (
            "cron",
            "timezone",
            "end_at",
            "jitter",
            "max_attempts",
            "retry_backoff",
            "timeout",
        ):
            assert getattr(got["plain"], name) is None, (
                f"a task stored without {name} reads back with {getattr(got['plain'], name)!r}"
            )
        fresh = got["plain"]
        assert fresh.attempts == 0 and fresh.last_error is None, "a new task has run state"
        assert (
            fresh.last_run_at is None and fresh.failed_at is None and fresh.occurrence_at is None
        ), "a new task must read last_run_at, failed_at and occurrence_at as None"
        assert fresh.claimed_by is None and fresh.lease_until is None, "a new task reads as claimed"

    @store_test
    async def test_run_state_is_recorded_by_completions_and_read_back(
        self, store: DataStore
    ) -> None:
        await store.add_tasks([self.task("r", T0, run_type="recurring", interval=HOUR)])
        [claim] = await store.acquire_tasks(worker_id="w", now=T0, lease_until=T0 + HOUR, limit=1)
        # Quotes, a backslash, a line break, JSON-looking text and non-ASCII letters: a
        # store that packs completions into one string (Redis: one JSON argument) must
        # hand every one of them back as it was.
        error = 'ValueError: "q" \\ [1, {"k": null}]\nnext line, café ✓ ' + "x" * 1850
        retry_at = T0 + 10 * SECOND
        done = await store.complete_tasks(
            [
                Completion(
                    "r",
                    claim.token,
                    retry_at,
                    attempts=2,
                    last_error=error,
                    last_run_at=T0 + SECOND,
                    occurrence_at=T0,
                )
            ]
        )
        assert done == {"r"}, "a completion with run state was not applied"
        task = await self.fetch_one(store, "r")
        assert task.attempts == 2, f"attempts read back as {task.attempts}, expected 2"
        assert task.last_error == error, "last_error did not round trip (it may be 2000 chars)"
        self.assert_same_instant(task.run_at, retry_at, "run_at after a retry")
        self.assert_same_instant(task.last_run_at, T0 + SECOND, "last_run_at")
        self.assert_same_instant(task.occurrence_at, T0, "occurrence_at (the nominal time)")
        assert task.claimed_by is None, "a completed task still reads as claimed"
        # A clean success clears the retry state.
        [claim] = await store.acquire_tasks(
            worker_id="w", now=retry_at, lease_until=retry_at + HOUR, limit=1
        )
        await store.complete_tasks([Completion("r", claim.token, T0 + HOUR, last_run_at=retry_at)])
        task = await self.fetch_one(store, "r")
        assert task.attempts == 0 and task.last_error is None and task.occurrence_at is None, (
            f"a success left attempts={task.attempts}, last_error={task.last_error!r}, "
            f"occurrence_at={task.occurrence_at}"
        )

    @store_test
    async def test_a_replacement_starts_with_fresh_run_state(self, store: DataStore) -> None:
        await store.add_tasks([self.task("t", T0 - MINUTE)])
        [claim] = await store.acquire_tasks(worker_id="w", now=T0, lease_until=T0 + HOUR, limit=1)
        await store.complete_tasks(
            [Completion("t", claim.token, None, attempts=3, last_error="E: boom", failed_at=T0)]
        )
        assert (await self.fetch_one(store, "t")).failed_at is not None, (
            "a completion with failed_at must keep the task as failed"
        )
        await store.add_tasks([self.task("t", T0 - MINUTE)])
        task = await self.fetch_one(store, "t")
        assert task.failed_at is None and task.attempts == 0 and task.last_error is None, (
            "replacing a failed task kept its failure"
        )
        claims = await store.acquire_tasks(worker_id="w", now=T0, lease_until=T0 + HOUR, limit=1)
        assert [c.task_id for c in claims] == ["t"], "a replaced failed task can't be claimed"

    @pytest.mark.parametrize(("zone", "expression", "first", "following"), DST_CASES)
    @store_test
    async def test_cron_occurrences_through_the_store_follow_the_dst_rules(
        self,
        store: DataStore,
        zone: str,
        expression: str,
        first: datetime,
        following: list[datetime],
    ) -> None:
        await store.add_tasks(
            [self.task("c", first, run_type="cron", cron=expression, timezone=zone)]
        )
        now = first
        for expected in following:
            [claim] = await store.acquire_tasks(
                worker_id="w", now=now, lease_until=now + MINUTE, limit=1
            )
            # The worker computes the next occurrence from what the store gave back.
            nxt = next_occurrence(claim.task, now)
            assert nxt is not None, "a cron task ran out of occurrences"
            await store.complete_tasks([Completion("c", claim.token, nxt[0], occurrence_at=nxt[1])])
            task = await self.fetch_one(store, "c")
            self.assert_same_instant(task.run_at, expected, f"{expression} in {zone}")
            now = task.run_at
