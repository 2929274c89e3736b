from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.ops.stores import STORE_KINDS, OpsStore, clear, store_url

STORE_PARAMS = [
    pytest.param(
        kind,
        id=kind,
        marks=[getattr(pytest.mark, kind)] if kind in ("mariadb", "postgresql", "redis") else [],
    )
    for kind in STORE_KINDS
]


@pytest.fixture(params=STORE_PARAMS)
def ops_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[OpsStore]:
    """An empty, migrated store of each kind in turn."""
    url = store_url(request.param, tmp_path)
    yield OpsStore(request.param, url)
    asyncio.run(clear(url))


@pytest.fixture(scope="session", autouse=True)
def _drop_ops_databases() -> Iterator[None]:
    yield
    try:
        from tests.sql.databases import drop_created_databases
    except ImportError:  # the SQL plugin isn't installed
        return
    drop_created_databases()
