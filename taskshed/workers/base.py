"""What both workers share: claiming, running callbacks, completion, events and shutdown.

The moving parts, each in its own module: :mod:`~taskshed.workers.options`
(validated settings), :mod:`~taskshed.workers.clock` (the store's time),
:mod:`~taskshed.workers.heartbeat` (leases and registry off the callbacks'
loop), :mod:`~taskshed.workers.running` (one callback run) and
:mod:`~taskshed.workers.outcomes` (what a run's end writes to the store).
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import functools
import logging
import os
import random
import socket
import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from types import FrameType
from typing import Any, Literal

from taskshed.claims import SET_ASIDE_FOR, Claim, Completion
from taskshed.datastores.base import DataStore
from taskshed.errors import SchemaVersionError
from taskshed.events import (
    EventBus,
    StoreErrorEvent,
    TaskEvent,
    TaskEventKind,
    WorkerEvent,
    find_observers,
)
from taskshed.notifiers.base import Notice, Notifier
from taskshed.worker_info import WorkerInfo
from taskshed.workers.backoff import Backoff
from taskshed.workers.clock import StoreClock
from taskshed.workers.heartbeat import Heartbeat, LoopWatch, find_frame
from taskshed.workers.options import WorkerOptions
from taskshed.workers.outcomes import finished_once, settle
from taskshed.workers.running import (
    SUCCEEDED,
    Callback,
    Outcome,
    Signatures,
    outcome_of,
    run_callback,
)

log = logging.getLogger("taskshed.workers")
run_log = logging.getLogger("taskshed.runs")

__all__ = ["BaseWorker", "Callback", "default_worker_id"]

_COMPLETION_BATCH = 500
#: How long a small batch of finished runs waits for company before it is written (seconds):
#: runs that end close together share one write instead of one each, and the writes
#: (a commit each, on SQL stores) cross the path of fewer claims.
_COMPLETION_LINGER = 0.1
#: ... but a task that moves to a next run (an interval, cron or retry) is written at least
#: this long before that run, so that lingering never holds a schedule back.
_COMPLETION_LEAD = 0.005
#: How long the prefetch check may start before a task is due, at least and at most (seconds).
_GATE_MARGIN_MIN = 0.001
_GATE_MARGIN_MAX = 0.025
#: The check starts this many times its slowest recent round trip ahead of the due time.
_GATE_HEADROOM = 1.5
#: How many recent round trips of the check that margin is taken over.
_GATE_HISTORY = 32
#: Checks asked for within this many seconds of each other go to the store as one call.
_GATE_WINDOW = 0.005
#: The last stretch before a task's time is waited out by yielding to the loop rather than
#: by a timer: the loop's timers fire up to a millisecond late (epoll counts whole
#: milliseconds), which would be most of the lag of a task claimed ahead.
_ON_THE_DOT = 0.0012
_HeldKey = tuple[str, str]


def default_worker_id() -> str:
    """``host:pid:random`` — unique per worker, readable in a store's claim column."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class BaseWorker:
    """Claims due tasks from a datastore and runs their callbacks.

    A claimed task is held under a lease that a heartbeat thread renews while
    the callback runs; a one-off task is removed only after its callback
    returned, a recurring one moves to its next occurrence, a failed run is
    retried or kept as failed (see docs/failures.md). A worker claims only
    tasks whose callback it has. A datastore error never ends the worker: it
    is logged and retried with backoff (G5 in docs/concepts.md).
    """

    kind: Literal["event", "polling"] = "event"

    def __init__(
        self,
        callback_map: dict[str, Callback],
        datastore: DataStore,
        *,
        max_concurrency: int = 100,
        lease: timedelta | float = timedelta(seconds=30),
        batch_size: int = 100,
        worker_id: str | None = None,
        shutdown_timeout: timedelta | float = 30.0,
        shutdown_grace: timedelta | float = 5.0,
        prefetch: timedelta | float = 0.0,
        max_attempts: int = 1,
        retry_backoff: timedelta | float = 1.0,
        retry_backoff_max: timedelta | float = 3600.0,
        timeout: timedelta | float | None = None,
        loop_block_warning: timedelta | float = 1.0,
        notifier: Notifier | str | None = "store",
        plugin_manager: Any | None = None,
    ) -> None:
        self.options = WorkerOptions.build(
            max_concurrency=max_concurrency,
            lease=lease,
            batch_size=batch_size,
            shutdown_timeout=shutdown_timeout,
            shutdown_grace=shutdown_grace,
            prefetch=prefetch,
            max_attempts=max_attempts,
            retry_backoff=retry_backoff,
            retry_backoff_max=retry_backoff_max,
            timeout=timeout,
            loop_block_warning=loop_block_warning,
        )
        if not isinstance(callback_map, dict):
            raise TypeError("callback_map must be a dict of callback name -> function")
        self._callback_map = callback_map
        self._callback_names = frozenset(callback_map)
        self._datastore = datastore
        self.worker_id = worker_id or default_worker_id()
        self.clock = StoreClock()
        self._notifier_choice = notifier
        self._notifier: Notifier | None = None
        self._plugin_manager = plugin_manager
        self._bus = EventBus(None)
        self._rng = random.Random()
        self._signatures = Signatures()

        # Every claim being executed, by id(claim), with the asyncio task running it: a
        # run finds its own entry without asking asyncio for the current task.
        self._running: dict[int, tuple[asyncio.Task[None], Claim]] = {}
        self._held: dict[_HeldKey, Claim] = {}
        self._held_lock = threading.Lock()
        self._to_complete: list[Completion] = []
        self._to_release: list[Claim] = []
        self._wake = asyncio.Event()
        self._slot_free = asyncio.Event()
        self._store_ready = False
        self._completions_ready = asyncio.Event()
        # Cuts a linger short (a full batch, or a next run coming up); see _linger.
        self._completions_urgent = asyncio.Event()
        self._linger_until = 0.0  # the loop time a linger in progress ends at; 0: none
        self._completions_drained = asyncio.Event()
        self._stopping = asyncio.Event()
        self._background: list[asyncio.Task[None]] = []
        self._backoff = Backoff()
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._watch = LoopWatch(self, self.options.loop_block_warning.total_seconds())
        self._heartbeat: Heartbeat | None = None
        self._started_at: datetime | None = None
        self._gate_pending: list[tuple[Claim, asyncio.Future[bool]]] = []
        self._gate_margin = 0.002
        self._gate_took: collections.deque[float] = collections.deque(maxlen=_GATE_HISTORY)
        self._loop: asyncio.AbstractEventLoop | None = None

    # ------------------------------------------------------------------ public API

    @property
    def datastore(self) -> DataStore:
        return self._datastore

    @property
    def running(self) -> bool:
        return bool(self._background)

    # The 0.10-era attribute names, kept readable.
    @property
    def max_concurrency(self) -> int:
        return self.options.max_concurrency

    @property
    def lease(self) -> timedelta:
        return self.options.lease

    @property
    def batch_size(self) -> int:
        return self.options.batch_size

    @property
    def prefetch(self) -> timedelta:
        return self.options.prefetch

    @property
    def shutdown_timeout(self) -> float:
        return self.options.shutdown_timeout.total_seconds()

    @property
    def callbacks(self) -> frozenset[str]:
        """The callback names this worker serves (and claims)."""
        return self._callback_names

    def add_callback(self, callback_name: str, callback: Callback) -> None:
        """Map ``callback_name`` to a function; ``ValueError`` if the name is taken."""
        if callback_name in self._callback_map:
            raise ValueError("Callback name already exists in the callback map.")
        self._callback_map[callback_name] = callback
        self._callback_names = frozenset(self._callback_map)
        self._wake.set()

    def subscribe(self, callback: Callable[[Any], Any]) -> Callable[[], None]:
        """Call ``callback(event)`` for every event of this worker; returns an unsubscribe function.

        Events are :class:`~taskshed.events.TaskEvent` and friends. A plain
        function is called on the event thread (keep it quick and thread-safe);
        a coroutine function runs on this loop. Errors are logged, never raised.
        """
        return self._bus.subscribe(callback)

    async def start(self) -> None:
        """Start the worker's loops and heartbeat; a second call is a no-op.

        The datastore is started by the claim loop, so a store that is
        unreachable at start-up is retried with backoff like any later outage.
        """
        if self._background:
            return
        self._loop = asyncio.get_running_loop()
        self._stopping.clear()
        # A bus that knows the plugins; what was subscribed before start() moves over.
        self._bus = EventBus(
            find_observers(self._plugin_manager),
            name=f"taskshed-{self.worker_id}",
            lazy=True,
            subscribers=self._bus.subscribers,
        )
        self._started_at = self.clock.now()
        self._watch.start()
        self._heartbeat = Heartbeat(
            self,
            self._datastore.sibling(),
            period=self.options.heartbeat_period,
            watch=self._watch,
        )
        self._heartbeat.start()
        self._background = [
            asyncio.create_task(self._claim_loop(), name=f"taskshed-claim-{self.worker_id}"),
            asyncio.create_task(self._complete_loop(), name=f"taskshed-complete-{self.worker_id}"),
        ]
        if self._bus.active:
            self._bus.emit(WorkerEvent("started", self.info(), self.clock.now()))

    async def shutdown(self) -> None:
        """Stop claiming, let running callbacks finish (up to ``shutdown_timeout``).

        Callbacks still running then are cancelled and their tasks released, so
        another worker can claim them at once. A callback that ignores
        cancellation (or blocks) is abandoned after ``shutdown_grace`` with an
        ERROR naming it; its claim is not renewed any more and lapses after the
        lease. Outcomes of finished callbacks are written before this returns,
        if the datastore allows. The datastore itself is left open: whoever
        created it closes it (``AsyncScheduler.shutdown`` does).
        """
        if not self._background:
            return
        self._stopping.set()
        self._wake.set()
        self._slot_free.set()
        self._completions_urgent.set()  # outcomes are written now, not after a linger
        claim_task, complete_task = self._background
        # The claim loop notices the flag between store calls; an acquire in
        # flight is allowed to finish (its claims are released below) rather
        # than cancelled, which could strand claims made server-side.
        done, _ = await asyncio.wait([claim_task], timeout=min(10.0, self.shutdown_timeout + 1))
        if not done:
            await _cancel_and_wait(claim_task)
        await self._stop_callbacks()
        await self._drain_completions(timeout=5.0)
        await _cancel_and_wait(complete_task)
        await self._release_unstarted()
        if self._notifier is not None:
            with contextlib.suppress(Exception):
                await self._notifier.shutdown()
            self._notifier = None
        if self._heartbeat is not None:
            await self._heartbeat.stop()
        self._watch.stop()
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
        if self._bus.active:
            self._bus.emit(WorkerEvent("stopped", self.info(), self.clock.now()))
        self._bus.close()
        self._background = []
        self._store_ready = False

    def abort(self, timeout: float = 5.0) -> None:
        """Stop at once, from any thread (a second Ctrl-C): release every held claim, return.

        Running callbacks are not waited for; the caller is expected to end the
        process. Claims are released by the heartbeat's own connection, so this
        works even while a callback blocks the event loop.
        """
        self._stopping.set()
        if self._heartbeat is not None:
            self._heartbeat.abort(timeout)

    async def update_schedule(self, run_at: datetime | None = None) -> None:
        """Tell the worker the schedule changed (the scheduler calls this)."""
        self._wake.set()

    # ------------------------------------------------------------------ for the heartbeat (any thread)

    def held_claims(self) -> list[Claim]:
        """Every claim held now (thread-safe snapshot)."""
        with self._held_lock:
            return list(self._held.values())

    def leases_lost(self, claims: list[Claim]) -> None:
        """Called from the heartbeat thread with claims whose renewal failed."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._on_leases_lost, claims)

    def info(self) -> WorkerInfo:
        """What this worker registers in the store (refreshed every heartbeat)."""
        now = self.clock.now()
        return WorkerInfo(
            worker_id=self.worker_id,
            host=socket.gethostname(),
            pid=os.getpid(),
            started_at=self._started_at or now,
            heartbeat_at=now,
            expires_at=now + self.options.lease,
            running=len(self._running),
            held=len(self._held),
            callbacks=tuple(sorted(self._callback_names)),
            kind=self.kind,
            version=_release(),
        )

    def describe_blocker(self, frame: FrameType | None) -> str:
        """Which callback (and task) the frame of a blocked loop is in, for the watchdog's log."""
        codes: dict[object, str] = {}
        for name, fn in list(self._callback_map.items()):
            code = getattr(getattr(fn, "__call__", fn), "__code__", None)  # noqa: B004
            code = getattr(fn, "__code__", code)
            if code is not None:
                codes[code] = name
        found = find_frame(frame, set(codes))
        if found is None:
            if frame is None:
                return ""
            return f" (in {frame.f_code.co_name} at {frame.f_code.co_filename}:{frame.f_lineno})"
        executing = find_frame(found, {BaseWorker._run_claim.__code__})
        claim = executing.f_locals.get("claim") if executing is not None else None
        task_id = claim.task_id if isinstance(claim, Claim) else "?"
        return f" by callback {codes[found.f_code]!r} (task {task_id!r})"

    # ------------------------------------------------------------------ observers

    def _emit(self, kind: TaskEventKind, claim: Claim, **fields: Any) -> None:
        if self._bus.active:
            self._bus.emit(
                TaskEvent(
                    kind,
                    claim.task,
                    self.worker_id,
                    at=self.clock.now(),
                    due_at=claim.task.run_at,
                    **fields,
                )
            )

    # ------------------------------------------------------------------ claiming

    async def _connect(self) -> None:
        await self._datastore.start()
        await self.clock.sync(self._datastore)
        await self._datastore.register_worker(self.info())
        self._store_ready = True
        await self._listen()

    async def _listen(self) -> None:
        """Subscribe to the notifier (the store's own by default): other processes' changes wake us."""
        if self._notifier is not None or self._notifier_choice is None:
            return
        from taskshed.config import resolve_notifier

        try:
            notifier = resolve_notifier(self._notifier_choice, self._datastore)
        except Exception as exc:
            log.warning("worker %s: no notifier (%s); polling every max_sleep", self.worker_id, exc)
            self._notifier_choice = None
            return
        if notifier is None:
            self._notifier_choice = None
            return
        assert isinstance(notifier, Notifier)
        try:
            await notifier.start()
            await notifier.subscribe(self._on_notice)
        except Exception as exc:
            log.warning(
                "worker %s: notifier %s unavailable (%s); changes from other processes are "
                "seen within max_sleep",
                self.worker_id,
                notifier.describe(),
                exc,
            )
            return
        self._notifier = notifier

    def _on_notice(self, notice: Notice) -> None:
        self._wake.set()

    async def _claim_loop(self) -> None:
        while not self._stopping.is_set():
            self._wake.clear()
            try:
                if not self._store_ready:
                    await self._connect()
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
                if self._bus.active:
                    self._bus.emit(StoreErrorEvent(self.worker_id, "claim", exc, self.clock.now()))
                await self._sleep(delay)

    async def _claim_once(self) -> bool:
        """Claim and start up to the free capacity; True if more may be due right now."""
        free = self.options.max_concurrency - len(self._running)
        # Claim again once half a batch of slots is free, not for every slot: under load a
        # claim per finished callback means many small, expensive claims.
        refill = min(self.options.batch_size, self.options.max_concurrency) // 2
        if free <= 0 or (free < refill and self._running):
            self._slot_free.clear()
            await self._slot_free.wait()  # a callback finished (or shutdown began)
            return True
        limit = min(free, self.options.batch_size)
        now = self.clock.now()
        claims = await self._datastore.acquire_tasks(
            worker_id=self.worker_id,
            now=now + self.options.prefetch,
            lease_until=now + self.options.lease,
            limit=limit,
            callbacks=self._callback_names,
        )
        if claims:
            log.debug("worker %s: claimed %d task(s)", self.worker_id, len(claims))
        held = self._held
        with self._held_lock:
            for claim in claims:
                held[(claim.task.task_id, claim.token)] = claim
        if self._stopping.is_set():
            self._to_release.extend(claims)
            return False
        observed = self._bus.active
        # Due for sure (whatever the clock offset's error): started without waiting.
        surely_past = now - self.clock.uncertainty
        running, run = self._running, self._run_claim
        create_task = asyncio.get_running_loop().create_task  # asyncio.create_task, one call less
        for claim in claims:
            # Each run takes itself off `running` when it ends (see _run_claim).
            running[id(claim)] = (create_task(run(claim, claim.task.run_at <= surely_past)), claim)
            if observed:
                self._emit("claimed", claim)
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

    def _forget(self, claim: Claim) -> None:
        with self._held_lock:
            self._held.pop((claim.task_id, claim.token), None)

    def _on_leases_lost(self, claims: list[Claim]) -> None:
        for claim in claims:
            with self._held_lock:
                if self._held.pop((claim.task_id, claim.token), None) is None:
                    continue  # completed meanwhile
            log.warning(
                "worker %s: task %r: lease lost while its callback runs (another worker took "
                "it over, or the task was changed or removed)",
                self.worker_id,
                claim.task_id,
            )
            self._emit("lease_lost", claim)

    # ------------------------------------------------------------------ running

    async def _run_claim(self, claim: Claim, due: bool = False) -> None:
        """Run one claimed task; ``due``: it was already due when claimed (no prefetch wait)."""
        # However it ends, the run takes itself off `running` and frees its slot: cheaper
        # than a done callback, which costs every run one more turn of the loop.
        try:
            task = claim.task
            callback = self._callback_map.get(task.callback)
            info = self._signatures.of(callback) if callback is not None else None
            if info is None or not info.accepts(task.kwargs):
                await self._set_aside(claim, callback is None)
                return
            if not due:
                try:
                    if not await self._until_due(claim):
                        return
                except asyncio.CancelledError:
                    self._to_release.append(claim)
                    raise
            started = self.clock.now()
            if self._bus.active:
                self._emit("started", claim, started_at=started)
            timeout = task.timeout or self.options.timeout
            try:
                if info.is_async and timeout is None:
                    # run_callback's common case, without its coroutine around the callback's.
                    try:
                        await info.callback(**task.kwargs)
                        outcome = SUCCEEDED
                    except BaseException as exc:
                        outcome = outcome_of(exc)
                else:
                    outcome = await run_callback(
                        info.callback,
                        task,
                        timeout=timeout.total_seconds() if timeout is not None else None,
                        executor=None if info.is_async else self._thread_pool(),
                        awaitable=info.is_async,
                    )
            except asyncio.CancelledError:
                # Only shutdown cancels a run: hand the task back untouched.
                self._to_release.append(claim)
                raise
            self._finish(claim, outcome, started)
        finally:
            self._running.pop(id(claim), None)
            self._slot_free.set()

    def _finish(self, claim: Claim, outcome: Outcome, started: datetime) -> None:
        task = claim.task
        quiet = (
            outcome is SUCCEEDED
            and task.run_type == "once"
            and not self._bus.active
            and not run_log.isEnabledFor(logging.INFO)
        )
        if quiet:
            # A one-off's success, with no log line or event to say when it ended: no second
            # reading of the clock, nothing to report.
            completion = finished_once(claim, started)
            finished, settlement = started, None
        else:
            finished = self.clock.now()
            settlement = settle(
                claim,
                outcome,
                started_at=started,
                now=finished,
                options=self.options,
                rng=self._rng,
            )
            completion = settlement.completion
        self._to_complete.append(completion)
        self._completions_drained.clear()
        self._completions_ready.set()
        if self._linger_until:
            if len(self._to_complete) >= _COMPLETION_BATCH // 10:
                self._completions_urgent.set()
            elif completion.next_run_at is not None and completion.failed_at is None:
                left = self._linger_until - asyncio.get_running_loop().time()
                if self.clock.local(completion.next_run_at) - _COMPLETION_LEAD < left:
                    self._completions_urgent.set()
        if settlement is None:
            return
        if outcome.kind == "succeeded":
            if run_log.isEnabledFor(logging.INFO):
                run_log.info(
                    "task %s (%s) succeeded in %.3f s, %.1f ms after it was due",
                    task.task_id,
                    task.callback,
                    (finished - started).total_seconds(),
                    (started - task.run_at).total_seconds() * 1000,
                    extra=self._log_fields(claim, "succeeded", started, finished),
                )
        else:
            self._log_failure(
                claim, outcome, settlement.events[-1], settlement.next_run_at, started, finished
            )
        if not self._bus.active:
            return
        for kind in settlement.events:
            self._emit(
                kind,
                claim,
                started_at=started,
                finished_at=finished,
                attempt=settlement.attempt,
                error=outcome.error,
                next_run_at=settlement.next_run_at,
            )

    def _log_fields(
        self, claim: Claim, outcome: str, started: datetime, finished: datetime
    ) -> dict[str, Any]:
        return {
            "task_id": claim.task_id,
            "callback": claim.task.callback,
            "worker": self.worker_id,
            "outcome": outcome,
            "duration": round((finished - started).total_seconds(), 6),
            "lag": round((started - claim.task.run_at).total_seconds(), 6),
        }

    def _log_failure(
        self,
        claim: Claim,
        outcome: Outcome,
        result: TaskEventKind,
        next_run_at: datetime | None,
        started: datetime,
        finished: datetime,
    ) -> None:
        task = claim.task
        if result == "retried":
            then = f"retried at {next_run_at.isoformat()}" if next_run_at else "retried"
        elif task.run_type == "once":
            then = "kept as failed (taskshed tasks retry to run it again)"
        elif next_run_at is not None:
            then = f"next run at {next_run_at.isoformat()}"
        else:
            then = "its schedule has ended"
        attempt = task.attempts + 1
        run_log.log(
            logging.WARNING if result == "retried" else logging.ERROR,
            "task %s (%s) attempt %d %s: %s: %s; %s",
            task.task_id,
            task.callback,
            attempt,
            "timed out" if outcome.kind == "timed_out" else "failed",
            type(outcome.error).__name__,
            outcome.error,
            then,
            exc_info=outcome.error if outcome.kind == "failed" else None,
            extra=self._log_fields(claim, outcome.kind, started, finished),
        )

    async def _until_due(self, claim: Claim) -> bool:
        """Wait for a prefetched task's time; False if it was changed meanwhile (then not run).

        A task claimed ahead of time is checked with the store just before its
        time: removed, re-timed, replaced or paused meanwhile, it doesn't start
        (as it wouldn't have without prefetch).
        """
        wait = self.clock.until_past(claim.task.run_at)
        if wait <= 0:
            return True
        window = self._gate_window()
        if wait > self._gate_margin + window:
            await asyncio.sleep(wait - self._gate_margin - window)
            if not await self._confirm(claim, window):
                self._forget(claim)
                with contextlib.suppress(Exception):
                    await self._datastore.release_tasks([claim])
                self._emit("released", claim, reason="changed before its start")
                log.info(
                    "worker %s: task %r changed before it was due; not started",
                    self.worker_id,
                    claim.task_id,
                )
                return False
        await self._on_the_dot(claim.task.run_at)
        return True

    async def _on_the_dot(self, instant: datetime) -> None:
        """Return once the store's clock has surely reached ``instant``, not a millisecond later."""
        wait = self.clock.until_past(instant)
        if wait > _ON_THE_DOT:
            await asyncio.sleep(wait - _ON_THE_DOT)
        while self.clock.until_past(instant) > 0:  # noqa: ASYNC110 - a deliberate spin of <= 1.2 ms
            await asyncio.sleep(0)

    def _gate_window(self) -> float:
        return min(_GATE_WINDOW, self.options.prefetch.total_seconds() / 10)

    async def _confirm(self, claim: Claim, window: float) -> bool:
        """Batch the pre-start checks asked for within ``window`` seconds into one store call."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[bool] = loop.create_future()
        self._gate_pending.append((claim, future))
        if len(self._gate_pending) == 1:
            loop.call_later(window, lambda: asyncio.ensure_future(self._flush_gate()))
        return await future

    async def _flush_gate(self) -> None:
        batch, self._gate_pending = self._gate_pending, []
        began = time.monotonic()
        try:
            kept = await self._datastore.confirm_claims(
                [claim for claim, _ in batch], self.clock.now() + self.options.lease
            )
        except Exception as exc:
            # Can't check: the claims are still ours, so run them as we would have.
            log.debug("prefetch check failed (%s); starting the tasks anyway", exc)
            kept = {claim.task_id for claim, _ in batch}
        # Start the next checks early enough for the slowest of the recent ones, so
        # that a check answers before the task's time even when the store hiccups.
        self._gate_took.append(time.monotonic() - began)
        self._gate_margin = min(
            _GATE_MARGIN_MAX,
            max(_GATE_MARGIN_MIN, _GATE_HEADROOM * max(self._gate_took)),
            self.options.prefetch.total_seconds() / 2 or _GATE_MARGIN_MAX,
        )
        for claim, future in batch:
            if not future.done():
                future.set_result(claim.task_id in kept)

    def _thread_pool(self) -> concurrent.futures.ThreadPoolExecutor:
        if self._executor is None:
            self._executor = concurrent.futures.ThreadPoolExecutor(
                max_workers=min(32, self.options.max_concurrency),
                thread_name_prefix=f"taskshed-callback-{self.worker_id}",
            )
        return self._executor

    async def _set_aside(self, claim: Claim, unknown: bool) -> None:
        task = claim.task
        if unknown:
            log.error(
                "task %r names callback %r, which this worker does not have; the task stays "
                "stored and is offered again in %s",
                task.task_id,
                task.callback,
                SET_ASIDE_FOR,
            )
        else:
            log.error(
                "task %r: kwargs %s don't fit callback %r; the task stays stored and is offered "
                "again in %s",
                task.task_id,
                sorted(task.kwargs),
                task.callback,
                SET_ASIDE_FOR,
            )
        self._forget(claim)
        self._emit("set_aside", claim, reason="unknown callback" if unknown else "kwargs don't fit")
        try:
            await self._datastore.extend_leases([claim], self.clock.now() + SET_ASIDE_FOR)
        except Exception as exc:
            # The lease still expires by itself; the task is offered again then.
            log.warning("could not set task %r aside: %s", claim.task_id, exc)

    # ------------------------------------------------------------------ completing

    async def _linger(self) -> None:
        """Let a small batch of finished runs wait for company (see ``_COMPLETION_LINGER``).

        One wait per write, cut short (by :meth:`_finish`) when the batch
        grows large or a run finishes whose next run is nearer than the
        linger's end; never past ``_COMPLETION_LEAD`` before the earliest next
        run of a task already in the batch.
        """
        if len(self._to_complete) >= _COMPLETION_BATCH // 10 or self._stopping.is_set():
            return
        wait = _COMPLETION_LINGER
        for completion in self._to_complete:
            if completion.next_run_at is not None and completion.failed_at is None:
                wait = min(wait, self.clock.local(completion.next_run_at) - _COMPLETION_LEAD)
        if wait <= 0:
            return
        self._completions_urgent.clear()
        self._linger_until = asyncio.get_running_loop().time() + wait
        try:
            await asyncio.wait_for(self._completions_urgent.wait(), timeout=wait)
        except TimeoutError:
            pass
        finally:
            self._linger_until = 0.0

    async def _complete_loop(self) -> None:
        backoff = Backoff()
        while True:
            await self._completions_ready.wait()
            await self._linger()
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
                    if self._bus.active:
                        self._bus.emit(
                            StoreErrorEvent(self.worker_id, "complete", exc, self.clock.now())
                        )
                    await asyncio.sleep(delay)
            self._completions_drained.set()

    async def _complete(self, batch: list[Completion]) -> None:
        applied = await self._datastore.complete_tasks(batch)
        del self._to_complete[: len(batch)]
        held, moved = self._held, False
        with self._held_lock:
            for item in batch:
                held.pop((item.task_id, item.token), None)
                moved = moved or not item.removes
        if len(applied) < len(batch):
            for item in batch:
                if item.task_id not in applied:
                    log.warning(
                        "task %r: lease was lost before its outcome was recorded; "
                        "another worker or a change to the task took over",
                        item.task_id,
                    )
        if moved:
            # A task moved on (or a retry was set) and may be due sooner than planned;
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

    # ------------------------------------------------------------------ shutdown

    async def _stop_callbacks(self) -> None:
        if not self._running:
            return
        claim_of = dict(self._running.values())  # asyncio task -> its claim
        _, pending = await asyncio.wait(list(claim_of), timeout=self.shutdown_timeout)
        if not pending:
            return
        running = self._running
        cancelled = sorted(
            claim_of[task].task_id for task in pending if id(claim_of[task]) in running
        )
        log.info(
            "worker %s: shutdown timeout: cancelling %d running callback(s): %s",
            self.worker_id,
            len(cancelled),
            ", ".join(cancelled[:20]),
        )
        for task in pending:
            task.cancel()
        _, stuck = await asyncio.wait(pending, timeout=self.options.shutdown_grace.total_seconds())
        for task in stuck:
            claim = claim_of[task]
            if id(claim) not in running:
                continue
            log.error(
                "worker %s: callback %r of task %r ignored cancellation for %.1f s and is "
                "abandoned; its claim is no longer renewed and lapses after the lease",
                self.worker_id,
                claim.task.callback,
                claim.task_id,
                self.options.shutdown_grace.total_seconds(),
            )
            self._forget(claim)
            running.pop(id(claim), None)

    async def _release_unstarted(self) -> None:
        """Hand back what was claimed but not run (cancelled, or claimed while stopping)."""
        if not self._to_release:
            return
        releasing, self._to_release = self._to_release, []
        try:
            released = await self._datastore.release_tasks(releasing)
        except Exception as exc:
            log.warning(
                "worker %s: could not release %d unfinished task(s) at shutdown (%s); "
                "they are claimable again when their lease ends",
                self.worker_id,
                len(releasing),
                exc,
            )
        else:
            log.info(
                "worker %s: handed back %d task(s) for other workers: %s",
                self.worker_id,
                len(released),
                ", ".join(sorted(released)[:20]),
            )
            if self._notifier is not None and released:
                with contextlib.suppress(Exception):
                    await self._notifier.publish(Notice("released"))
            for claim in releasing:
                self._emit("released", claim, reason="shutdown")
        for claim in releasing:
            self._forget(claim)


@functools.cache
def _release() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("taskshed")
    except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return ""


async def _cancel_and_wait(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
