from __future__ import annotations

from pathlib import Path

import pytest

from tests.services import MYSQL_URL, POSTGRESQL_URL, REDIS_URL, require_service


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
