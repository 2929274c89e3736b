"""The mutations: each breaks one documented promise in one place.

A mutation is a (file, original, mutated) triple: ``original`` must occur
exactly once in ``file``. ``tests`` are the pytest node ids or paths that
guard the promise; at least one of them must fail with the mutation applied.
A mutation that no test can kill because it changes nothing observable is
kept with ``equivalent`` saying why, and is not run.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Mutation:
    name: str
    file: str
    original: str
    mutated: str
    tests: tuple[str, ...]
    #: Why no test can tell the difference (then the mutation is listed, not run).
    equivalent: str = ""


SQL_STORE = "plugins/taskshed-sqlalchemy/src/taskshed_sqlalchemy/store.py"
SQL_SUITE = "tests/sql/test_conformance.py::TestSQLDataStore::"
REDIS_ACQUIRE = "plugins/taskshed-redis/src/taskshed_redis/lua/acquire.lua"
REDIS_SUITE = "tests/redis/test_conformance.py::TestRedisConformance::"
MEMORY = "taskshed/datastores/memory.py"
WORKER = "taskshed/workers/base.py"
HEARTBEAT = "taskshed/workers/heartbeat.py"
OUTCOMES = "taskshed/workers/outcomes.py"
BACKOFF = "taskshed/workers/backoff.py"
RUNNING = "taskshed/workers/running.py"

#: The conformance suite run against the in-memory store, and one of its tests.
SUITE = "tests/conformance/test_memory.py"


def suite(test: str) -> str:
    return f"{SUITE}::TestInMemoryDataStore::{test}"


MUTATIONS: list[Mutation] = [
    # ------------------------------------------------------------------ naive times
    Mutation(
        "naive datetimes in a Task read as UTC",
        "taskshed/models/__init__.py",
        "        return value.astimezone(UTC)",
        "        return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)",
        (
            "tests/core/test_models.py::test_naive_run_at_means_local_time",
            suite("test_a_naive_time_means_local_time"),
        ),
    ),
    Mutation(
        "naive datetimes given to a store method read as UTC",
        "taskshed/timeutils.py",
        "    return dt.astimezone(UTC)",
        "    return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).astimezone(UTC)",
        ("tests/core/test_timeutils.py", suite("test_naive_times_are_local_in_every_method")),
    ),
    # ------------------------------------------------------------------ backoff
    Mutation(
        "backoff: the cap is 3000 s, not 30 s",
        BACKOFF,
        "    maximum: float = 30.0",
        "    maximum: float = 3000.0",
        ("tests/core/test_backoff.py",),
    ),
    Mutation(
        "backoff: no cap at all",
        BACKOFF,
        "ceiling = min(maximum, initial * 2 ** min(failures - 1, 64))",
        "ceiling = initial * 2 ** min(failures - 1, 64)",
        ("tests/core/test_backoff.py",),
    ),
    Mutation(
        "backoff: no jitter",
        BACKOFF,
        "    return ceiling * (rng or random).uniform(0.5, 1.0)",
        "    return ceiling",
        ("tests/core/test_backoff.py",),
    ),
    Mutation(
        "backoff: the first delay is 2.5 s",
        BACKOFF,
        "    initial: float = 0.25",
        "    initial: float = 2.5",
        ("tests/core/test_backoff.py",),
    ),
    Mutation(
        "backoff: reset() does nothing",
        BACKOFF,
        "        self.failures = 0",
        "        pass",
        ("tests/core/test_backoff.py",),
    ),
    Mutation(
        "the claim loop never resets its backoff after a success",
        WORKER,
        "                self._backoff.reset()",
        "                pass",
        ("tests/core/test_backoff.py::test_the_worker_resets_its_backoff_after_a_success",),
    ),
    Mutation(
        "a failed callback's retry ignores retry_backoff_max",
        OUTCOMES,
        "            cap = max(base, options.retry_backoff_max.total_seconds())",
        "            cap = 1e9",
        ("tests/core/test_worker_outcomes.py",),
    ),
    # ------------------------------------------------------------------ outcomes
    Mutation(
        "a recurring task whose callback raises is set aside as failed",
        OUTCOMES,
        'if task.run_type == "once" or (following is None and task.end_at is None):',
        "if True:",
        (
            suite("test_a_recurring_task_whose_callback_raises_moves_on"),
            "tests/core/test_worker_outcomes.py",
        ),
    ),
    Mutation(
        "one attempt more than max_attempts",
        OUTCOMES,
        'if outcome.kind != "abort" and attempt < max_attempts:',
        'if outcome.kind != "abort" and attempt <= max_attempts:',
        (suite("test_a_task_that_always_fails_is_kept_as_failed_with_its_error"),),
    ),
    Mutation(
        "Abort is retried like any error",
        OUTCOMES,
        'if outcome.kind != "abort" and attempt < max_attempts:',
        "if attempt < max_attempts:",
        (suite("test_a_callback_decides_with_retry_and_abort"),),
    ),
    Mutation(
        "Retry(delay=...) is ignored",
        OUTCOMES,
        "        if outcome.delay is not None:",
        "        if False:",
        (
            suite("test_a_callback_decides_with_retry_and_abort"),
            "tests/core/test_worker_outcomes.py",
        ),
    ),
    Mutation(
        "a task's own max_attempts is ignored",
        OUTCOMES,
        "    max_attempts = task.max_attempts or options.max_attempts",
        "    max_attempts = options.max_attempts",
        (
            suite("test_two_failures_then_a_success_run_three_times_and_the_task_is_gone"),
            "tests/core/test_worker_outcomes.py",
        ),
    ),
    Mutation(
        "a task's own retry_backoff is ignored",
        OUTCOMES,
        "(task.retry_backoff or options.retry_backoff)",
        "(options.retry_backoff)",
        ("tests/core/test_worker_outcomes.py",),
    ),
    Mutation(
        "a success keeps the failed attempts counted",
        OUTCOMES,
        "                attempts=0,\n                last_error=None,",
        "                attempts=task.attempts,\n                last_error=None,",
        (
            suite("test_run_state_is_recorded_by_completions_and_read_back"),
            "tests/core/test_worker_outcomes.py",
        ),
    ),
    Mutation(
        "a retry forgets the occurrence it retries (the schedule drifts)",
        OUTCOMES,
        "            occurrence_at=task.scheduled_for,",
        "            occurrence_at=None,",
        ("tests/core/test_worker_outcomes.py",),
    ),
    Mutation(
        "jitter is ignored when computing the next occurrence",
        OUTCOMES,
        "    run_at = jittered(following, task.jitter)",
        "    run_at = following",
        ("tests/core/test_worker_outcomes.py", "tests/core/test_schedule.py"),
    ),
    Mutation(
        "end_at is ignored: a schedule runs past its end",
        OUTCOMES,
        "    following = apply_end(following, task.end_at) if following is not None else None",
        "    following = following",
        ("tests/core/test_worker_outcomes.py", SUITE),
    ),
    Mutation(
        "an interval schedule always coalesces",
        OUTCOMES,
        "            nominal, task.interval, coalesce=task.coalesce, now=now",
        "            nominal, task.interval, coalesce=True, now=now",
        (suite("test_without_coalesce_every_missed_occurrence_runs"),),
    ),
    Mutation(
        "an interval schedule never coalesces",
        OUTCOMES,
        "            nominal, task.interval, coalesce=task.coalesce, now=now",
        "            nominal, task.interval, coalesce=False, now=now",
        (
            "tests/core/test_worker_leases.py::test_a_resumed_recurring_task_catches_up_once_with_coalesce",
        ),
    ),
    # ------------------------------------------------------------------ running a callback
    Mutation(
        "a callback raising its own CancelledError is taken for shutdown",
        RUNNING,
        "        if current is not None and current.cancelling():\n            raise exc\n",
        "        raise exc\n",
        (suite("test_a_callback_raising_its_own_cancelled_error_has_failed"),),
    ),
    Mutation(
        "a callback's own TimeoutError counts as a timeout",
        RUNNING,
        "        if deadline is not None and deadline.expired():",
        "        if deadline is not None:",
        ("tests/core/test_worker_outcomes.py",),
    ),
    Mutation(
        "a task's own timeout is ignored",
        WORKER,
        "        timeout = task.timeout or self.options.timeout",
        "        timeout = self.options.timeout",
        (suite("test_a_run_past_its_timeout_is_cancelled_and_retried"),),
    ),
    Mutation(
        "a callback cancelled at shutdown is not handed back",
        WORKER,
        "                # Only shutdown cancels a run: hand the task back untouched.\n"
        "                self._to_release.append(claim)",
        "                pass",
        ("tests/core/test_workers.py::test_shutdown_releases_unfinished_tasks_for_other_workers",),
    ),
    # ------------------------------------------------------------------ claiming
    Mutation(
        "the worker claims every callback, not only its own",
        WORKER,
        "            callbacks=self._callback_names,",
        "            callbacks=None,",
        (
            "tests/core/test_workers.py::test_unknown_callback_and_misfit_kwargs_keep_the_task_and_the_worker",
            suite("test_workers_with_disjoint_callbacks_run_only_their_own"),
        ),
    ),
    Mutation(
        "no prefetch: tasks are claimed only when due",
        WORKER,
        "            now=now + self.options.prefetch,",
        "            now=now,",
        ("tests/core/test_workers.py::test_prefetched_tasks_start_on_time_not_early",),
    ),
    Mutation(
        "a prefetched task starts as soon as it is claimed",
        WORKER,
        "run(claim, claim.task.run_at <= surely_past)",
        "run(claim, True)",
        ("tests/core/test_workers.py::test_prefetched_tasks_start_on_time_not_early",),
    ),
    Mutation(
        "a prefetched task is not checked before it starts",
        WORKER,
        "            if not await self._confirm(claim, window):",
        "            if False:",
        (
            "tests/core/test_worker_faults.py::test_a_task_changed_after_an_early_claim_does_not_start",
        ),
    ),
    Mutation(
        "the prefetch check's answer is ignored",
        WORKER,
        "                future.set_result(claim.task_id in kept)",
        "                future.set_result(True)",
        (
            "tests/core/test_worker_faults.py::test_a_task_changed_after_an_early_claim_does_not_start",
        ),
    ),
    Mutation(
        "held claims are keyed by task id only",
        WORKER,
        "                held.pop((item.task_id, item.token), None)\n",
        "                for key in [key for key in held if key[0] == item.task_id]:\n"
        "                    held.pop(key)\n",
        (
            "tests/core/test_worker_faults.py::test_a_late_completion_reply_does_not_drop_the_claim_of_the_next_occurrence",
            "tests/core/test_worker_outcomes.py",
        ),
    ),
    Mutation(
        "a completion leaves the claim among the held ones",
        WORKER,
        "                held.pop((item.task_id, item.token), None)",
        "                pass",
        ("tests/core/test_worker_outcomes.py",),
    ),
    Mutation(
        "a finished callback does not free its slot",
        WORKER,
        "            self._running.pop(id(claim), None)\n            self._slot_free.set()",
        "            self._running.pop(id(claim), None)",
        ("tests/core/test_workers.py::test_callbacks_run_with_bounded_concurrency",),
    ),
    Mutation(
        "a recorded retry does not wake the sleeping worker",
        WORKER,
        "            # a deleted one-off can't make anything due sooner.\n"
        "            await self.update_schedule()",
        "            pass",
        ("tests/core/test_worker_outcomes.py",),
    ),
    Mutation(
        "shutdown returns before the finished runs' outcomes are written",
        WORKER,
        "        await self._drain_completions(timeout=5.0)",
        "        pass",
        ("tests/core/test_worker_outcomes.py",),
    ),
    Mutation(
        "kwargs that don't fit are offered again at once, not set aside",
        WORKER,
        "await self._datastore.extend_leases([claim], self.clock.now() + SET_ASIDE_FOR)",
        "await self._datastore.release_tasks([claim])",
        (
            "tests/core/test_workers.py::test_unknown_callback_and_misfit_kwargs_keep_the_task_and_the_worker",
        ),
    ),
    Mutation(
        "SchemaVersionError from a running worker is a WARNING",
        WORKER,
        "level = logging.ERROR if isinstance(exc, SchemaVersionError) else logging.WARNING",
        "level = logging.WARNING",
        ("tests/core/test_worker_outcomes.py",),
    ),
    Mutation(
        "a worker's second start() starts its loops again",
        WORKER,
        "        if self._background:\n            return\n        self._loop = asyncio.get_running_loop()",
        "        self._loop = asyncio.get_running_loop()",
        ("tests/core/test_scheduler.py::test_start_and_shutdown_are_idempotent",),
    ),
    Mutation(
        "the scheduler's second start() starts the store and worker again",
        "taskshed/schedulers/__init__.py",
        "        if self._started:\n            return\n        await self._datastore.start()",
        "        await self._datastore.start()",
        ("tests/core/test_scheduler.py::test_start_and_shutdown_are_idempotent",),
        equivalent="the worker's own start() is idempotent (mutated above) and every store's "
        "start() may be called again (LifecycleTests), so a second call changes nothing",
    ),
    # ------------------------------------------------------------------ heartbeat and clock
    Mutation(
        "leases are renewed every half of the lease, not every third",
        "taskshed/workers/options.py",
        "        return self.lease.total_seconds() / 3",
        "        return self.lease.total_seconds() / 2",
        (
            "tests/core/test_worker_leases.py::test_leases_are_renewed_every_third_of_the_lease_while_a_callback_runs",
            "tests/core/test_worker_faults.py::test_the_documented_defaults_hold",
        ),
    ),
    Mutation(
        "the heartbeat renews nothing",
        HEARTBEAT,
        "            kept = await store.extend_leases(held, lease_until)",
        "            kept = {claim.task_id for claim in held}",
        (
            "tests/core/test_workers.py::test_a_callback_outliving_its_lease_keeps_it_and_is_not_started_twice",
        ),
    ),
    Mutation(
        "the heartbeat runs on the worker's own loop (no sibling store)",
        WORKER,
        "            self._datastore.sibling(),\n            period=",
        "            None,\n            period=",
        (
            "tests/core/test_worker_faults.py::test_a_callback_blocking_its_loop_keeps_its_lease_and_starts_once",
        ),
    ),
    Mutation(
        "a lease lost while the callback runs is not reported",
        HEARTBEAT,
        "            if lost:\n                worker.leases_lost(lost)",
        "            if lost:\n                pass",
        ("tests/core/test_worker_outcomes.py",),
    ),
    Mutation(
        "the heartbeat does not refresh the worker's registry entry",
        HEARTBEAT,
        "        await store.register_worker(worker.info())",
        "        pass",
        ("tests/core/test_worker_outcomes.py",),
    ),
    Mutation(
        "the store clock's offset has the wrong sign",
        "taskshed/workers/clock.py",
        "        self.offset = store_time - midpoint",
        "        self.offset = midpoint - store_time",
        (
            "tests/core/test_worker_faults.py::test_due_times_are_judged_by_the_store_clock_not_the_host",
        ),
    ),
    Mutation(
        "renewals extend the lease by a quarter of its length",
        HEARTBEAT,
        "            lease_until = worker.clock.now() + worker.options.lease",
        "            lease_until = worker.clock.now() + worker.options.lease / 4",
        (
            "tests/core/test_workers.py::test_a_callback_outliving_its_lease_keeps_it_and_is_not_started_twice",
        ),
    ),
    Mutation(
        "a stopped worker stays in the registry",
        HEARTBEAT,
        "            await store.remove_worker(worker.worker_id)",
        "            pass",
        ("tests/core/test_worker_outcomes.py::test_the_heartbeat_keeps_the_registry_entry_fresh",),
    ),
    Mutation(
        "abort() releases nothing",
        HEARTBEAT,
        "        if self._release_on_stop:",
        "        if False:",
        ("tests/core/test_worker_faults.py::test_abort_releases_every_claim_from_another_thread",),
    ),
    Mutation(
        "the loop watchdog does not name the blocking callback",
        HEARTBEAT,
        "        culprit = self._worker.describe_blocker(frame)",
        '        culprit = ""',
        (
            "tests/core/test_worker_faults.py::test_a_callback_blocking_its_loop_keeps_its_lease_and_starts_once",
        ),
    ),
    Mutation(
        "the event-driven worker sleeps max_sleep even when a task is due sooner",
        "taskshed/workers/event_driven.py",
        "            timeout = min(timeout, self.clock.local(wakeup - self.options.prefetch / 2))",
        "            pass",
        (
            "tests/core/test_workers.py::test_event_driven_worker_sleeps_until_the_next_task_not_max_sleep",
            "tests/core/test_workers.py",
            "tests/core/test_worker_outcomes.py",
        ),
    ),
    Mutation(
        "the polling worker polls ten times less often than asked",
        "taskshed/workers/polling.py",
        "        await self._sleep(self.polling_interval.total_seconds())",
        "        await self._sleep(self.polling_interval.total_seconds() * 10)",
        ("tests/core/test_workers.py::test_a_polling_worker_sees_a_new_task_within_its_interval",),
    ),
    Mutation(
        "the worker claims again for every freed slot, not half a batch",
        WORKER,
        "        if free <= 0 or (free < refill and self._running):",
        "        if free <= 0:",
        ("tests/core/test_workers.py",),
        equivalent="claiming in smaller batches more often changes how many store calls are "
        "made, not which tasks run or when (a cost that benchmarks/ measures)",
    ),
    # ------------------------------------------------------------------ claims and the memory store
    Mutation(
        "a failed completion deletes the task",
        "taskshed/claims.py",
        "        return self.failed_at is None and self.next_run_at is None",
        "        return self.next_run_at is None",
        (suite("test_a_failed_task_is_kept_and_never_claimed"),),
    ),
    Mutation(
        "memory store: tasks not yet due are claimed",
        MEMORY,
        "                if best is None or best[0] > now:",
        "                if best is None:",
        (suite("test_acquire_takes_due_tasks_earliest_first_up_to_limit"),),
    ),
    Mutation(
        "memory store: one claim more than the limit",
        MEMORY,
        "            while sources and len(claims) < limit:",
        "            while sources and len(claims) <= limit:",
        (suite("test_acquire_takes_due_tasks_earliest_first_up_to_limit"),),
    ),
    Mutation(
        "memory store: a held lease does not keep others off",
        MEMORY,
        "        if self.claimed and self.lease_until is not None and self.lease_until > self.task.run_at:\n"
        "            return self.lease_until",
        "        if False:\n            return self.lease_until",
        (suite("test_a_held_lease_excludes_other_workers"),),
    ),
    Mutation(
        "memory store: completions are not fenced by token",
        MEMORY,
        "        if entry is None or not entry.claimed or entry.token != token:",
        "        if entry is None or not entry.claimed:",
        (suite("test_a_stale_completion_after_takeover_changes_nothing"),),
    ),
    Mutation(
        "memory store: acquire ignores the callbacks asked for",
        MEMORY,
        "            for name in self._callbacks(callbacks):",
        "            for name in list(state.heaps):",
        (suite("test_acquire_takes_only_the_callbacks_asked_for"),),
    ),
    Mutation(
        "memory store: an extended lease is not rescheduled",
        MEMORY,
        "                    entry.lease_until = lease_until\n                    self._state.touch(entry)",
        "                    entry.lease_until = lease_until",
        (
            suite("test_extend_moves_the_lease_of_held_claims_only"),
            suite("test_a_sibling_on_another_thread_sees_and_renews_the_same_claims"),
        ),
    ),
    Mutation(
        "memory store: a failed completion moves the task instead of keeping it failed",
        MEMORY,
        "                    if item.failed_at is not None:\n"
        '                        changes["failed_at"] = item.failed_at\n'
        "                    else:",
        "                    if True:",
        (suite("test_a_failed_task_is_kept_and_never_claimed"),),
    ),
    Mutation(
        "memory store: a claim does not record its worker",
        MEMORY,
        "                entry.claimed_by = worker_id",
        "                entry.claimed_by = None",
        (SUITE,),
    ),
    Mutation(
        "memory store: retry_tasks keeps the used attempts",
        MEMORY,
        "entry.task, failed_at=None, attempts=0, run_at=run_at, occurrence_at=None",
        "entry.task, failed_at=None, run_at=run_at, occurrence_at=None",
        (suite("test_retry_requeues_only_failed_tasks"),),
    ),
    Mutation(
        "confirm_claims keeps claims of paused tasks",
        "taskshed/datastores/base.py",
        "            and not task.paused\n",
        "",
        (suite("test_confirm_claims_keeps_only_claims_whose_task_is_still_runnable"),),
    ),
    # ------------------------------------------------------------------ plugins and stores
    Mutation(
        "SQL: an expired claim is never taken over",
        SQL_STORE,
        "            [_ACTIVE, schema.HELD, _t.c.lease_until <= now_us, _HELD_RUN_AT <= now_us],",
        "            [_ACTIVE, schema.HELD, sa.false()],",
        (SQL_SUITE + "test_a_stale_completion_after_takeover_changes_nothing",),
    ),
    Mutation(
        "SQL: a free task is claimed before it is due",
        SQL_STORE,
        "        ([_ACTIVE, schema.FREE, _t.c.run_at <= now_us], _t.c.run_at, _MYSQL_FREE),",
        "        ([_ACTIVE, schema.FREE], _t.c.run_at, _MYSQL_FREE),",
        (SQL_SUITE + "test_acquire_takes_due_tasks_earliest_first_up_to_limit",),
    ),
    Mutation(
        "SQL: more claims than the limit when several callbacks are asked for",
        SQL_STORE,
        "            ordered = sorted(rows.values(), key=_row_order)[:limit]",
        "            ordered = sorted(rows.values(), key=_row_order)",
        ("tests/conformance/test_claim_limit.py",),
    ),
    Mutation(
        "SQL: renewals and releases are not fenced by token",
        SQL_STORE,
        "                if current is not None and current in tokens.get(row.task_id, ()):",
        "                if current is not None:",
        (
            SQL_SUITE + "test_extend_moves_the_lease_of_held_claims_only",
            SQL_SUITE + "test_release_frees_held_claims_at_once",
        ),
    ),
    Mutation(
        "Redis: more claims than the limit when several callbacks are asked for",
        REDIS_ACQUIRE,
        "  if claimed >= limit then break end\n",
        "",
        (
            REDIS_SUITE + "test_acquire_takes_due_tasks_earliest_first_up_to_limit",
            "tests/conformance/test_claim_limit.py",
        ),
    ),
    Mutation(
        "Redis: a claim does not record its worker",
        REDIS_ACQUIRE,
        "      redis.call('HSET', holders, id, worker)\n",
        "",
        (REDIS_SUITE.rstrip(":"),),
    ),
    Mutation(
        "Redis: a claim's lease is not written",
        REDIS_ACQUIRE,
        "redis.call('HSET', key, 'claim_token', token, 'lease_until', lease)",
        "redis.call('HSET', key, 'claim_token', token)",
        (REDIS_SUITE + "test_a_held_lease_excludes_other_workers", REDIS_SUITE.rstrip(":")),
    ),
    Mutation(
        "SQLite: rows with a non-numeric run_at are logged but not set aside",
        SQL_STORE,
        "            if bad:\n                await conn.execute(",
        "            if False:\n                await conn.execute(",
        ("tests/sql/test_store.py::test_sqlite_rows_whose_run_at_is_not_a_number_are_set_aside",),
    ),
    Mutation(
        "SQLite: rows with a non-numeric run_at are never fetched",
        SQL_STORE,
        "    return (*halves, odd)",
        "    return tuple(halves)",
        ("tests/sql/test_store.py::test_sqlite_rows_whose_run_at_is_not_a_number_are_set_aside",),
    ),
    Mutation(
        "a plugin manager is built at import time",
        "taskshed/registry.py",
        "_default: BackendRegistry | None = None",
        "_default: BackendRegistry | None = None\n"
        "_default = BackendRegistry.from_plugin_manager(create_plugin_manager())",
        ("tests/core/test_plugins.py::test_no_plugin_manager_is_created_at_import_time",),
    ),
    Mutation(
        "the Redis store ignores the configured database number",
        "plugins/taskshed-redis/src/taskshed_redis/config.py",
        '"db": self.db,',
        '"db": 0,',
        ("tests/redis/test_connections.py::test_the_db_number_is_used",),
    ),
]
