"""What both workers share: claiming, running callbacks, leases, completion and shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, TypeAlias

from taskshed.claims import SET_ASIDE_FOR, Claim, Completion
from taskshed.datastores.base import DataStore
from taskshed.errors import SchemaVersionError
from taskshed.models import Task
from taskshed.timeutils import next_run_at, utcnow
from taskshed.workers.backoff import Backoff, as_timedelta

log = logging.getLogger("taskshed.workers")

Callback: TypeAlias = Callable[..., Awaitable[Any]]

_COMPLETION_BATCH = 500


def default_worker_id() -> str:
    """``host:pid:random`` — unique per worker, readable in a store's claim column."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class BaseWorker:
    """Claims due tasks from a datastore and runs their callbacks.

    A claimed task is held under a lease that the worker renews while the
    callback runs; a one-off task is removed only after its callback returned,
    a recurring one moves to its next occurrence. A datastore error never ends
    the worker: it is logged and retried with backoff (DESIGN.md G5).
    """

    def __init__(
        self,
        callback_map: dict[str, Callback],
        datastore: DataStore,
        *,
        max_concurrency: int = 100,
        lease: timedelta | float = timedelta(seconds=30),
        batch_size: int = 100,
        worker_id: str | None = None,
        shutdown_timeout: float = 30.0,
        prefetch: timedelta | float = 0.0,
    ) -> None:
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1.")
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1.")
        self._callback_map = callback_map
        self._datastore = datastore
        self.max_concurrency = max_concurrency
        self.lease = as_timedelta(lease, "lease")
        self.batch_size = batch_size
        # Claim tasks this far ahead of their time and start them on the dot,
        # so that the claim's round trip doesn't add to their lag.
        self.prefetch = timedelta(0) if not prefetch else as_timedelta(prefetch, "prefetch")
        self.worker_id = worker_id or default_worker_id()
        self.shutdown_timeout = shutdown_timeout

        self._running: dict[asyncio.Task[None], Claim] = {}
        self._held: dict[str, Claim] = {}  # claims not yet completed, by task id
        self._to_complete: list[Completion] = []
        self._to_release: list[Claim] = []
        self._wake = asyncio.Event()
        self._slot_free = asyncio.Event()
        self._store_ready = False
        self._completions_ready = asyncio.Event()
        self._completions_drained = asyncio.Event()
        self._stopping = asyncio.Event()
        self._background: list[asyncio.Task[None]] = []
        self._backoff = Backoff()

    # ------------------------------------------------------------------ public API

    @property
    def datastore(self) -> DataStore:
        return self._datastore

    @property
    def running(self) -> bool:
        return bool(self._background)

    def add_callback(self, callback_name: str, callback: Callback) -> None:
        """Map ``callback_name`` to a coroutine function; ``ValueError`` if the name is taken."""
        if callback_name in self._callback_map:
            raise ValueError("Callback name already exists in the callback map.")
        self._callback_map[callback_name] = callback

    async def start(self) -> None:
        """Start the worker's loops; a second call is a no-op.

        The datastore is started by the claim loop, so a store that is
        unreachable at start-up is retried with backoff like any later outage.
        """
        if self._background:
            return
        self._stopping.clear()
        self._background = [
            asyncio.create_task(self._claim_loop(), name=f"taskshed-claim-{self.worker_id}"),
            asyncio.create_task(self._lease_loop(), name=f"taskshed-lease-{self.worker_id}"),
            asyncio.create_task(self._complete_loop(), name=f"taskshed-complete-{self.worker_id}"),
        ]

    async def shutdown(self) -> None:
        """Stop claiming, let running callbacks finish (up to ``shutdown_timeout`` s).

        Callbacks still running then are cancelled and their tasks released,
        so another worker can claim them at once. Outcomes of finished
        callbacks are written before this returns, if the datastore allows.
        The datastore itself is left open: whoever created it closes it
        (``AsyncScheduler.shutdown`` does).
        """
        if not self._background:
            return
        self._stopping.set()
        self._wake.set()
        self._slot_free.set()
        claim_task, lease_task, complete_task = self._background
        # The claim loop notices the flag between store calls; an acquire in
        # flight is allowed to finish (its claims are released below) rather
        # than cancelled, which could strand claims made server-side.
        done, _ = await asyncio.wait([claim_task], timeout=min(10.0, self.shutdown_timeout))
        if not done:
            await _cancel_and_wait(claim_task)
        if self._running:
            _, pending = await asyncio.wait(list(self._running), timeout=self.shutdown_timeout)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending)
        await self._drain_completions(timeout=5.0)
        await _cancel_and_wait(complete_task)
        await _cancel_and_wait(lease_task)
        await self._final_flush()
        self._background = []

    async def update_schedule(self, run_at: datetime | None = None) -> None:
        """Tell the worker the schedule changed (the scheduler calls this)."""
        self._wake.set()

    # ------------------------------------------------------------------ claiming

    async def _claim_loop(self) -> None:
        while not self._stopping.is_set():
            self._wake.clear()
            try:
                if not self._store_ready:
                    await self._datastore.start()
                    self._store_ready = True
                more = await self._claim_once()
                if not more:
                    await self._idle()
                self._backoff.reset()
            except Exception as exc:
                delay = self._backoff.next_delay()
                # A schema that needs `taskshed db upgrade` won't fix itself: say so loudly.
                level = logging.ERROR if isinstance(exc, SchemaVersionError) else logging.WARNING
                log.log(
                    level,
                    "worker %s: datastore error while claiming (%s: %s); retrying in %.1f s",
                    self.worker_id,
                    type(exc).__name__,
                    exc,
                    delay,
                )
                log.debug("the datastore error in full", exc_info=True)
                await self._sleep(delay)

    async def _claim_once(self) -> bool:
        """Claim and start up to the free capacity; True if more may be due right now."""
        free = self.max_concurrency - len(self._running)
        if free <= 0:
            self._slot_free.clear()
            await self._slot_free.wait()  # a callback finished (or shutdown began)
            return True
        limit = min(free, self.batch_size)
        now = utcnow()
        # A store sees `now + prefetch` as the present. Leases of live workers
        # are renewed to at least two thirds of a lease ahead, far beyond a
        # prefetch, so this never takes a task its holder is still running.
        claims = await self._datastore.acquire_tasks(
            worker_id=self.worker_id,
            now=now + self.prefetch,
            lease_until=now + self.lease,
            limit=limit,
        )
        if self._stopping.is_set():
            self._to_release.extend(claims)
            return False
        for claim in claims:
            self._held[claim.task_id] = claim
            task = asyncio.create_task(self._execute(claim))
            self._running[task] = claim
            task.add_done_callback(self._on_done)
        if claims:
            await asyncio.sleep(0)  # let the callbacks begin before claiming more
        return len(claims) == limit

    async def _idle(self) -> None:
        """Wait until more work may be due. Each worker kind decides how."""
        raise NotImplementedError

    async def _sleep(self, seconds: float) -> None:
        """Sleep, but wake early on a schedule change or shutdown."""
        if seconds <= 0:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=seconds)

    def _on_done(self, task: asyncio.Task[None]) -> None:
        self._running.pop(task, None)
        self._slot_free.set()

    # ------------------------------------------------------------------ running

    async def _execute(self, claim: Claim) -> None:
        task = claim.task
        callback = self._callback_map.get(task.callback)
        if callback is None:
            log.error(
                "task %r names callback %r, which this worker does not have; "
                "the task stays stored and is offered again in %s",
                task.task_id,
                task.callback,
                SET_ASIDE_FOR,
            )
            await self._set_aside(claim)
            return
        if not _accepts(callback, task):
            log.error(
                "task %r: kwargs %s don't fit callback %r; the task stays stored and "
                "is offered again in %s",
                task.task_id,
                sorted(task.kwargs),
                task.callback,
                SET_ASIDE_FOR,
            )
            await self._set_aside(claim)
            return
        try:
            early = (task.run_at - utcnow()).total_seconds()
            if early > 0:  # claimed ahead of its time (prefetch)
                await asyncio.sleep(early)
            result = callback(**task.kwargs)
            if inspect.isawaitable(result):
                await result
        except asyncio.CancelledError:
            # Only shutdown cancels callbacks: hand the task back untouched.
            self._to_release.append(claim)
            raise
        except Exception:
            log.exception("callback %r of task %r raised", task.callback, task.task_id)
        self._to_complete.append(Completion(task.task_id, claim.token, _next_run(task)))
        self._completions_drained.clear()
        self._completions_ready.set()

    async def _set_aside(self, claim: Claim) -> None:
        self._held.pop(claim.task_id, None)
        try:
            await self._datastore.extend_leases([claim], utcnow() + SET_ASIDE_FOR)
        except Exception as exc:
            # The lease still expires by itself; the task is offered again then.
            log.warning("could not set task %r aside: %s", claim.task_id, exc)

    # ------------------------------------------------------------------ completing

    async def _complete_loop(self) -> None:
        backoff = Backoff()
        while True:
            await self._completions_ready.wait()
            self._completions_ready.clear()
            while self._to_complete:
                batch = self._to_complete[:_COMPLETION_BATCH]
                try:
                    await self._complete(batch)
                    backoff.reset()
                except Exception as exc:
                    delay = backoff.next_delay()
                    log.warning(
                        "worker %s: could not record %d finished task(s) (%s: %s); "
                        "retrying in %.1f s",
                        self.worker_id,
                        len(batch),
                        type(exc).__name__,
                        exc,
                        delay,
                    )
                    await asyncio.sleep(delay)
            self._completions_drained.set()

    async def _complete(self, batch: list[Completion]) -> None:
        applied = await self._datastore.complete_tasks(batch)
        del self._to_complete[: len(batch)]
        for item in batch:
            self._held.pop(item.task_id, None)
            if item.task_id not in applied:
                log.warning(
                    "task %r: lease was lost before its outcome was recorded; "
                    "another worker or a change to the task took over",
                    item.task_id,
                )
        if any(item.next_run_at is not None for item in batch):
            # A recurring task moved on and may be due sooner than planned;
            # a deleted one-off can't make anything due sooner.
            await self.update_schedule()

    async def _drain_completions(self, timeout: float) -> None:
        """Give the completion loop up to ``timeout`` seconds to record what finished."""
        if self._to_complete:
            self._completions_ready.set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._completions_drained.wait(), timeout)
        if self._to_complete:
            log.warning(
                "worker %s: %d finished task(s) could not be recorded before shutdown; "
                "they run again when their lease ends",
                self.worker_id,
                len(self._to_complete),
            )

    async def _final_flush(self) -> None:
        if self._to_release:
            releasing, self._to_release = self._to_release, []
            try:
                await self._datastore.release_tasks(releasing)
            except Exception as exc:
                log.warning(
                    "could not release %d unfinished task(s) at shutdown (%s); "
                    "they are claimable again when their lease ends",
                    len(releasing),
                    exc,
                )
            for claim in releasing:
                self._held.pop(claim.task_id, None)

    # ------------------------------------------------------------------ leases

    async def _lease_loop(self) -> None:
        period = self.lease.total_seconds() / 3
        while True:
            await asyncio.sleep(period)
            held = list(self._held.values())
            if not held:
                continue
            try:
                kept = await self._datastore.extend_leases(held, utcnow() + self.lease)
            except Exception as exc:
                log.warning("worker %s: could not renew leases: %s", self.worker_id, exc)
                continue
            for claim in held:
                if claim.task_id not in kept and self._held.get(claim.task_id) is claim:
                    log.warning(
                        "task %r: lease lost while its callback runs (the task was "
                        "changed, or the lease ran out during an outage)",
                        claim.task_id,
                    )


def _next_run(task: Task) -> datetime | None:
    if task.run_type != "recurring" or task.interval is None:
        return None
    return next_run_at(task.run_at, task.interval, coalesce=task.coalesce, now=utcnow())


def _accepts(callback: Callback, task: Task) -> bool:
    try:
        signature = inspect.signature(callback)
    except (TypeError, ValueError):
        return True  # can't tell (a builtin); let the call decide
    try:
        signature.bind(**task.kwargs)
    except TypeError:
        return False
    return True


async def _cancel_and_wait(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
