from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from taskshed.logs import RUN_LOGGER
from taskshed.testing.timezones import local_timezone
from tests.support.services import MYSQL_URL, POSTGRESQL_URL, REDIS_URL, require_service

#: Tests that keep both cores of a CI box busy for many seconds (thousands of tasks over
#: four processes, wheels and venvs, the benchmark runner, a suite run in a subprocess).
#: Under pytest-xdist (``./dev.sh test``) they run one at a time, on one worker, while the
#: other workers run everything else (mostly waiting on servers and timers).
CPU_BOUND = (
    "tests/benchmarks/",
    "tests/conformance/test_broken_store.py",
    "tests/packaging/",
    "tests/resilience/test_load.py",
    "tests/sql/test_processes.py",
    "tests/sql/test_wheels.py",
)


def pytest_itemcollected(item: pytest.Item) -> None:
    # At collection, before pytest-xdist reads the xdist_group marks.
    if item.nodeid.startswith(CPU_BOUND):
        item.add_marker(pytest.mark.xdist_group("cpu-bound"))


@pytest.fixture(autouse=True)
def logging_restored() -> Iterator[None]:
    """Undo what a test's `taskshed ...` run did to logging (configure_logging).

    The CLI replaces the root handlers (with one on a stream pytest closes after
    that test) and raises the levels of chatty loggers such as ``alembic``; left
    so, a later test in the same process loses the records it looks for.
    """
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    named = {name: logging.getLogger(name).level for name in ("alembic", "asyncmy", RUN_LOGGER)}
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, old in named.items():
        logging.getLogger(name).setLevel(old)


@pytest.fixture
def mysql_url() -> str:
    require_service("mariadb")
    return MYSQL_URL


@pytest.fixture
def postgresql_url() -> str:
    require_service("postgresql")
    return POSTGRESQL_URL


@pytest.fixture
def redis_url() -> str:
    require_service("redis")
    return REDIS_URL


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'taskshed.db'}"


@pytest.fixture
def far_from_utc() -> Iterator[None]:
    """The test runs with a local zone far from UTC, so naive-as-UTC can't pass unnoticed."""
    with local_timezone():
        yield


@pytest.fixture
async def loop_errors() -> AsyncIterator[list[dict]]:
    """What the event loop reports as unhandled ("Task exception was never retrieved")."""
    errors: list[dict] = []
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(lambda _loop, context: errors.append(context))
    yield errors
    loop.set_exception_handler(None)
