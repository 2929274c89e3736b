"""A PostgreSQL notifier: ``LISTEN``/``NOTIFY`` on a connection of its own.

Every process that uses it opens one asyncpg connection, outside any store's
pool: it publishes with ``pg_notify`` and, once something subscribed,
listens on the channel. The channel is named after the database and the
tasks table, so stores on other databases or tables never wake each other
(PostgreSQL scopes channels to a database; the table keeps two stores in
one database apart). A background task watches the connection: when it
breaks (a server restart, ``pg_terminate_backend``, a dead network) it
reconnects with backoff, listens again and tells each subscriber
``Notice("schedule")``, since notices sent meanwhile were missed.

Payloads are those of every networked notifier
(:mod:`taskshed.notifiers.remote`): a few dozen bytes, far below PostgreSQL's
8000.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from taskshed.errors import ConfigurationError, DataStoreError
from taskshed.notifiers.base import Notice, NoticeHandler
from taskshed.notifiers.remote import RemoteNotifier, decode_notice, encode_notice
from taskshed.urls import URL
from taskshed_sqlalchemy import schema

if TYPE_CHECKING:
    import sqlalchemy.engine

    from taskshed_sqlalchemy.store import SQLAlchemyDataStore

log = logging.getLogger(__name__)

#: What the notifier's connections call themselves in ``pg_stat_activity``.
APPLICATION_NAME = "taskshed-notifier"
#: Keyword arguments SQLAlchemy's asyncpg dialect reads itself; asyncpg.connect doesn't take them.
_SQLALCHEMY_ONLY = ("prepared_statement_cache_size", "prepared_statement_name_func")

#: Where to connect and which channel, worked out when the notifier starts.
Target = tuple[dict[str, Any], str, str]


def channel_name(database: str, table: str = schema.TABLE_NAME) -> str:
    """The channel of the tasks in ``table`` of ``database``: a plain identifier of 41 characters."""
    digest = hashlib.sha256(f"{database}\0{table}".encode()).hexdigest()[:32]
    return f"taskshed_{digest}"


def connect_kwargs(url: sqlalchemy.engine.URL) -> dict[str, Any]:
    """``asyncpg.connect`` arguments for a SQLAlchemy ``postgresql+asyncpg`` URL."""
    from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg

    _, kwargs = PGDialect_asyncpg().create_connect_args(url)
    for key in _SQLALCHEMY_ONLY:
        kwargs.pop(key, None)
    return dict(kwargs)


def _where(kwargs: dict[str, Any]) -> str:
    host = kwargs.get("host") or "localhost"
    port = kwargs.get("port")
    address = f"{host}:{port}" if port else str(host)
    return f"{address}/{kwargs.get('database') or ''}"


class PostgresNotifier(RemoteNotifier):
    """Notices over PostgreSQL ``LISTEN``/``NOTIFY``, on one dedicated asyncpg connection.

    Build it with :meth:`from_url` (``TASKSHED_NOTIFIER=postgresql://...``) or
    :meth:`for_store` (a PostgreSQL store's own notifier). ``check_interval``
    is how often an idle connection is checked with a round trip, so that a
    silently dead one is noticed; ``reconnect_max`` caps the backoff.
    """

    def __init__(
        self,
        target: Callable[[], Target],
        *,
        check_interval: float = 15.0,
        publish_timeout: float = 5.0,
        reconnect_min: float = 0.05,
        reconnect_max: float = 5.0,
    ) -> None:
        super().__init__(
            publish_timeout=publish_timeout,
            reconnect_min=reconnect_min,
            reconnect_max=reconnect_max,
        )
        self._target = target
        self.check_interval = check_interval
        self._kwargs: dict[str, Any] = {}
        self._settings: dict[str, str] = {}
        self.channel = ""
        self._where = ""
        self._conn: Any = None
        self._lock = asyncio.Lock()  # one query at a time on the connection
        self._broken = asyncio.Event()
        self._supervisor: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ building

    @classmethod
    def from_url(cls, url: URL | str, **options: Any) -> PostgresNotifier:
        """The notifier a ``postgresql://`` URL names.

        The channel is that of the database's ``_taskshed_data`` table (so it
        pairs with a PostgreSQL store on the same database); ``?channel=NAME``
        picks another. Other query keys go to asyncpg (``?ssl=require``).
        """
        from dataclasses import replace

        from taskshed_sqlalchemy.urls import engine_spec

        parsed = URL.parse(url)
        query = dict(parsed.query)
        channel = query.pop("channel", None)
        spec = engine_spec(replace(parsed, query=query))
        if spec.backend != "postgresql":
            raise ConfigurationError(f"{parsed.scheme}:// is not a PostgreSQL URL")
        kwargs = connect_kwargs(spec.url)
        name = channel or channel_name(str(kwargs.get("database") or ""))

        def target() -> Target:
            return kwargs, name, _where(kwargs)

        return cls(target, **options)

    @classmethod
    def for_store(cls, store: SQLAlchemyDataStore, **options: Any) -> PostgresNotifier:
        """The notifier of a PostgreSQL store: its server and database, its table's channel.

        Where to connect is read from the store's engine when the notifier
        starts, so the store must be started first (workers and schedulers
        start their store before its notifier).
        """

        def target() -> Target:
            engine = store.engine
            kwargs = connect_kwargs(engine.url)
            table = str(getattr(store, "table_name", schema.TABLE_NAME))
            return kwargs, channel_name(str(kwargs.get("database") or ""), table), _where(kwargs)

        return cls(target, **options)

    # ------------------------------------------------------------------ the contract

    async def start(self) -> None:
        if self._supervisor is not None:
            return
        kwargs, self.channel, self._where = self._target()
        self._settings = dict(kwargs.pop("server_settings", None) or {})
        self._settings.setdefault("application_name", APPLICATION_NAME)
        self._kwargs = {"timeout": self.publish_timeout, **kwargs}
        self._closing = False
        self._broken = asyncio.Event()
        await self._open()
        self._supervisor = asyncio.create_task(self._supervise(), name=f"{self!r} supervisor")

    async def shutdown(self) -> None:
        self._closing = True
        supervisor, self._supervisor = self._supervisor, None
        if supervisor is not None:
            supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await supervisor
        conn, self._conn = self._conn, None
        self._handlers = []
        if conn is not None:
            await _close(conn)

    async def publish(self, notice: Notice) -> None:
        conn = self._conn
        if conn is None or conn.is_closed():
            # Reconnecting: this hint is lost; workers still poll.
            log.debug("%s: not connected, notice %s dropped", self.describe(), notice)
            return
        try:
            async with self._lock:
                await conn.execute(
                    "SELECT pg_notify($1, $2)",
                    self.channel,
                    encode_notice(notice),
                    timeout=self.publish_timeout,
                )
        except Exception as exc:
            self.publish_failed(exc)
            self._broken.set()
            return
        self.publish_succeeded()

    async def subscribe(self, handler: NoticeHandler) -> None:
        if self._supervisor is None:
            await self.start()
        first = not self._handlers
        self._handlers.append(handler)
        conn = self._conn
        if first and conn is not None and not conn.is_closed():
            try:
                async with self._lock:
                    await conn.add_listener(self.channel, self._on_notification)
            except Exception as exc:
                # The supervisor reconnects and listens again.
                log.warning("%s: LISTEN failed (%s); retrying", self.describe(), exc)
                self._broken.set()

    def describe(self) -> str:
        return f"PostgreSQL LISTEN/NOTIFY {self.channel or '(not started)'} on {self._where}"

    def __repr__(self) -> str:
        return f"PostgresNotifier({self.channel or '?'} on {self._where or '?'})"

    # ------------------------------------------------------------------ the connection

    async def _open(self) -> None:
        """Connect, and listen if anyone subscribed; raise :class:`DataStoreError` if that fails."""
        import asyncpg

        try:
            conn = await asyncpg.connect(**self._kwargs, server_settings=self._settings)
        except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
            raise DataStoreError(
                f"{self.describe()}: can't connect: {type(exc).__name__}: {exc}"
            ) from exc
        try:
            if self._handlers:
                await conn.add_listener(self.channel, self._on_notification)
        except BaseException:
            await _close(conn)
            raise
        conn.add_termination_listener(self._on_terminated)
        self._conn = conn
        self._broken.clear()

    def _on_terminated(self, conn: Any) -> None:
        if conn is self._conn and not self._closing:
            self._broken.set()

    def _on_notification(self, conn: Any, pid: int, channel: str, payload: str) -> None:
        self.deliver(decode_notice(payload))

    async def _supervise(self) -> None:
        """Keep the connection alive: check it when idle, reopen it when it breaks."""
        while not self._closing:
            try:
                await asyncio.wait_for(self._broken.wait(), timeout=self.check_interval)
            except TimeoutError:
                if await self._alive():
                    continue
            await self._reopen()

    async def _alive(self) -> bool:
        conn = self._conn
        if conn is None or conn.is_closed():
            return False
        try:
            async with self._lock:
                await conn.execute("SELECT 1", timeout=self.publish_timeout)
        except Exception:
            return False
        return True

    async def _reopen(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.terminate()
        log.warning("%s: connection lost; reconnecting", self.describe())
        while not self._closing:
            try:
                await self._open()
            except DataStoreError as exc:
                self.listening_failed(exc)
                await asyncio.sleep(self._backoff.next_delay())
                continue
            self.listening_again()
            return


async def _close(conn: Any) -> None:
    try:
        await asyncio.wait_for(conn.close(), timeout=2)
    except Exception:
        conn.terminate()
