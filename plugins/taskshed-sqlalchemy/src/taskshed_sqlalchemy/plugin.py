"""The ``taskshed`` entry point of this distribution: SQL datastores and the ``db`` command.

Importing this module is cheap: SQLAlchemy and the database drivers are only
imported when a store is built or a ``taskshed db`` command runs.
"""

from __future__ import annotations

import argparse

from taskshed.backends import DataStoreBackend, NotifierBackend
from taskshed.datastores.base import DataStore
from taskshed.errors import ConfigurationError
from taskshed.markers import hookimpl
from taskshed.notifiers.base import Notifier
from taskshed.serializers.base import Serializer
from taskshed.urls import URL


def _open(url: URL, serializer: Serializer) -> DataStore:
    try:
        from taskshed_sqlalchemy.store import SQLAlchemyDataStore
    except ImportError as exc:
        raise ConfigurationError(
            f"the {url.scheme}:// datastore needs SQLAlchemy: "
            f"pip install 'taskshed[{extra_for(url.scheme)}]' ({exc})"
        ) from None
    return SQLAlchemyDataStore(url, serializer=serializer)


def extra_for(scheme: str) -> str:
    """The extra of ``taskshed`` that installs the driver for ``scheme``."""
    if scheme.startswith(("mysql", "mariadb")):
        return "mysql"
    if scheme.startswith("postgres"):
        return "postgresql"
    return "sqlite"


@hookimpl
def taskshed_datastore_backends() -> list[DataStoreBackend]:
    return [
        DataStoreBackend(
            schemes=("mysql+asyncmy", "mysql", "mariadb+asyncmy", "mariadb"),
            factory=_open,
            description="MySQL 8 or MariaDB 10.6+ through asyncmy (taskshed[mysql]).",
            examples=("mysql+asyncmy://user:password@host:3306/database",),
            requires=("sqlalchemy", "asyncmy"),
        ),
        DataStoreBackend(
            schemes=("postgresql+asyncpg", "postgresql", "postgres"),
            factory=_open,
            description="PostgreSQL through asyncpg (taskshed[postgresql]).",
            examples=("postgresql+asyncpg://user:password@host:5432/database",),
            requires=("sqlalchemy", "asyncpg"),
        ),
        DataStoreBackend(
            schemes=("sqlite+aiosqlite", "sqlite"),
            factory=_open,
            description="An embedded SQLite file through aiosqlite (taskshed[sqlite]); one host.",
            examples=("sqlite+aiosqlite:///taskshed.db",),
            requires=("sqlalchemy", "aiosqlite"),
        ),
    ]


def _open_notifier(url: URL) -> Notifier:
    try:
        import asyncpg  # noqa: F401

        from taskshed_sqlalchemy.notify import PostgresNotifier
    except ImportError as exc:
        raise ConfigurationError(
            "the PostgreSQL notifier needs asyncpg and SQLAlchemy: "
            f"pip install 'taskshed[postgresql]' ({exc})"
        ) from None
    return PostgresNotifier.from_url(url)


@hookimpl
def taskshed_notifier_backends() -> list[NotifierBackend]:
    return [
        NotifierBackend(
            schemes=("postgresql+asyncpg", "postgresql", "postgres"),
            factory=_open_notifier,
            description="PostgreSQL LISTEN/NOTIFY on a connection of its own "
            "(taskshed[postgresql]); pairs with any store.",
            examples=("postgresql://user:password@host:5432/database",),
        )
    ]


@hookimpl
def taskshed_add_commands(subparsers: argparse._SubParsersAction) -> None:
    from taskshed_sqlalchemy.cli import add_db_command

    add_db_command(subparsers)
