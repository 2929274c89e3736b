"""Real workers on the store under test: retries, timeouts, failures kept, cron, routing by callback."""

from __future__ import annotations

import asyncio
import itertools
import threading
from datetime import datetime, timedelta, timezone

import pytest

from taskshed.datastores.base import DataStore
from taskshed.errors import Abort, Retry
from taskshed.events import TaskEvent
from taskshed.testing.suite.base import HOUR, store_test
from taskshed.testing.suite.workers import WORKER_KINDS, WorkerTests
from taskshed.timeutils import utcnow

FAST_RETRY = timedelta(milliseconds=50)


class PolicyTests(WorkerTests):
    async def wait_failed(self, store: DataStore, task_id: str) -> None:
        async def failed() -> bool:
            found = await store.fetch_tasks([task_id])
            return bool(found) and found[0].failed_at is not None

        await self.wait_until(failed, f"task {task_id!r} is kept as failed")

    @pytest.mark.parametrize("kind", WORKER_KINDS)
    @store_test
    async def test_two_failures_then_a_success_run_three_times_and_the_task_is_gone(
        self, store: DataStore, kind: str
    ) -> None:
        attempts: list[int] = []

        async def flaky() -> None:
            attempts.append(len(attempts) + 1)
            if len(attempts) < 3:
                raise RuntimeError(f"failure {len(attempts)} (expected by the test)")

        await store.add_tasks(
            [
                self.task(
                    "flaky", utcnow(), callback="flaky", max_attempts=3, retry_backoff=FAST_RETRY
                )
            ]
        )
        async with self.running_worker(kind, store, {"flaky": flaky}):
            await self.wait_gone(store, "flaky")
        assert attempts == [1, 2, 3], f"the callback ran {len(attempts)} times, expected 3"

    @pytest.mark.parametrize("kind", WORKER_KINDS)
    @store_test
    async def test_a_task_that_always_fails_is_kept_as_failed_with_its_error(
        self, store: DataStore, kind: str
    ) -> None:
        runs = 0

        async def broken(n: int) -> None:
            nonlocal runs
            runs += 1
            raise ValueError(f"bad input {n} (expected by the test)")

        await store.add_tasks(
            [
                self.task(
                    "broken",
                    utcnow(),
                    callback="broken",
                    kwargs={"n": 7},
                    max_attempts=2,
                    retry_backoff=FAST_RETRY,
                )
            ]
        )
        async with self.running_worker(kind, store, {"broken": broken}):
            await self.wait_failed(store, "broken")
            task = await self.fetch_one(store, "broken")
            assert task.attempts == 2, f"attempts is {task.attempts}, expected max_attempts=2"
            assert task.last_error == "ValueError: bad input 7 (expected by the test)", (
                f"last_error is {task.last_error!r}"
            )
            assert task.last_run_at is not None, "last_run_at was not recorded"
            await asyncio.sleep(0.3)  # a failed task must not run again
        assert runs == 2, f"the callback ran {runs} times, expected 2"

    @pytest.mark.parametrize("kind", WORKER_KINDS)
    @store_test
    async def test_a_run_past_its_timeout_is_cancelled_and_retried(
        self, store: DataStore, kind: str
    ) -> None:
        cancelled = asyncio.Event()
        runs = 0

        async def slow() -> None:
            nonlocal runs
            runs += 1
            if runs == 1:
                try:
                    await asyncio.sleep(30)
                except asyncio.CancelledError:
                    cancelled.set()
                    raise

        await store.add_tasks(
            [
                self.task(
                    "slow",
                    utcnow(),
                    callback="slow",
                    timeout=timedelta(milliseconds=200),
                    max_attempts=2,
                    retry_backoff=FAST_RETRY,
                )
            ]
        )
        async with self.running_worker(kind, store, {"slow": slow}):
            await asyncio.wait_for(cancelled.wait(), self.wait_timeout)
            await self.wait_gone(store, "slow")
        assert runs == 2, f"a timed-out run with max_attempts=2 must run twice, not {runs} times"

    @pytest.mark.parametrize("kind", WORKER_KINDS)
    @store_test
    async def test_a_callback_decides_with_retry_and_abort(
        self, store: DataStore, kind: str
    ) -> None:
        calls: list[str] = []

        async def again() -> None:
            calls.append("again")
            if calls.count("again") == 1:
                raise Retry(delay=0.05)

        async def give_up() -> None:
            calls.append("give_up")
            raise Abort("not worth retrying")

        await store.add_tasks(
            [
                self.task("again", utcnow(), callback="again", max_attempts=2),
                self.task("give_up", utcnow(), callback="give_up", max_attempts=5),
            ]
        )
        async with self.running_worker(kind, store, {"again": again, "give_up": give_up}):
            await self.wait_gone(store, "again")
            await self.wait_failed(store, "give_up")
        assert calls.count("again") == 2, f"Retry ran the callback {calls.count('again')} times"
        assert calls.count("give_up") == 1, "Abort was retried"
        task = await self.fetch_one(store, "give_up")
        assert task.attempts == 1 and task.last_error == "Abort: not worth retrying", (
            "an aborted task must be kept failed after one attempt, with the Abort's message"
        )

    @pytest.mark.parametrize("kind", WORKER_KINDS)
    @store_test
    async def test_a_recurring_task_whose_callback_raises_moves_on(
        self, store: DataStore, kind: str
    ) -> None:
        first = utcnow() - timedelta(milliseconds=10)

        async def explode() -> None:
            raise RuntimeError("recurring failure (expected by the test)")

        await store.add_tasks(
            [self.task("rec", first, callback="explode", run_type="recurring", interval=HOUR)]
        )
        async with self.running_worker(kind, store, {"explode": explode}):
            await self.wait_for_run_at(store, "rec", first + HOUR)
        task = await self.fetch_one(store, "rec")
        assert task.failed_at is None, "a recurring task was set aside as failed"
        assert task.last_error == "RuntimeError: recurring failure (expected by the test)", (
            "a recurring task must keep the last error of its failed occurrence"
        )
        assert task.attempts == 0, "the next occurrence starts with a clean slate of attempts"

    @pytest.mark.parametrize("kind", WORKER_KINDS)
    @store_test
    async def test_a_callback_raising_its_own_cancelled_error_has_failed(
        self, store: DataStore, kind: str
    ) -> None:
        runs: list[str] = []

        async def self_cancel(name: str) -> None:
            runs.append(name)
            inner = asyncio.ensure_future(asyncio.sleep(10))
            asyncio.get_running_loop().call_soon(inner.cancel)
            await inner  # raises CancelledError: something else cancelled what we awaited

        now = utcnow()
        await store.add_tasks(
            [
                self.task("once", now, callback="cb", kwargs={"name": "once"}),
                self.task(
                    "rec",
                    now,
                    callback="cb",
                    kwargs={"name": "rec"},
                    run_type="recurring",
                    interval=timedelta(milliseconds=300),
                ),
            ]
        )
        async with self.running_worker(kind, store, {"cb": self_cancel}) as worker:
            await self.wait_failed(store, "once")

            async def recurring_kept_running() -> bool:
                return runs.count("rec") >= 3

            await self.wait_until(recurring_kept_running, "the recurring task ran 3 times")
            assert not worker.held_claims() or all(
                c.task_id == "rec" for c in worker.held_claims()
            ), "a self-cancelled run's claim is still held"
        once = await self.fetch_one(store, "once")
        assert once.last_error is not None and once.last_error.startswith("CancelledError"), (
            f"a self-cancelled run must fail with CancelledError, not {once.last_error!r}"
        )
        # After the worker stopped, a new one must not run the failed occurrence again.
        async with self.running_worker(kind, store, {"cb": self_cancel}):
            await asyncio.sleep(0.3)
        assert runs.count("once") == 1, f"the one-off started {runs.count('once')} times"

    @pytest.mark.parametrize("kind", WORKER_KINDS)
    @store_test
    async def test_a_plain_function_runs_in_a_thread_not_on_the_loop(
        self, store: DataStore, kind: str
    ) -> None:
        threads: list[int] = []

        def blocking(n: int) -> None:
            threads.append(threading.get_ident())

        await store.add_tasks([self.task("sync", utcnow(), callback="blocking", kwargs={"n": 1})])
        async with self.running_worker(kind, store, {"blocking": blocking}):
            await self.wait_gone(store, "sync")
        assert threads and threads[0] != threading.get_ident(), "a def callback ran on the loop"

    @store_test
    async def test_a_cron_task_with_seconds_runs_on_its_seconds(self, store: DataStore) -> None:
        fired: list[datetime] = []
        events: list[TaskEvent] = []

        async def tick() -> None:
            fired.append(datetime.now(timezone.utc))

        await store.add_tasks(
            [self.task("cron", None, callback="tick", run_type="cron", cron="* * * * * *")]
        )
        async with self.running_worker("event", store, {"tick": tick}) as worker:
            worker.subscribe(events.append)

            async def three() -> bool:
                return len(fired) >= 3

            await self.wait_until(three, "a per-second cron task ran three times")
        due = [e.due_at for e in events if isinstance(e, TaskEvent) and e.kind == "started"][:3]
        assert all(d.microsecond == 0 for d in due), f"cron occurrences off the second: {due}"
        steps = {(b - a).total_seconds() for a, b in itertools.pairwise(due)}
        assert steps == {1.0}, f"cron occurrences not one second apart: {due}"

    @store_test
    async def test_workers_with_disjoint_callbacks_run_only_their_own(
        self, store: DataStore
    ) -> None:
        mail_runs: list[str] = []
        report_runs: list[str] = []
        set_aside: list[TaskEvent] = []

        async def mail(n: int) -> None:
            mail_runs.append(f"mail{n}")

        async def report(n: int) -> None:
            report_runs.append(f"report{n}")

        other = await self.open_store() if self.shared_between_instances else store
        now = utcnow()
        await store.add_tasks(
            [self.task(f"mail{n}", now, callback="mail", kwargs={"n": n}) for n in range(10)]
            + [self.task(f"report{n}", now, callback="report", kwargs={"n": n}) for n in range(10)]
        )
        async with (
            self.running_worker("event", store, {"mail": mail}) as mailer,
            self.running_worker("polling", other, {"report": report}) as reporter,
        ):
            for worker in (mailer, reporter):
                worker.subscribe(lambda e: set_aside.append(e) if e.kind == "set_aside" else None)

            async def all_ran() -> bool:
                return len(mail_runs) + len(report_runs) == 20

            await self.wait_until(all_ran, "both workers ran their tasks")
        assert sorted(mail_runs) == sorted(f"mail{n}" for n in range(10)), (
            "the mail worker must run every mail task once, and only those"
        )
        assert sorted(report_runs) == sorted(f"report{n}" for n in range(10)), (
            "the report worker must run every report task once, and only those"
        )
        assert set_aside == [], f"{len(set_aside)} task(s) were claimed by the wrong worker"
