"""The stores the dashboard tests run on, each opened through the datastore contract only.

A :class:`StoreKind` makes any number of store objects on the same data (the
server's, and a probe the test checks with), so a browser test can look at
the store from outside the dashboard's event loop.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from taskshed.config import open_datastore
from taskshed.datastores.base import DataStore
from taskshed.datastores.memory import InMemoryDataStore
from tests.support.services import REDIS_URL, require_service

#: Every SQL database these tests create has "dash" in its name (one per run).
SQL_DATABASE = f"taskshed_dash_{os.getpid()}"

ALL_KINDS = [
    pytest.param("memory", id="memory"),
    pytest.param("sqlite", id="sqlite"),
    pytest.param("mariadb", id="mariadb", marks=pytest.mark.mariadb),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgresql),
    pytest.param("redis", id="redis", marks=pytest.mark.redis),
]
#: The HTTP-level tests: an in-process store and an embedded SQL one.
UNIT_KINDS = ALL_KINDS[:2]


@dataclass
class StoreKind:
    """How to open stores of one kind on one shared set of data."""

    name: str
    make: Callable[[], DataStore]
    url: str | None = None
    cleanups: list[Callable[[], None]] = field(default_factory=list)

    def close(self) -> None:
        for cleanup in reversed(self.cleanups):
            cleanup()


def open_kind(name: str, tmp_path: Path) -> StoreKind:
    if name == "memory":
        shared = InMemoryDataStore()
        return StoreKind(name, shared.sibling)
    if name == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'dash.db'}"
        return StoreKind(name, lambda: open_datastore(url), url)
    if name in ("mariadb", "postgresql"):
        from taskshed_sqlalchemy.store import SQLAlchemyDataStore

        from tests.sql.databases import database_url, drop_tables

        url = database_url(name, tmp_path, SQL_DATABASE)
        kind = StoreKind(name, lambda: SQLAlchemyDataStore(url, create_schema=True), url)
        kind.cleanups.append(lambda: asyncio.run(drop_tables(url)))
        return kind
    if name == "redis":
        require_service("redis")
        prefix = f"dash-{uuid.uuid4().hex[:12]}"
        url = f"{REDIS_URL}{'&' if '?' in REDIS_URL else '?'}prefix={prefix}"
        kind = StoreKind(name, lambda: open_datastore(url), url)
        kind.cleanups.append(lambda: asyncio.run(_delete_redis_keys(prefix)))
        return kind
    raise ValueError(name)


async def _delete_redis_keys(prefix: str) -> None:
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        keys = [key async for key in client.scan_iter(match=f"*{prefix}*", count=1000)]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


def drop_sql_databases() -> Iterator[None]:
    """A session fixture body: drop the databases this run created, at its end."""
    yield
    from tests.sql.databases import drop_created_databases

    drop_created_databases()
