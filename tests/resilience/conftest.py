"""Fixtures of the resilience suite, and the pytest hooks that record what it tried.

``backend`` is parametrized over every store (memory, MariaDB, PostgreSQL,
SQLite, Redis); a store whose server is down or whose plugin isn't installed
is skipped locally and fails under ``TASKSHED_REQUIRE_SERVICES=1``. The
databases and logins the suite creates are the run's own and are dropped
when the run ends.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.resilience.stores import KINDS, Backend, drop_prepared, make_backend
from tests.resilience.tally import Recorder, Tally, tally_path
from tests.support.redis_server import RedisServer

_TALLY = Tally()


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if "tests/resilience" in report.nodeid:
        _TALLY.set_outcome(report.nodeid, report.outcome)


def pytest_sessionfinish(session: pytest.Session) -> None:
    path = tally_path()
    if path is not None and _TALLY.outcomes:
        _TALLY.dump(path)


@pytest.fixture(scope="session", autouse=True)
def _drop_our_databases() -> Iterator[None]:
    yield
    asyncio.run(drop_prepared())


@pytest.fixture
def tally(request: pytest.FixtureRequest) -> Recorder:
    store = "-"
    callspec = getattr(request.node, "callspec", None)
    if callspec is not None:
        store = str(callspec.params.get("kind", callspec.params.get("backend", "-")))
    return _TALLY.recorder(request.node.nodeid, store)


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def backend(kind: str, tmp_path: Path) -> AsyncIterator[Backend]:
    made = await make_backend(kind, tmp_path)
    try:
        yield made
    finally:
        try:
            await made.wipe()
        finally:
            await made.close()


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of this test's own (not started: the test decides when)."""
    server = RedisServer(tmp_path / "own-redis")
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def taskshed_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG, logger="taskshed")
    caplog.set_level(logging.DEBUG, logger="taskshed_redis")
    caplog.set_level(logging.DEBUG, logger="taskshed_sqlalchemy")
    return caplog
