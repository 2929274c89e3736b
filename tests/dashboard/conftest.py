from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from taskshed.datastores.base import DataStore
from tests.dashboard.stores import UNIT_KINDS, StoreKind, drop_sql_databases, open_kind


@pytest.fixture(scope="session", autouse=True)
def _drop_dash_databases() -> Iterator[None]:
    yield from drop_sql_databases()


@pytest.fixture(params=UNIT_KINDS)
def kind(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreKind]:
    opened = open_kind(request.param, tmp_path)
    yield opened
    opened.close()


@pytest.fixture
async def store(kind: StoreKind) -> AsyncIterator[DataStore]:
    datastore = kind.make()
    await datastore.start()
    try:
        yield datastore
    finally:
        await datastore.shutdown()
