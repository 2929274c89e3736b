"""``MySQLDataStore``: TaskShed 0.10's constructor on top of the SQL store.

Like 0.10's store it looks after its own table: :meth:`MySQLDataStore.start`
brings the schema to this release's revision (creating the table in an
empty database, upgrading a 0.10 table in place), one process at a time under
the migrations' database lock. The URL and plugin API
(:class:`~taskshed_sqlalchemy.store.SQLAlchemyDataStore`, ``open_datastore``)
leave migrations to ``taskshed db upgrade``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from taskshed.datastores.base import DataStore
from taskshed.serializers.base import Serializer
from taskshed.urls import URL
from taskshed_sqlalchemy.aiomysql_pool import (
    borrowing_engine,
    connection_settings,
    is_aiomysql_pool,
    own_engine,
)
from taskshed_sqlalchemy.config import MySQLConfig
from taskshed_sqlalchemy.migrate import MigrationError, head_revision
from taskshed_sqlalchemy.store import SQLAlchemyDataStore

_AUTO_MIGRATE_HINT = (
    "MySQLDataStore upgrades the schema on start(); give its database user the CREATE, "
    "ALTER, INDEX and DROP privileges, or run `taskshed db upgrade` as a user who has them "
    "and pass auto_migrate=False (see docs/migrations.md)"
)


class MySQLDataStore(SQLAlchemyDataStore):
    """The SQL store, built as TaskShed 0.10 built its MySQL store.

    :param config: where the server is; the store makes (and on shutdown
        disposes of) its own SQLAlchemy engine with asyncmy.
    :param pool: a pool your application already has, shared with the store
        and never closed by it: an ``aiomysql`` pool (``aiomysql.create_pool``,
        as 0.10 took it) or an SQLAlchemy ``AsyncEngine`` (the modern route,
        for any database the SQL store supports).
    :param serializer: turns kwargs into text (default: compact JSON).
    :param auto_migrate: bring the schema to this release's revision in
        :meth:`start`, as 0.10 created and extended its table itself; ``False``
        only checks it (then run ``taskshed db upgrade`` on each release).

    Give exactly one of ``config`` and ``pool``.
    """

    def __init__(
        self,
        *,
        config: MySQLConfig | None = None,
        pool: Any = None,
        serializer: Serializer | None = None,
        auto_migrate: bool = True,
    ) -> None:
        if (config is None) == (pool is None):
            raise ValueError("MySQLDataStore needs exactly one of config= and pool=")
        self._config = config
        self._pool = pool
        self.auto_migrate = auto_migrate
        #: An engine this store made for itself from connection settings (disposed on shutdown).
        self._own_engine: AsyncEngine | None = None
        if config is not None:
            options: dict[str, Any] = {"connect_args": config.connect_args()}
            super().__init__(
                _config_url(config),
                serializer=serializer,
                create_schema=auto_migrate,
                engine_options=options,
            )
        elif isinstance(pool, AsyncEngine):
            super().__init__(engine=pool, serializer=serializer, create_schema=auto_migrate)
        elif is_aiomysql_pool(pool):
            super().__init__(
                engine=borrowing_engine(pool), serializer=serializer, create_schema=auto_migrate
            )
        else:
            raise TypeError(
                "MySQLDataStore(pool=...) takes an aiomysql pool (aiomysql.create_pool) or an "
                f"SQLAlchemy AsyncEngine, not {type(pool).__module__}.{type(pool).__qualname__}"
            )

    @classmethod
    def _on_own_engine(cls, engine: AsyncEngine, serializer: Serializer) -> MySQLDataStore:
        store = cls(pool=engine, serializer=serializer, auto_migrate=False)
        store._own_engine = engine
        return store

    async def start(self) -> None:
        try:
            await super().start()
        except MigrationError as exc:
            raise MigrationError(
                f"can't bring the taskshed schema to revision {head_revision()}: {exc}. "
                f"{_AUTO_MIGRATE_HINT}"
            ) from exc

    async def shutdown(self) -> None:
        await super().shutdown()
        if self._own_engine is not None:
            await self._own_engine.dispose()

    def sibling(self) -> DataStore | None:
        """A store with connections of its own: never the injected pool, which is bound to its loop."""
        if self._config is not None:
            return MySQLDataStore(
                config=self._config, serializer=self.serializer, auto_migrate=False
            )
        if is_aiomysql_pool(self._pool):
            engine = own_engine(connection_settings(self._pool))
            return MySQLDataStore._on_own_engine(engine, self.serializer)
        return super().sibling()


def _config_url(config: MySQLConfig) -> URL:
    return URL(
        scheme="mysql+asyncmy",
        username=config.user,
        password=config.password,
        host=None if config.unix_socket else config.host,
        port=None if config.unix_socket else config.port,
        path=f"/{config.db}",
    )
