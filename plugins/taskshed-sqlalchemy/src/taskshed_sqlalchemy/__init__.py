"""taskshed's SQL datastores (MySQL 8, MariaDB, PostgreSQL, SQLite) on SQLAlchemy 2 asyncio.

The store classes are imported on first use, so that loading the plugin (its
entry point is :mod:`taskshed_sqlalchemy.plugin`) needs neither SQLAlchemy
nor a driver.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from taskshed_sqlalchemy.config import MySQLConfig
    from taskshed_sqlalchemy.mysql import MySQLDataStore
    from taskshed_sqlalchemy.store import SQLAlchemyDataStore

__all__ = ["MySQLConfig", "MySQLDataStore", "SQLAlchemyDataStore"]

_EXPORTS = {
    "MySQLConfig": "taskshed_sqlalchemy.config",
    "MySQLDataStore": "taskshed_sqlalchemy.mysql",
    "SQLAlchemyDataStore": "taskshed_sqlalchemy.store",
}


def __getattr__(name: str) -> Any:
    try:
        module_name = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    return getattr(importlib.import_module(module_name), name)
