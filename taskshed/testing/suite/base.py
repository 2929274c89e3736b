"""The machinery under every conformance test: capability flags, the fixtures, the runner.

Tests are written as ``async def test_x(self, store)`` and decorated with
:func:`store_test`, which turns them into plain synchronous pytest tests that
run on their own event loop. So the suite needs no async pytest plugin in the
project that runs it, and works the same with or without pytest-asyncio.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta, timezone
from typing import Any, ClassVar, Protocol

import pytest

from taskshed.config import open_datastore
from taskshed.datastores.base import DataStore
from taskshed.models import Task

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
    ordinary pytest fixtures or parameters. The whole body is bounded by the
    suite attribute named ``timeout_attr`` (seconds).
    """

    def decorate(body: Callable[..., Awaitable[None]]) -> Callable[..., None]:
        params = list(inspect.signature(body).parameters.values())
        if [p.name for p in params[:2]] != ["self", "store"]:
            raise TypeError(f"{body.__name__} must take (self, store, ...)")

        def test(self: SuiteBase, **fixtures: Any) -> None:
            timeout = float(getattr(self, timeout_attr))
            asyncio.run(self._run_store_test(body, fixtures, timeout))

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
    #: Modules the worker processes register as plugins before opening the store
    #: (only needed when the store's plugin is not installed as an entry point).
    process_plugins: ClassVar[tuple[str, ...]] = ()
    #: Upper bound for one test's body, and for a multi-process test, seconds.
    test_timeout: ClassVar[float] = 30.0
    process_timeout: ClassVar[float] = 90.0
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
        """A factory of unstarted stores; by default ``taskshed.open_datastore(datastore_url)``."""

        def make(serializer: str | None = None) -> DataStore:
            return open_datastore(datastore_url, serializer=serializer or "json")

        return make

    # ------------------------------------------------------------------ never override

    @pytest.fixture(autouse=True)
    def _taskshed_conformance(self, make_datastore: DataStoreFactory) -> None:
        self._factory = make_datastore
        self._opened = []

    async def _run_store_test(
        self, body: Callable[..., Awaitable[None]], fixtures: dict[str, Any], timeout: float
    ) -> None:
        store = await self.open_store()
        try:
            await store.remove_all_tasks()
            await asyncio.wait_for(body(self, store, **fixtures), timeout)
        finally:
            try:
                await store.remove_all_tasks()
            finally:
                for opened in reversed(self._opened):
                    await opened.shutdown()

    async def open_store(self, serializer: str | None = None) -> DataStore:
        """Open and start another store on the URL under test (shut down after the test)."""
        store = self._factory(serializer)
        await store.start()
        self._opened.append(store)
        return store

    # ------------------------------------------------------------------ helpers for tests

    def task(
        self, task_id: str, run_at: datetime = T0, *, callback: str = CALLBACK, **fields: Any
    ) -> Task:
        """A task for store-level tests (nothing runs it)."""
        return Task(task_id=task_id, run_at=run_at, callback=callback, **fields)

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
        assert actual.task_id == tid
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

    async def fetch_one(self, store: DataStore, task_id: str) -> Task:
        found = await store.fetch_tasks([task_id])
        assert [t.task_id for t in found] == [task_id], f"task {task_id!r} is not stored"
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
