"""Run one test's coroutine under a watchdog that fails it, with every stack, when it hangs.

``asyncio.wait_for`` can only cancel a coroutine that gets back to its event
loop. A store that blocks the loop, or sits in a thread (a synchronous driver
under ``asyncio.to_thread``), never does; worse, ``asyncio.run`` then waits
for that thread when it closes, and the interpreter waits for it on exit.

So the test's event loop runs in a daemon thread of its own, with a default
executor of daemon threads, while the calling thread waits with a deadline.
Past it, the stacks of every thread and of every asyncio task are taken, the
test's main task is cancelled (its clean-up gets a few more seconds), and the
test fails with those stacks. A thread that never returns is left behind and
can't keep the process from exiting.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import sys
import threading
import traceback
from collections.abc import Callable, Coroutine
from types import FrameType
from typing import Any

import pytest


class DaemonThreadExecutor(concurrent.futures.ThreadPoolExecutor):
    """Runs each call on a new daemon thread: a call that never returns strands only itself.

    A ``ThreadPoolExecutor`` subclass because asyncio accepts no other kind
    as a loop's default executor; none of the pool's own machinery is used.
    """

    def __init__(self, name: str = "taskshed-suite-executor") -> None:
        super().__init__(max_workers=1, thread_name_prefix=name)
        self._name = name

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()

        def call() -> None:
            if not future.set_running_or_notify_cancel():
                return
            try:
                result = fn(*args, **kwargs)
            except BaseException as exc:
                future.set_exception(exc)
            else:
                future.set_result(result)

        threading.Thread(target=call, name=self._name, daemon=True).start()
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        # Never wait: the calls still running are exactly the ones that hang.
        super().shutdown(wait=False, cancel_futures=cancel_futures)


class _LoopThread:
    """One test's event loop, run to completion in a daemon thread."""

    def __init__(self, make_main: Callable[[], Coroutine[Any, Any, None]], name: str) -> None:
        self._make_main = make_main
        self.loop: asyncio.AbstractEventLoop | None = None
        self.task: asyncio.Task[None] | None = None
        self.error: BaseException | None = None
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        loop.set_default_executor(DaemonThreadExecutor())
        self.loop = loop
        try:
            asyncio.set_event_loop(loop)
            self.task = loop.create_task(self._make_main())
            self.ready.set()
            loop.run_until_complete(self.task)
        except BaseException as exc:  # pytest's skip/fail outcomes are BaseExceptions too
            self.error = exc
        finally:
            self.ready.set()
            try:
                _cancel_leftovers(loop)
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.run_until_complete(loop.shutdown_default_executor())
            finally:
                asyncio.set_event_loop(None)
                loop.close()

    def cancel(self) -> None:
        loop, task = self.loop, self.task
        if loop is not None and task is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(task.cancel)
            except RuntimeError:  # closed meanwhile
                pass


def _cancel_leftovers(loop: asyncio.AbstractEventLoop) -> None:
    leftovers = [task for task in asyncio.all_tasks(loop) if not task.done()]
    for task in leftovers:
        task.cancel()
    if leftovers:
        loop.run_until_complete(asyncio.gather(*leftovers, return_exceptions=True))


def run_watched(
    make_main: Callable[[], Coroutine[Any, Any, None]],
    *,
    timeout: float,
    cleanup_timeout: float,
    what: str,
) -> None:
    """Run ``make_main()`` on a fresh event loop; fail the test if it takes over ``timeout`` s.

    Exceptions (pytest's outcomes included) are re-raised here, in the
    caller's thread. On a timeout the test fails with the stack of every
    thread and asyncio task, taken at the deadline; the main task is then
    cancelled and given ``cleanup_timeout`` s to clean up.
    """
    runner = _LoopThread(make_main, name=f"taskshed-suite-loop[{what}]")
    runner.thread.start()
    try:
        runner.thread.join(timeout)
    except BaseException:  # Ctrl-C: stop the test's loop too
        runner.cancel()
        runner.thread.join(cleanup_timeout)
        raise
    if runner.thread.is_alive():
        stacks = dump_stacks(runner)
        runner.cancel()
        runner.thread.join(cleanup_timeout)
        left = (
            f" Its clean-up did not finish within {cleanup_timeout:g} s either; the "
            "stuck thread is abandoned (it can't keep the test run from exiting)."
            if runner.thread.is_alive()
            else ""
        )
        pytest.fail(
            f"{what} did not finish within {timeout:g} s: the store (or the test) hung.{left}\n"
            f"Stacks at the deadline:\n{stacks}",
            pytrace=False,
        )
    if runner.error is not None:
        raise runner.error


def dump_stacks(runner: _LoopThread | None = None) -> str:
    """Every other thread's stack, and the stacks of the asyncio tasks of ``runner``'s loop."""
    parts: list[str] = []
    names = {thread.ident: thread.name for thread in threading.enumerate()}
    me = threading.get_ident()
    for ident, frame in sys._current_frames().items():
        if ident == me:
            continue
        stack = "".join(traceback.format_stack(frame))
        parts.append(f"--- thread {names.get(ident, ident)!s}:\n{stack}")
    if runner is not None and runner.loop is not None:
        parts.extend(_task_stacks(runner.loop))
    return "\n".join(parts)


def _task_stacks(loop: asyncio.AbstractEventLoop) -> list[str]:
    # Read from another thread while the loop may run: retry if the set changes under us.
    for _ in range(3):
        try:
            tasks = list(asyncio.all_tasks(loop))
            break
        except RuntimeError:
            continue
    else:
        return []
    parts = []
    for task in tasks:
        frames = _await_chain(task.get_coro())
        if frames:
            summary = traceback.StackSummary.extract((f, f.f_lineno) for f in frames)
            parts.append(f"--- asyncio task {task.get_name()}:\n{''.join(summary.format())}")
    return parts


def _await_chain(coro: Any) -> list[FrameType]:
    """The frames of a suspended coroutine and of everything it awaits, outermost first."""
    frames = []
    while coro is not None:
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None)
        if frame is not None:
            frames.append(frame)
        coro = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None)
    return frames
