from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.sql.databases import database_url, drop_created_databases, drop_tables

BACKEND_PARAMS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("mariadb", id="mariadb", marks=pytest.mark.mariadb),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgresql),
]


@pytest.fixture(params=BACKEND_PARAMS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def sql_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """An empty database (no taskshed tables) on each SQL server in turn."""
    url = database_url(backend, tmp_path)
    yield url
    if backend != "sqlite":
        asyncio.run(drop_tables(url))


@pytest.fixture(scope="session", autouse=True)
def _drop_our_databases() -> Iterator[None]:
    yield
    drop_created_databases()
