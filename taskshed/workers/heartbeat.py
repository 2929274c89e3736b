"""The worker's heartbeat: leases, clock and registry kept alive off the callbacks' event loop.

A callback that blocks its event loop (a blocking library call, CPU work) must
not cost the worker its claims. So the heartbeat runs on a thread of its own,
with its own event loop and its own store connection (the store's
:meth:`~taskshed.datastores.base.DataStore.sibling`): every third of the
lease it renews the leases of everything the worker holds, re-measures the
offset to the store's clock and refreshes the worker's registry entry. It also
watches the main loop and names a callback that keeps it blocked.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import TYPE_CHECKING

from taskshed.datastores.base import DataStore
from taskshed.workers.backoff import Backoff

if TYPE_CHECKING:
    from taskshed.workers.base import BaseWorker

log = logging.getLogger("taskshed.workers")

#: How often the main loop reports that it is alive, in seconds.
TICK = 0.1


class LoopWatch:
    """Notices when the worker's event loop stops turning, and who is holding it."""

    def __init__(self, worker: BaseWorker, threshold: float) -> None:
        self._worker = worker
        self._threshold = threshold
        self._last_tick = time.monotonic()
        self._thread_id: int | None = None
        self._handle: asyncio.TimerHandle | None = None
        self._blocked_since: float | None = None

    def start(self) -> None:
        """Start ticking on the running loop (call from the worker's loop)."""
        self._thread_id = threading.get_ident()
        self._last_tick = time.monotonic()
        self._schedule()

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _schedule(self) -> None:
        self._handle = asyncio.get_running_loop().call_later(TICK, self._tick)

    def _tick(self) -> None:
        now = time.monotonic()
        if self._blocked_since is not None:
            log.warning(
                "worker %s: the event loop is turning again after %.1f s",
                self._worker.worker_id,
                now - self._blocked_since,
            )
            self._blocked_since = None
        self._last_tick = now
        self._schedule()

    def check(self) -> None:
        """Called from the heartbeat thread: report a loop blocked for longer than the threshold."""
        if self._thread_id is None or self._handle is None:
            return
        stalled = time.monotonic() - self._last_tick - TICK
        if stalled < self._threshold or self._blocked_since is not None:
            return
        self._blocked_since = self._last_tick + TICK
        frame = sys._current_frames().get(self._thread_id)
        culprit = self._worker.describe_blocker(frame)
        log.warning(
            "worker %s: the event loop has been blocked for %.1f s%s; leases are kept by the "
            "heartbeat, but nothing else on this loop runs meanwhile (do blocking work in a "
            "plain `def` callback, which runs in a thread, or in asyncio.to_thread)",
            self._worker.worker_id,
            stalled,
            culprit,
        )


class Heartbeat:
    """Renews leases, the clock offset and the registry entry every ``period`` seconds.

    With a sibling store it runs on its own thread and loop; without one it
    falls back to a task on the worker's loop (and says so once).
    """

    def __init__(
        self,
        worker: BaseWorker,
        store: DataStore | None,
        *,
        period: float,
        watch: LoopWatch,
    ) -> None:
        self._worker = worker
        self._sibling = store
        self._period = period
        self._watch = watch
        self._stop = threading.Event()
        self._release_on_stop = False
        self._thread: threading.Thread | None = None
        self._task: asyncio.Task[None] | None = None
        self._wake: Callable[[], object] = lambda: None

    @property
    def threaded(self) -> bool:
        return self._sibling is not None

    def start(self) -> None:
        if self._sibling is not None:
            self._thread = threading.Thread(
                target=self._run_thread,
                name=f"taskshed-heartbeat-{self._worker.worker_id}",
                daemon=True,
            )
            self._thread.start()
        else:
            log.warning(
                "worker %s: %r can't open a second connection (no sibling()); leases are renewed "
                "from the worker's own event loop, so a callback that blocks it for longer than "
                "the lease can lose its claim",
                self._worker.worker_id,
                self._worker.datastore,
            )
            self._task = asyncio.create_task(
                self._main(self._worker.datastore, owns_store=False),
                name=f"taskshed-heartbeat-{self._worker.worker_id}",
            )

    async def stop(self, *, release: bool = False, timeout: float = 10.0) -> None:
        """Stop beating; with ``release`` hand back every claim still held first."""
        self._release_on_stop = release
        self._stop.set()
        self._wake()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, timeout)
            if self._thread.is_alive():
                log.warning("worker %s: the heartbeat did not stop in time", self._worker.worker_id)
        elif self._task is not None:
            try:
                await asyncio.wait_for(self._task, timeout)
            except (TimeoutError, asyncio.CancelledError):
                pass

    def abort(self, timeout: float = 5.0) -> None:
        """From any thread (a signal handler): release every held claim now and stop."""
        self._release_on_stop = True
        self._stop.set()
        self._wake()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    # ------------------------------------------------------------------ the loop

    def _run_thread(self) -> None:
        assert self._sibling is not None
        try:
            asyncio.run(self._main(self._sibling, owns_store=True))
        except Exception:  # pragma: no cover - the loop below catches everything it can
            log.exception("worker %s: the heartbeat thread failed", self._worker.worker_id)

    async def _main(self, store: DataStore, *, owns_store: bool) -> None:
        loop = asyncio.get_running_loop()
        wake = asyncio.Event()

        def poke() -> None:
            with contextlib.suppress(RuntimeError):  # that loop has already closed
                loop.call_soon_threadsafe(wake.set)

        self._wake = poke
        backoff = Backoff(maximum=self._period)
        started = not owns_store
        try:
            while not self._stop.is_set():
                delay = self._period
                try:
                    if not started:
                        await store.start()
                        started = True
                    await self._beat(store)
                    backoff.reset()
                except Exception as exc:
                    delay = backoff.next_delay()
                    log.warning(
                        "worker %s: heartbeat failed (%s: %s); retrying in %.1f s",
                        self._worker.worker_id,
                        type(exc).__name__,
                        exc,
                        delay,
                    )
                await self._pause(wake, delay)
        finally:
            if started:
                await self._farewell(store)
                if owns_store:
                    try:
                        await store.shutdown()
                    except Exception as exc:
                        log.debug("closing the heartbeat's store failed: %s", exc)

    async def _pause(self, wake: asyncio.Event, seconds: float) -> None:
        """Wait ``seconds``, checking the main loop every quarter second; wake early on request."""
        deadline = time.monotonic() + seconds
        step = min(0.25, max(0.01, self._watch._threshold / 4))
        while not self._stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return
            wake.clear()
            try:
                await asyncio.wait_for(wake.wait(), min(step, left))
            except TimeoutError:
                pass
            if self.threaded:
                self._watch.check()

    async def _beat(self, store: DataStore) -> None:
        worker = self._worker
        await worker.clock.sync(store)
        held = worker.held_claims()
        if held:
            lease_until = worker.clock.now() + worker.options.lease
            kept = await store.extend_leases(held, lease_until)
            lost = [claim for claim in held if claim.task_id not in kept]
            if lost:
                worker.leases_lost(lost)
        await store.register_worker(worker.info())

    async def _farewell(self, store: DataStore) -> None:
        worker = self._worker
        if self._release_on_stop:
            held = worker.held_claims()
            if held:
                try:
                    released = await store.release_tasks(held)
                    log.warning(
                        "worker %s: released %d claim(s) at once: %s",
                        worker.worker_id,
                        len(released),
                        ", ".join(sorted(released)[:20]),
                    )
                except Exception as exc:
                    log.warning(
                        "worker %s: could not release %d claim(s) (%s); they are claimable "
                        "again when their lease ends",
                        worker.worker_id,
                        len(held),
                        exc,
                    )
        try:
            await store.remove_worker(worker.worker_id)
        except Exception as exc:
            log.debug("could not unregister worker %s: %s", worker.worker_id, exc)


def find_frame(frame: FrameType | None, codes: set[object]) -> FrameType | None:
    """The innermost frame of ``frame``'s stack running one of ``codes``."""
    while frame is not None:
        if frame.f_code in codes:
            return frame
        frame = frame.f_back
    return None
