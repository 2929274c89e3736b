"""Running one callback: on the loop or in a thread, under a timeout, with its outcome classified."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import functools
import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

from taskshed.errors import Abort, Retry, TaskTimeoutError
from taskshed.models import Task

Callback: TypeAlias = Callable[..., Awaitable[Any]] | Callable[..., Any]

OutcomeKind = Literal["succeeded", "failed", "timed_out", "retry", "abort"]


@dataclass(frozen=True, slots=True)
class Outcome:
    """How a callback ended. ``error`` for everything but success; ``delay`` from ``Retry``."""

    kind: OutcomeKind
    error: BaseException | None = None
    delay: float | None = None


def is_async(callback: Callback) -> bool:
    """Whether calling ``callback`` returns a coroutine to await (async def, or such a __call__)."""
    if inspect.iscoroutinefunction(callback):
        return True
    call = getattr(callback, "__call__", None)  # noqa: B004 - a callable object's method
    return call is not None and inspect.iscoroutinefunction(call)


@dataclass(frozen=True, slots=True)
class _Shape:
    """Which keyword arguments a callback takes, read off its signature once."""

    names: frozenset[str]
    required: frozenset[str]
    any_keyword: bool
    unbindable: bool  # a required positional-only parameter: no kwargs can fill it

    @classmethod
    def of(cls, signature: inspect.Signature) -> _Shape:
        names, required = set(), set()
        any_keyword = unbindable = False
        for param in signature.parameters.values():
            if param.kind is param.VAR_KEYWORD:
                any_keyword = True
            elif param.kind is param.POSITIONAL_ONLY:
                unbindable |= param.default is param.empty
            elif param.kind is not param.VAR_POSITIONAL:
                names.add(param.name)
                if param.default is param.empty:
                    required.add(param.name)
        return cls(frozenset(names), frozenset(required), any_keyword, unbindable)

    def fits(self, kwargs: dict[str, Any]) -> bool:
        if self.unbindable or not self.required.issubset(kwargs):
            return False
        return self.any_keyword or self.names.issuperset(kwargs)


@dataclass(frozen=True, slots=True)
class CallbackInfo:
    """What a worker needs to know about one callback before each run."""

    callback: Callback
    shape: _Shape | None  # None: the signature can't be read (a builtin); the call decides
    is_async: bool

    def accepts(self, kwargs: dict[str, Any]) -> bool:
        """Whether ``callback(**kwargs)`` binds (when its signature can be read)."""
        return self.shape is None or self.shape.fits(kwargs)


class Signatures:
    """What each callback accepts and whether it is async, read once per callback.

    ``inspect.signature`` is slow, and even ``inspect.iscoroutinefunction``
    costs a few microseconds: in a burst of no-op callbacks that is a share
    of every run worth keeping.
    """

    def __init__(self) -> None:
        self._known: dict[int, CallbackInfo] = {}

    def of(self, callback: Callback) -> CallbackInfo:
        """The :class:`CallbackInfo` of ``callback``, read on first use."""
        known = self._known.get(id(callback))
        if known is None or known.callback is not callback:
            try:
                shape: _Shape | None = _Shape.of(inspect.signature(callback))
            except (TypeError, ValueError):
                shape = None
            known = self._known[id(callback)] = CallbackInfo(callback, shape, is_async(callback))
        return known


#: How every successful run ends (one shared, immutable instance).
SUCCEEDED = Outcome("succeeded")


async def run_callback(
    callback: Callback,
    task: Task,
    *,
    timeout: float | None,
    executor: concurrent.futures.Executor | None,
    awaitable: bool | None = None,
) -> Outcome:
    """Run ``callback(**task.kwargs)`` and say how it went.

    A coroutine function runs on this loop; a plain function runs in
    ``executor`` (it must not block the loop), and if it returns an awaitable
    that is awaited here (``executor`` may be ``None`` only for a coroutine
    function). ``timeout`` cancels the run (a thread can't be
    stopped: it is left to finish, and its result ignored).

    ``CancelledError`` is re-raised only when this task itself is being
    cancelled (shutdown); a callback that raises ``CancelledError`` of its own
    (it awaited something that was cancelled) has simply failed.
    ``awaitable``: whether ``callback`` is async, when the caller already knows.
    """
    deadline = asyncio.timeout(timeout) if timeout is not None else None
    if awaitable is None:
        awaitable = is_async(callback)
    try:
        # An async callback is awaited as it is: no coroutine of ours around it.
        pending = (
            callback(**task.kwargs)
            if awaitable
            else _call_in_thread(callback, task.kwargs, _required(executor))
        )
        if deadline is None:
            await pending
        else:
            async with deadline:
                await pending
    except BaseException as exc:
        return outcome_of(exc, deadline, timeout)
    return SUCCEEDED


def outcome_of(
    exc: BaseException, deadline: asyncio.Timeout | None = None, timeout: float | None = None
) -> Outcome:
    """How a run that raised ``exc`` ended (call it in the ``except`` block).

    Re-raises what is not the callback's own doing: ``CancelledError`` while
    the current task itself is being cancelled (shutdown), and base exceptions
    such as ``KeyboardInterrupt``. ``deadline``/``timeout``: the run's
    ``asyncio.timeout`` and its seconds, if it had one.
    """
    if isinstance(exc, asyncio.CancelledError):
        current = asyncio.current_task()
        if current is not None and current.cancelling():
            raise exc
        return Outcome("failed", exc)
    if isinstance(exc, TimeoutError):
        if deadline is not None and deadline.expired():
            return Outcome(
                "timed_out",
                TaskTimeoutError(f"the callback ran longer than its {timeout:g} s timeout"),
            )
        return Outcome("failed", exc)
    if isinstance(exc, Retry):
        return Outcome("retry", exc, exc.delay)
    if isinstance(exc, Abort):
        return Outcome("abort", exc)
    if isinstance(exc, Exception):
        return Outcome("failed", exc)
    raise exc


def _required(executor: concurrent.futures.Executor | None) -> concurrent.futures.Executor:
    if executor is None:
        raise TypeError("a plain function callback needs an executor to run in")
    return executor


async def _call_in_thread(
    callback: Callback, kwargs: dict[str, Any], executor: concurrent.futures.Executor
) -> None:
    loop = asyncio.get_running_loop()
    context = contextvars.copy_context()
    result = await loop.run_in_executor(
        executor, functools.partial(context.run, callback, **kwargs)
    )
    if inspect.isawaitable(result):
        await result


def describe_error(error: BaseException) -> str:
    """``Type: message`` — what is kept as a task's ``last_error``."""
    message = str(error)
    name = type(error).__name__
    return f"{name}: {message}" if message else name
