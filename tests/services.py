"""The real servers the tests talk to, and what to do when one is missing.

Locally a missing server skips the tests that need it; in CI
(``TASKSHED_REQUIRE_SERVICES=1``) it fails them.
"""

from __future__ import annotations

import os
import socket

import pytest

MYSQL_URL = os.environ.get("TASKSHED_TEST_MYSQL_URL", "mysql+asyncmy://root@127.0.0.1:3306/test")
POSTGRESQL_URL = os.environ.get(
    "TASKSHED_TEST_POSTGRESQL_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("TASKSHED_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")

_PORTS = {
    "mariadb": ("127.0.0.1", 3306),
    "postgresql": ("127.0.0.1", 5432),
    "redis": ("127.0.0.1", 6379),
}


def services_required() -> bool:
    return os.environ.get("TASKSHED_REQUIRE_SERVICES", "") in {"1", "true", "yes"}


def require_service(name: str) -> None:
    """Fail (CI) or skip (locally) the calling test when server ``name`` is unreachable."""
    host, port = _PORTS[name]
    try:
        with socket.create_connection((host, port), timeout=2):
            return
    except OSError as exc:
        message = f"{name} is not reachable on {host}:{port}: {exc}"
        if services_required():
            pytest.fail(message + " (TASKSHED_REQUIRE_SERVICES=1)", pytrace=False)
        pytest.skip(message)
