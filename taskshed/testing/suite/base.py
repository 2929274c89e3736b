"""The machinery under every conformance test: capability flags, the fixtures, the runner.

Tests are written as ``async def test_x(self, store)`` and decorated with
:func:`store_test`, which turns them into plain synchronous pytest tests that
run on their own event loop. So the suite needs no async pytest plugin in the
project that runs it, and works the same with or without pytest-asyncio.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from typing import Any, ClassVar, Protocol

import pytest

from taskshed.config import open_datastore
from taskshed.datastores.base import DataStore
from taskshed.models import Task
from taskshed.testing.watchdog import run_watched

#: A fixed instant in the future: every store-level test passes its own ``now``
#: around it, so a store that consults the real clock instead fails loudly.
T0 = datetime(2040, 1, 1, 12, 0, tzinfo=timezone.utc)
SECOND = timedelta(seconds=1)
MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)

#: The callback name of tasks the store-level tests create (no worker runs them).
CALLBACK = "conformance_callback"


class DataStoreFactory(Protocol):
    """Builds a new, *unstarted* store on the URL under test, using ``serializer``."""

    def __call__(self, serializer: str | None = None) -> DataStore: ...


def store_test(
    fn: Callable[..., Awaitable[None]] | None = None, *, timeout_attr: str = "test_timeout"
) -> Any:
    """Make ``async def test_x(self, store, **fixtures)`` a synchronous pytest test.

    The test gets a fresh, started store that holds no task; every store the
    test opened is emptied and shut down afterwards. Other parameters are
    ordinary pytest fixtures or parameters. The whole test is bounded by the
    suite attribute named ``timeout_attr`` (seconds) and watched from another
    thread (:mod:`taskshed.testing.watchdog`): a store that hangs, even one
    blocked in a thread where no cancellation reaches it, fails its test with
    the stacks of every thread and task instead of hanging the run.
    """

    def decorate(body: Callable[..., Awaitable[None]]) -> Callable[..., None]:
        params = list(inspect.signature(body).parameters.values())
        if [p.name for p in params[:2]] != ["self", "store"]:
            raise TypeError(f"{body.__name__} must take (self, store, ...)")

        def test(self: SuiteBase, **fixtures: Any) -> None:
            run_watched(
                lambda: self._run_store_test(body, fixtures),
                timeout=float(getattr(self, timeout_attr)),
                cleanup_timeout=float(self.cleanup_timeout),
                what=f"{type(self).__name__}.{body.__name__}",
            )

        test.__signature__ = inspect.Signature([params[0], *params[2:]])  # type: ignore[attr-defined]
        test.__name__ = body.__name__
        test.__qualname__ = body.__qualname__
        test.__doc__ = body.__doc__
        test.__module__ = body.__module__
        marks = getattr(body, "pytestmark", None)
        if marks:
            test.pytestmark = marks  # type: ignore[attr-defined]
        return test

    return decorate(fn) if fn is not None else decorate


class SuiteBase:
    """Fixtures and capability flags shared by every part of :class:`DataStoreSuite`.

    Override :meth:`datastore_url` (or, for a store not reachable by URL,
    :meth:`make_datastore`); set the flags below for what the store can't do.
    """

    #: Two store objects opened on the same URL see the same tasks.
    shared_between_instances: ClassVar[bool] = True
    #: Workers in separate processes can share the store (the multi-process tests
    #: need :meth:`datastore_url` and the store's plugin installed as an entry point).
    supports_multiple_processes: ClassVar[bool] = True
    #: Tasks survive ``shutdown()`` and are seen by a store opened afterwards.
    persistent: ClassVar[bool] = True
    #: The finest time step the store keeps: stored times must come back
    #: within this of what was written.
    time_resolution: ClassVar[timedelta] = timedelta(microseconds=1)
    #: Serializers whose round trips are checked.
    serializers: ClassVar[tuple[str, ...]] = ("json", "json-rich")
    #: The serializer the store under test is opened with. ``None``: the
    #: ``--taskshed-serializer`` pytest option if given, else ``json``.
    serializer: ClassVar[str | None] = None
    #: Modules the worker processes register as plugins before opening the store
    #: (only needed when the store's plugin is not installed as an entry point).
    process_plugins: ClassVar[tuple[str, ...]] = ()
    #: Upper bound for one test (opening the store, the body, emptying it), and
    #: for a multi-process test, seconds. Past it the test fails with every stack.
    test_timeout: ClassVar[float] = 30.0
    process_timeout: ClassVar[float] = 90.0
    #: How long a test that timed out gets to clean up once cancelled, seconds.
    cleanup_timeout: ClassVar[float] = 5.0
    #: How long worker-level tests wait for a condition before failing, seconds.
    wait_timeout: ClassVar[float] = 10.0

    _opened: list[DataStore]
    _factory: DataStoreFactory

    # ------------------------------------------------------------------ fixtures to override

    @pytest.fixture
    def datastore_url(self) -> str:
        """The URL of the store under test. Override this fixture."""
        raise NotImplementedError(
            f"{type(self).__name__} must override the 'datastore_url' fixture "
            "(or 'make_datastore') to say which store to test"
        )

    @pytest.fixture
    def make_datastore(self, datastore_url: str) -> DataStoreFactory:
        """A factory of unstarted stores; by default ``taskshed.open_datastore(datastore_url)``.

        The suite always passes the serializer's name (:attr:`suite_serializer`
        unless a test asks for another).
        """

        def make(serializer: str | None = None) -> DataStore:
            return open_datastore(datastore_url, serializer=serializer or "json")

        return make

    # ------------------------------------------------------------------ never override

    @pytest.fixture(autouse=True)
    def _taskshed_conformance(
        self, make_datastore: DataStoreFactory, request: pytest.FixtureRequest
    ) -> None:
        self._factory = make_datastore
        self._opened = []
        #: The serializer stores are opened with: the class's, the command line's, or json.
        self.suite_serializer: str = (
            self.serializer or request.config.getoption("taskshed_serializer", None) or "json"
        )

    async def _run_store_test(
        self, body: Callable[..., Awaitable[None]], fixtures: dict[str, Any]
    ) -> None:
        store = await self.open_store()
        try:
            await store.remove_all_tasks()
            await body(self, store, **fixtures)
        finally:
            try:
                await store.remove_all_tasks()
            finally:
                for opened in reversed(self._opened):
                    await opened.shutdown()

    async def open_store(self, serializer: str | None = None) -> DataStore:
        """Open and start another store on the URL under test (shut down after the test).

        ``serializer`` defaults to :attr:`suite_serializer`.
        """
        store = self._factory(serializer or self.suite_serializer)
        await store.start()
        self._opened.append(store)
        return store

    # ------------------------------------------------------------------ helpers for tests

    def task(
        self,
        task_id: str,
        run_at: datetime | None = T0,
        *,
        callback: str = CALLBACK,
        **fields: Any,
    ) -> Task:
        """A task for store-level tests (nothing runs it); ``run_at=None``: now, or the next cron fire."""
        return Task(task_id=task_id, run_at=run_at, callback=callback, **fields)  # type: ignore[arg-type]

    def assert_same_instant(self, actual: datetime | None, expected: datetime, what: str) -> None:
        assert actual is not None, f"{what}: got None, expected {expected.isoformat()}"
        assert actual.tzinfo is not None, f"{what}: the store returned a naive datetime"
        delta = abs(actual - expected)
        assert delta < self.time_resolution, (
            f"{what}: stored {actual.isoformat()} but wrote {expected.isoformat()} "
            f"(off by {delta}, resolution {self.time_resolution})"
        )

    def assert_same_task(self, actual: Task, expected: Task) -> None:
        """Every field equal; times equal at the store's resolution."""
        tid = expected.task_id
        assert actual.task_id == tid, f"asked for task {tid!r}, got task {actual.task_id!r}"
        for name in ("callback", "run_type", "kwargs", "group_id", "paused", "coalesce"):
            got, want = getattr(actual, name), getattr(expected, name)
            assert got == want, f"task {tid!r}: {name} is {got!r}, expected {want!r}"
        self.assert_same_instant(actual.run_at, expected.run_at, f"task {tid!r} run_at")
        if expected.interval is None:
            assert actual.interval is None, f"task {tid!r}: interval {actual.interval}"
        else:
            assert actual.interval is not None, f"task {tid!r}: interval lost"
            assert abs(actual.interval - expected.interval) < self.time_resolution, (
                f"task {tid!r}: interval {actual.interval}, expected {expected.interval}"
            )
        if expected.paused_at is None:
            assert actual.paused_at is None, f"task {tid!r}: paused_at {actual.paused_at}"
        else:
            self.assert_same_instant(
                actual.paused_at, expected.paused_at, f"task {tid!r} paused_at"
            )

    @staticmethod
    @contextmanager
    def raises(
        error: type[BaseException] | tuple[type[BaseException], ...], promise: str
    ) -> Iterator[pytest.ExceptionInfo[Any]]:
        """``pytest.raises``, failing with the ``promise`` that was broken if nothing is raised."""
        try:
            with pytest.raises(error) as caught:
                yield caught
        except pytest.fail.Exception as exc:
            if "DID NOT RAISE" not in str(exc):
                raise
            names = " or ".join(
                e.__name__ for e in (error if isinstance(error, tuple) else (error,))
            )
            pytest.fail(f"{promise}: nothing was raised (expected {names})", pytrace=False)

    async def fetch_one(self, store: DataStore, task_id: str) -> Task:
        found = await store.fetch_tasks([task_id])
        assert [t.task_id for t in found] == [task_id], (
            f"task {task_id!r} should be stored; fetch_tasks([{task_id!r}]) returned "
            f"{[t.task_id for t in found]}"
        )
        return found[0]

    async def stored_ids(self, store: DataStore, *task_ids: str) -> set[str]:
        return {task.task_id for task in await store.fetch_tasks(task_ids)}

    async def wait_until(
        self, condition: Callable[[], Awaitable[bool]], what: str, timeout: float | None = None
    ) -> None:
        """Poll ``condition`` until it holds; fail after ``timeout`` (default ``wait_timeout``)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (timeout if timeout is not None else self.wait_timeout)
        while not await condition():
            if loop.time() >= deadline:
                pytest.fail(f"timed out waiting until {what}")
            await asyncio.sleep(0.01)

    async def clock_past(self, instant: datetime) -> None:
        """Wait until the real clock is more than the store's resolution past ``instant``."""
        target = instant + 2 * self.time_resolution + timedelta(milliseconds=1)
        await asyncio.sleep(max(0.0, (target - datetime.now(timezone.utc)).total_seconds()))
