"""The stores under test, each with a raw view of its records and a way to fault it.

``Backend`` hides how each kind of store is reached, read *around* the store
(raw rows and raw hashes, for byte-for-byte comparisons), planted with bad
records, and faulted server-side. Every backend works in a space of its own:
the SQL stores in a database of this run's own (:data:`SQL_DATABASE`, logins
:data:`WORKER_USER` for workers), Redis in the database of
``TASKSHED_TEST_REDIS_URL`` under a prefix unique to the test.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from taskshed.config import open_datastore
from taskshed.datastores.base import DataStore
from taskshed.datastores.memory import InMemoryDataStore
from taskshed.errors import UnknownBackendError
from tests.support.names import run_name, unique_prefix
from tests.support.services import REDIS_URL, missing, require_service

#: The database this suite creates on MariaDB and PostgreSQL (and drops when the run ends).
SQL_DATABASE = run_name("res")
#: Workers whose connections a test kills log in as this user, so the kill hits them only.
WORKER_USER = run_name("wk")

KINDS = ("memory", "mariadb", "postgresql", "sqlite", "redis")
SHARED_KINDS = ("mariadb", "postgresql", "sqlite", "redis")  # reachable from other processes
SERVER_KINDS = ("mariadb", "postgresql", "redis")


def sql_plugin_available() -> bool:
    try:
        open_datastore("sqlite+aiosqlite:///:memory:")
    except UnknownBackendError:
        return False
    return True


def require_plugin(kind: str) -> None:
    if kind in ("mariadb", "postgresql", "sqlite") and not sql_plugin_available():
        missing("the SQL datastore plugin (taskshed-sqlalchemy) is not installed")
    if kind == "redis":
        try:
            open_datastore("redis://127.0.0.1:1/0")
        except UnknownBackendError:
            missing("the Redis datastore plugin (taskshed-redis) is not installed")


@dataclass
class Backend:
    """One kind of store, reachable at ``url`` (the scheduler's view)."""

    kind: str
    url: str
    #: The URL worker-side stores use (a separate login for SQL servers, so that
    #: killing "the worker's connections" can't hit anyone else's).
    worker_url: str
    _memory: InMemoryDataStore | None = None
    _admin: Any = None  # an AsyncEngine (SQL) or a redis client around the store
    prefix: str | None = None
    _opened: list[DataStore] = field(default_factory=list)

    @property
    def shared(self) -> bool:
        return self.kind in SHARED_KINDS

    @property
    def is_sql(self) -> bool:
        return self.kind in ("mariadb", "postgresql", "sqlite")

    # ------------------------------------------------------------------ stores

    def open(self, url: str | None = None) -> DataStore:
        """A new, unstarted store on this backend (memory: the one shared instance)."""
        if self.kind == "memory":
            if self._memory is None:
                self._memory = InMemoryDataStore()
            return self._memory
        store = open_datastore(url or self.url)
        self._opened.append(store)
        return store

    def open_worker_store(self) -> DataStore:
        return self.open(self.worker_url)

    async def admin(self) -> Any:
        """A connection pool around the store: SQLAlchemy engine (root) or raw Redis client."""
        if self._admin is None:
            if self.is_sql:
                from sqlalchemy.ext.asyncio import create_async_engine
                from taskshed_sqlalchemy.urls import engine_spec

                self._admin = create_async_engine(engine_spec(self.url).url)
            elif self.kind == "redis":
                import redis.asyncio as aioredis
                from taskshed_redis.config import parse_url

                self._admin = aioredis.Redis(**parse_url(self.url).config.client_kwargs())
        return self._admin

    async def close(self) -> None:
        for store in self._opened:
            try:
                await store.shutdown()
            except Exception:
                pass
        self._opened.clear()
        if self._admin is not None:
            if self.is_sql:
                await self._admin.dispose()
            else:
                await self._admin.aclose()
            self._admin = None

    # ------------------------------------------------------------------ raw view

    async def raw(self) -> Any:
        """Every stored record exactly as the store holds it (rows, hashes, entries)."""
        if self.kind == "memory":
            assert self._memory is not None
            # Every task through the public listing: fields, kwargs, claim holder and lease.
            from dataclasses import replace

            from taskshed.listing import MAX_PAGE_SIZE, TaskQuery

            records: dict[str, Any] = {}
            query = TaskQuery(limit=MAX_PAGE_SIZE)
            while True:
                page = await self._memory.list_tasks(query)
                for task in page.tasks:
                    records[task.task_id] = (repr(task), task.claimed_by, task.lease_until)
                if page.next_cursor is None:
                    return records
                query = replace(query, after=page.next_cursor)
        if self.is_sql:
            import sqlalchemy as sa
            from taskshed_sqlalchemy.schema import tasks_table

            async with (await self.admin()).connect() as conn:
                rows = (await conn.execute(sa.select(tasks_table))).all()
            return sorted((tuple(row) for row in rows), key=repr)
        from taskshed_redis.keys import CALL_ID_KEY

        client = await self.admin()
        snapshot: dict[bytes, Any] = {}
        async for key in client.scan_iter(match=f"*{self.prefix}*".encode(), count=1000):
            if CALL_ID_KEY.search(key.decode(errors="replace")):
                continue  # "this call ran" markers, expiring in a minute: not records
            kind = await client.type(key)
            if kind == b"hash":
                snapshot[key] = ("hash", sorted((await client.hgetall(key)).items()))
            elif kind == b"zset":
                snapshot[key] = ("zset", await client.zrange(key, 0, -1, withscores=True))
            elif kind == b"set":
                snapshot[key] = ("set", sorted(await client.smembers(key)))
            else:
                snapshot[key] = (kind, await client.dump(key))
        return snapshot

    async def wipe(self) -> None:
        """Remove every record of this test (raw, around the store)."""
        if self.kind == "memory":
            if self._memory is not None:
                await self._memory.remove_all_tasks()
        elif self.is_sql:
            import sqlalchemy as sa
            from taskshed_sqlalchemy.schema import tasks_table

            async with (await self.admin()).begin() as conn:
                await conn.execute(sa.delete(tasks_table))
        else:
            client = await self.admin()
            keys = [k async for k in client.scan_iter(match=f"*{self.prefix}*", count=1000)]
            for start in range(0, len(keys), 1000):
                await client.delete(*keys[start : start + 1000])

    # ------------------------------------------------------------------ faults

    async def kill_worker_connections(self) -> int:
        """Kill, server-side, every connection made with :attr:`worker_url`; return how many."""
        if self.kind == "mariadb":
            import sqlalchemy as sa

            async with (await self.admin()).connect() as conn:
                ids = (
                    (
                        await conn.execute(
                            sa.text(
                                "SELECT ID FROM information_schema.PROCESSLIST WHERE USER = :user"
                            ),
                            {"user": WORKER_USER},
                        )
                    )
                    .scalars()
                    .all()
                )
                for thread_id in ids:
                    try:
                        await conn.execute(sa.text(f"KILL {int(thread_id)}"))
                    except sa.exc.DBAPIError:
                        pass  # it ended by itself meanwhile
            return len(ids)
        if self.kind == "postgresql":
            import sqlalchemy as sa

            async with (await self.admin()).connect() as conn:
                killed = (
                    (
                        await conn.execute(
                            sa.text(
                                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                "WHERE usename = :user AND datname = :db"
                            ),
                            {"user": WORKER_USER, "db": SQL_DATABASE},
                        )
                    )
                    .scalars()
                    .all()
                )
            return sum(1 for ok in killed if ok)
        if self.kind == "redis":
            client = await self.admin()
            listing = (await client.execute_command("CLIENT", "LIST")).decode()
            name = redis_client_name(self)
            ids = [
                fields["id"]
                for fields in (
                    dict(part.split("=", 1) for part in line.split(" ") if "=" in part)
                    for line in listing.splitlines()
                )
                if fields.get("name") == name
            ]
            for client_id in ids:
                await client.execute_command("CLIENT", "KILL", "ID", client_id)
            return len(ids)
        raise NotImplementedError(self.kind)


def redis_client_name(backend: Backend) -> str:
    return f"tsres-worker-{backend.prefix}"


async def name_redis_connections(store: DataStore, name: str) -> None:
    """Make every connection the (started) store's client uses announce itself as ``name``.

    Through redis-py's public pool settings; the connections made so far
    (``start()`` pings the server) are closed and dropped, so every later one is named.
    The worker's store is otherwise exactly what its URL builds.
    """
    pool = store.client.connection_pool  # type: ignore[attr-defined]
    pool.connection_kwargs["client_name"] = name
    await pool.disconnect()
    # Connection objects keep the name they were made with: drop them so new ones are made.
    pool.reset()


# ---------------------------------------------------------------------- set-up


async def _prepare_sql_server(kind: str) -> tuple[str, str]:
    """Create our database, its schema and the worker login; return (admin URL, worker URL)."""
    import sqlalchemy as sa
    from sqlalchemy.ext.asyncio import create_async_engine
    from taskshed_sqlalchemy.store import SQLAlchemyDataStore
    from taskshed_sqlalchemy.urls import engine_spec

    from tests.support import sql

    await sql.create_database(kind, SQL_DATABASE)
    await sql.create_login(kind, WORKER_USER, SQL_DATABASE)
    url = sql.database_url(kind, SQL_DATABASE)
    store = SQLAlchemyDataStore(url, create_schema=True)
    await store.start()
    await store.shutdown()
    if kind == "postgresql":
        engine = create_async_engine(engine_spec(url).url, isolation_level="AUTOCOMMIT")
        try:
            async with engine.connect() as conn:
                await conn.execute(
                    sa.text(f'GRANT ALL ON ALL TABLES IN SCHEMA public TO "{WORKER_USER}"')
                )
        finally:
            await engine.dispose()
    return url, sql.database_url(kind, SQL_DATABASE, user=WORKER_USER)


async def drop_prepared() -> None:
    """Drop the databases and logins :func:`make_backend` created (once, when the run ends)."""
    if not _prepared:
        return
    from tests.support import sql

    for kind in sorted(_prepared):
        await sql.drop_database(kind, SQL_DATABASE)
        await sql.drop_login(kind, WORKER_USER)
    _prepared.clear()


_prepared: dict[str, tuple[str, str]] = {}


async def make_backend(kind: str, tmp: Path) -> Backend:
    """A backend of ``kind`` for one test (skips when its server or plugin is missing)."""
    if kind == "memory":
        return Backend(kind, "memory://", "memory://")
    require_plugin(kind)
    if kind == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp / 'resilience.db'}"
        from taskshed_sqlalchemy.store import SQLAlchemyDataStore

        store = SQLAlchemyDataStore(url, create_schema=True)
        await store.start()
        await store.shutdown()
        return Backend(kind, url, url)
    if kind in ("mariadb", "postgresql"):
        require_service(kind)
        if kind not in _prepared:
            _prepared[kind] = await _prepare_sql_server(kind)
        url, worker_url = _prepared[kind]
        backend = Backend(kind, url, worker_url)
        await backend.wipe()
        return backend
    require_service("redis")
    prefix = unique_prefix("res")
    url = f"{REDIS_URL}?prefix={prefix}"
    return Backend(kind, url, url, prefix=prefix)


def own_redis_backend(server_url: str, prefix: str | None = None) -> Backend:
    """A Redis backend on a server the test owns."""
    prefix = prefix or unique_prefix("res")
    url = f"{server_url}?prefix={prefix}"
    return Backend("redis", url, url, prefix=prefix)
