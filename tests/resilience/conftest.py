"""Fixtures of the resilience suite, and the pytest hooks that record what it tried.

``backend`` is parametrized over every store (memory, MariaDB, PostgreSQL,
SQLite, Redis); a store whose server is down or whose plugin isn't installed
is skipped (failed under ``TASKSHED_REQUIRE_SERVICES=1`` for servers).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.resilience.redis_server import OwnRedis
from tests.resilience.stores import KINDS, Backend, make_backend
from tests.resilience.tally import Recorder, Tally, tally_path

_TALLY = Tally()


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if "tests/resilience" in report.nodeid:
        _TALLY.set_outcome(report.nodeid, report.outcome)


def pytest_sessionfinish(session: pytest.Session) -> None:
    path = tally_path()
    if path is not None and _TALLY.outcomes:
        _TALLY.dump(path)


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
def own_redis(tmp_path: Path) -> Iterator[OwnRedis]:
    """A redis-server of this test's own (not started: the test decides when)."""
    server = OwnRedis(tmp_path / "own-redis")
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
async def loop_errors() -> AsyncIterator[list[dict]]:
    """What the event loop reports as unhandled ("Task exception was never retrieved")."""
    errors: list[dict] = []
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(lambda _loop, context: errors.append(context))
    yield errors
    loop.set_exception_handler(None)


@pytest.fixture
def taskshed_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG, logger="taskshed")
    caplog.set_level(logging.DEBUG, logger="taskshed_redis")
    caplog.set_level(logging.DEBUG, logger="taskshed_sqlalchemy")
    return caplog
