"""The SQL store on an application's aiomysql pool: TaskShed 0.10's ``MySQLDataStore(pool=...)``.

SQLAlchemy's ``mysql+aiomysql`` dialect runs the store's statements; each
transaction borrows one connection from the pool and gives it back as it
found it:

- autocommit is off while the store holds it (claims are transactions) and is
  restored afterwards (0.10 made its own pools with ``autocommit=True``); a
  transaction the application left open on it is rolled back first;
- each transaction runs at READ COMMITTED through ``SET TRANSACTION``, which
  lasts for that one transaction, so the session's own level never changes;
- a connection SQLAlchemy invalidates (the server went away, a query was
  cancelled half-way) is closed, never handed back to the application.

The pool stays the application's: the store never closes it. A store that
must not share it (the worker's heartbeat runs on another event loop) gets
its own connections, made from the pool's connection settings.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

#: The isolation level of the store's transactions on MySQL and MariaDB (as on its own engines).
ISOLATION_LEVEL = "READ COMMITTED"
#: The SQLAlchemy URL of the dialect; the connections come from the creators below.
_DIALECT_URL = "mysql+aiomysql://"


def is_aiomysql_pool(value: object) -> bool:
    """Whether ``value`` looks like a pool made by ``aiomysql.create_pool``."""
    return (
        type(value).__module__.split(".")[0] == "aiomysql"
        and callable(getattr(value, "acquire", None))
        and callable(getattr(value, "release", None))
    )


class _Borrowed:
    """An aiomysql connection on loan from the application's pool.

    SQLAlchemy calls ``ensure_closed()`` when it is done with a connection and
    ``close()`` to drop one it can't wait for; both hand it back to the pool,
    the first as it was lent, the second closed.
    """

    def __init__(self, pool: Any, connection: Any) -> None:
        self._pool = pool
        self._connection = connection
        self._autocommit = bool(connection.get_autocommit())
        self.discard = False

    async def prepare(self) -> _Borrowed:
        if self._autocommit:
            await self._connection.autocommit(False)
        else:
            # Without autocommit the application may have handed the connection back
            # inside a transaction (a plain SELECT opens one); start from a clean slate
            # rather than inside its snapshot.
            await self._connection.rollback()
        return self

    def __getattr__(self, name: str) -> Any:
        return getattr(self._connection, name)

    async def ensure_closed(self) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            if self.discard:
                connection.close()
            elif self._autocommit and not connection.closed:
                await connection.autocommit(True)
        except BaseException:
            connection.close()
            raise
        finally:
            await self._pool.release(connection)

    def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()
            self._pool.release(connection)


def borrowing_engine(pool: Any) -> AsyncEngine:
    """An engine whose every connection is borrowed from ``pool`` for one use.

    It keeps no connections of its own (``NullPool``), so it needs no disposing.
    """

    async def borrow() -> _Borrowed:
        connection = await pool.acquire()
        try:
            return await _Borrowed(pool, connection).prepare()
        except BaseException:
            connection.close()
            pool.release(connection)
            raise

    engine = create_async_engine(_DIALECT_URL, async_creator=borrow, poolclass=sa.NullPool)
    sa.event.listen(engine.sync_engine, "begin", _read_committed)
    sa.event.listen(engine.sync_engine, "invalidate", _discard)
    return engine


def _read_committed(conn: sa.Connection) -> None:
    # Applies to the transaction that starts next on this connection only.
    conn.exec_driver_sql(f"SET TRANSACTION ISOLATION LEVEL {ISOLATION_LEVEL}")


def _discard(dbapi_connection: Any, connection_record: Any, exception: Any) -> None:
    borrowed = getattr(dbapi_connection, "_connection", None)
    if isinstance(borrowed, _Borrowed):
        borrowed.discard = True


def connection_settings(pool: Any) -> dict[str, Any]:
    """The keyword arguments ``pool`` opens its connections with (host, user, db, ssl, ...).

    aiomysql keeps what ``create_pool`` was given, beyond the pool's own
    sizing, in ``Pool._conn_kwargs``.
    """
    settings = getattr(pool, "_conn_kwargs", None)
    if not isinstance(settings, dict):
        raise TypeError(
            f"can't read the connection settings of {pool!r}: expected an aiomysql pool "
            "made by aiomysql.create_pool"
        )
    return dict(settings)


def own_engine(settings: dict[str, Any], *, pool_size: int = 2) -> AsyncEngine:
    """An engine with connections of its own, opened with ``settings`` (see :func:`connection_settings`)."""
    import aiomysql
    from pymysql.constants import CLIENT

    options = dict(settings)
    options["autocommit"] = False
    # Rows matched, not rows changed, as SQLAlchemy's own MySQL engines count them.
    options["client_flag"] = int(options.get("client_flag") or 0) | CLIENT.FOUND_ROWS

    async def connect() -> Any:
        return await aiomysql.connect(**options)

    return create_async_engine(
        _DIALECT_URL,
        async_creator=connect,
        isolation_level=ISOLATION_LEVEL,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_recycle=1800,
    )
