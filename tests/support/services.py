"""The real servers and tools the tests use, and what happens when one is missing.

Locally a missing server, tool or plugin skips the tests that need it; in CI
(``TASKSHED_REQUIRE_SERVICES=1``) it fails them, so a green CI run never hides
a test that did not run.
"""

from __future__ import annotations

import importlib
import os
import shutil
import socket
from pathlib import Path
from types import ModuleType
from typing import NoReturn

import pytest

from taskshed.urls import URL

MYSQL_URL = os.environ.get("TASKSHED_TEST_MYSQL_URL", "mysql+asyncmy://root@127.0.0.1:3306/test")
POSTGRESQL_URL = os.environ.get(
    "TASKSHED_TEST_POSTGRESQL_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("TASKSHED_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")

SERVICE_URLS = {"mariadb": MYSQL_URL, "postgresql": POSTGRESQL_URL, "redis": REDIS_URL}
_DEFAULT_PORTS = {"mariadb": 3306, "postgresql": 5432, "redis": 6379}


def services_required() -> bool:
    return os.environ.get("TASKSHED_REQUIRE_SERVICES", "") in {"1", "true", "yes"}


def missing(message: str) -> NoReturn:
    """Fail (CI) or skip (locally) the calling test because something it needs is missing.

    Called at a module's top level it fails or skips the whole module.
    """
    if services_required():
        pytest.fail(message + " (TASKSHED_REQUIRE_SERVICES=1)", pytrace=False)
    pytest.skip(message, allow_module_level=True)


def service_address(name: str) -> tuple[str, int]:
    """The host and port of the ``TASKSHED_TEST_*_URL`` given for server ``name``."""
    url = URL.parse(SERVICE_URLS[name])
    return url.host or "127.0.0.1", url.port or _DEFAULT_PORTS[name]


def require_service(name: str) -> None:
    """Fail (CI) or skip (locally) the calling test when server ``name`` is unreachable."""
    host, port = service_address(name)
    try:
        with socket.create_connection((host, port), timeout=2):
            return
    except OSError as exc:
        missing(f"{name} is not reachable on {host}:{port}: {exc}")


def require_tool(name: str, *, also: tuple[str, ...] = ()) -> str:
    """The path of program ``name`` (on PATH or at one of ``also``); fails/skips when absent."""
    found = shutil.which(name)
    if found is None:
        found = next((path for path in also if Path(path).is_file()), None)
    if found is None:
        missing(f"{name} is not installed (.ci/run installs it)")
    return found


def require_module(name: str, *, install: str) -> ModuleType:
    """Import module ``name`` of a plugin or tool; fails/skips with how to ``install`` it."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        missing(f"{name} is not importable ({exc}); {install}")
