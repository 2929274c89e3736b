"""``MySQLDataStore``: TaskShed 0.10's constructor on top of the SQL store."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from taskshed.serializers.base import Serializer
from taskshed_sqlalchemy.config import MySQLConfig
from taskshed_sqlalchemy.store import SQLAlchemyDataStore


class MySQLDataStore(SQLAlchemyDataStore):
    """The SQL store, built as TaskShed 0.10 built its MySQL store.

    :param config: where the server is; the store makes (and on shutdown
        disposes of) its own SQLAlchemy ``AsyncEngine`` with asyncmy.
    :param pool: an ``AsyncEngine`` you made (``create_async_engine(...)``),
        shared with the rest of your application; the store never disposes of it.
        Any dialect the SQL store supports works here, not only MySQL.
    :param serializer: turns kwargs into text (default: compact JSON).

    Give exactly one of ``config`` and ``pool``. The schema must be current:
    run ``taskshed db upgrade`` once per release (see docs/migrations.md).
    """

    def __init__(
        self,
        *,
        config: MySQLConfig | None = None,
        pool: AsyncEngine | None = None,
        serializer: Serializer | None = None,
        create_schema: bool | None = None,
    ) -> None:
        if (config is None) == (pool is None):
            raise ValueError("MySQLDataStore needs exactly one of config= and pool=")
        if pool is not None:
            super().__init__(engine=pool, serializer=serializer, create_schema=create_schema)
            return
        assert config is not None
        from taskshed.urls import URL

        url = URL(
            scheme="mysql+asyncmy",
            username=config.user,
            password=config.password,
            host=None if config.unix_socket else config.host,
            port=None if config.unix_socket else config.port,
            path=f"/{config.db}",
        )
        options: dict[str, Any] = {"connect_args": config.connect_args()}
        super().__init__(
            url, serializer=serializer, create_schema=create_schema, engine_options=options
        )
        self._config = config
