"""Databases of this helper's own tests: named ``taskshed_sqlx_<pid>``, dropped when the run ends."""

from __future__ import annotations

import os
from pathlib import Path

from tests.sql.databases import database_url

DATABASE = f"taskshed_sqlx_{os.getpid()}"


def isolated_url(backend: str, tmp_path: Path) -> str:
    """An empty database on ``backend`` that no other test module shares."""
    return database_url(backend, tmp_path, name=DATABASE)
