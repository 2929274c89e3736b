"""The SQL databases the tests in tests/sql use: one per server and test run, emptied per test.

MariaDB and PostgreSQL get a database of this run's own (see
:mod:`tests.support.names`), created on first use and dropped when the run
ends, so that other test runs on the same servers never share tables with
this one. SQLite gets a file in the test's temporary folder.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.support import sql
from tests.support.names import run_name
from tests.support.services import require_service
from tests.support.sql import drop_tables

__all__ = ["BACKENDS", "DATABASE", "database_url", "drop_created_databases", "drop_tables"]

DATABASE = run_name("sql")
BACKENDS = ("sqlite", "mariadb", "postgresql")
_created: set[tuple[str, str]] = set()


def database_url(backend: str, tmp_path: Path, name: str = DATABASE) -> str:
    """A URL of an existing, empty database on ``backend`` (skips/fails if the server is down)."""
    if backend == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'taskshed.db'}"
    require_service(backend)
    if (backend, name) not in _created:
        asyncio.run(sql.create_database(backend, name))
        _created.add((backend, name))
    url = sql.database_url(backend, name)
    asyncio.run(drop_tables(url))
    return url


def drop_created_databases() -> None:
    """Drop every database this run created (called once, when the run ends)."""
    for backend, name in sorted(_created):
        asyncio.run(sql.drop_database(backend, name))
    _created.clear()
