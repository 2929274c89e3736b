"""The SQL datastore: one class for MySQL 8, MariaDB, PostgreSQL and SQLite.

Every method is one transaction on SQLAlchemy 2 asyncio Core. Claims lock
the rows they take and skip rows another transaction has locked
(``FOR UPDATE SKIP LOCKED``: MySQL 8, MariaDB 10.6+, PostgreSQL); on SQLite a
write transaction begins with ``BEGIN IMMEDIATE``, which holds the file's
single write lock, so its read-then-claim is a compare-and-set no other
process can interleave with.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import json
import logging
import uuid
from collections.abc import Awaitable, Callable, Collection, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from taskshed.claims import SET_ASIDE_FOR, Claim, Completion
from taskshed.datastores.base import DataStore
from taskshed.errors import (
    ConfigurationError,
    DataStoreError,
    DataStoreNotStartedError,
    MalformedRecordError,
    TaskNotFoundError,
    TaskshedError,
)
from taskshed.listing import TaskCursor, TaskPage, TaskQuery
from taskshed.models import Task, TaskExecutionTime
from taskshed.notifiers.base import Notifier
from taskshed.serializers.base import Serializer
from taskshed.serializers.json import JSONSerializer
from taskshed.timeutils import from_epoch_micros, to_epoch_micros, utcnow
from taskshed.urls import URL
from taskshed.validation import check_execution_times, check_identifier, check_ids
from taskshed.worker_info import WorkerInfo
from taskshed_sqlalchemy import schema
from taskshed_sqlalchemy.engines import (
    PG_INDEX_ONLY_PLANS,
    create_engine,
    create_statement_engine,
    prepare_engine,
    set_sqlite_begin,
)
from taskshed_sqlalchemy.rows import TASK_COLUMNS, micros, row_to_task, task_to_row
from taskshed_sqlalchemy.schema_check import check_schema
from taskshed_sqlalchemy.statements import (
    pause_statement,
    rendered_upsert,
    upsert_statement,
    worker_upsert_statement,
)
from taskshed_sqlalchemy.urls import engine_spec

log = logging.getLogger(__name__)

T = TypeVar("T")

_t = schema.tasks_table
_w = schema.workers_table
_SELECT_COLUMNS = [_t.c[name] for name in TASK_COLUMNS]
#: Ids per IN list; far below every driver's bind limit.
_CHUNK = 1000
#: Attempts for a transaction that lost a deadlock or a lock wait.
_ATTEMPTS = 4
#: The largest epoch-microseconds value a bigint holds.
_MAX_MICROS = 2**63 - 1
_SET_ASIDE_MICROS = to_epoch_micros(from_epoch_micros(0) + SET_ASIDE_FOR)
_MYSQL_TRANSIENT = {1205, 1213}  # lock wait timeout, deadlock
_PG_TRANSIENT = {"40P01", "40001"}  # deadlock, serialization failure


class SQLAlchemyDataStore(DataStore):
    """Tasks in the ``_taskshed_data`` table of a SQL database.

    :param url: a datastore URL (``mysql+asyncmy://``, ``mariadb+asyncmy://``,
        ``postgresql+asyncpg://``, ``sqlite+aiosqlite:///file.db`` or an alias);
        the store builds its own engine from it and disposes of it on shutdown.
    :param engine: an ``AsyncEngine`` to use instead; the store never disposes of it.
    :param serializer: turns kwargs into text (default: compact JSON, as 0.10).
    :param create_schema: run the migrations in :meth:`start` when the schema is
        missing or old. Default: only for SQLite, an embedded file owned by
        this process's user; servers are upgraded with ``taskshed db upgrade``.
    """

    def __init__(
        self,
        url: str | URL | None = None,
        *,
        engine: AsyncEngine | None = None,
        serializer: Serializer | None = None,
        create_schema: bool | None = None,
        engine_options: dict[str, Any] | None = None,
    ) -> None:
        if (url is None) == (engine is None):
            raise ValueError("give exactly one of url= and engine=")
        self.serializer = serializer or JSONSerializer()
        self._url = URL.parse(url) if url is not None else None
        self._spec = engine_spec(self._url) if self._url is not None else None
        self._given_engine = engine
        self._engine_options = dict(engine_options or {})
        self._create_schema = create_schema
        self._engine: AsyncEngine | None = None
        # PostgreSQL, own engine only: single statements, one round trip each
        # (see create_statement_engine). None: everything runs on ``_engine``.
        self._statements: AsyncEngine | None = None
        self._start_lock = asyncio.Lock()
        # An in-memory SQLite database lives on one shared connection (StaticPool):
        # its transactions must take turns.
        self._one_connection: asyncio.Lock | None = None
        # A SQLite file has one writer at a time. Writers of this store queue here
        # instead of in SQLite's busy handler, which polls with sleeps of up to
        # 100 ms and so turns a 1 ms wait for the lock into tens of milliseconds.
        self._sqlite_writes: asyncio.Lock | None = None

    def __repr__(self) -> str:
        where = str(self._url) if self._url is not None else "engine"
        return f"{type(self).__name__}({where})"

    @property
    def dialect_name(self) -> str:
        """``mysql``, ``mariadb``, ``postgresql`` or ``sqlite`` (known before :meth:`start`)."""
        if self._given_engine is not None:
            return str(self._given_engine.dialect.name)
        assert self._spec is not None
        return self._spec.backend

    @property
    def engine(self) -> AsyncEngine:
        """The engine in use (after :meth:`start`)."""
        return self._require_engine()

    @property
    def statement_engine(self) -> AsyncEngine | None:
        """PostgreSQL on its own engine: the engine of single statements (claims, wake-ups).

        ``None`` elsewhere, and before :meth:`start`. See docs/datastores/sql.md.
        """
        return self._statements

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        async with self._start_lock:
            if self._engine is not None:
                return
            engine = self._given_engine
            if engine is None:
                assert self._spec is not None
                try:
                    engine = create_engine(self._spec, **self._engine_options)
                except ImportError as exc:
                    from taskshed_sqlalchemy.plugin import extra_for

                    raise ConfigurationError(
                        f"the {self._spec.url.drivername} driver is not installed: "
                        f"pip install 'taskshed[{extra_for(self.dialect_name)}]' ({exc})"
                    ) from None
            prepare_engine(engine)
            create = self._create_schema
            if create is None:
                create = self.dialect_name == "sqlite"
            try:
                await check_schema(engine, create=create)
            except BaseException:
                if self._given_engine is None:
                    await engine.dispose()
                raise
            self._engine = engine
            if self._given_engine is None and self._spec is not None:
                self._statements = create_statement_engine(self._spec, **self._engine_options)
            if isinstance(engine.pool, sa.pool.StaticPool):
                self._one_connection = asyncio.Lock()
            elif engine.dialect.name == "sqlite":
                self._sqlite_writes = asyncio.Lock()

    async def shutdown(self) -> None:
        async with self._start_lock:
            engine, self._engine = self._engine, None
            statements, self._statements = self._statements, None
            if statements is not None:
                await statements.dispose()
            if engine is not None and self._given_engine is None:
                await engine.dispose()

    def create_notifier(self) -> Notifier | None:
        """PostgreSQL: ``LISTEN``/``NOTIFY`` on a connection of its own; other databases: none."""
        if self.dialect_name != "postgresql":
            return None
        from taskshed_sqlalchemy.notify import PostgresNotifier

        return PostgresNotifier.for_store(self)

    def _require_engine(self) -> AsyncEngine:
        if self._engine is None:
            raise DataStoreNotStartedError(f"{self!r} is not started; await start() first")
        return self._engine

    # ------------------------------------------------------------------ transactions

    async def _run(
        self, what: str, body: Callable[[AsyncConnection], Awaitable[T]], *, write: bool = True
    ) -> T:
        """Run ``body`` in one transaction; retry a lost deadlock, wrap driver errors."""
        engine = self._require_engine()
        if self._one_connection is not None:
            async with self._one_connection:
                return await self._attempt(engine, what, body, write)
        if write and self._sqlite_writes is not None:
            async with self._sqlite_writes:
                return await self._attempt(engine, what, body, write)
        return await self._attempt(engine, what, body, write)

    async def _run_alone(self, what: str, body: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        """Run ``body``, whose every statement stands alone, on the statement engine.

        Only where there is one (PostgreSQL, own engine); callers check
        ``self._statements`` first. Each statement commits by itself, so a
        connection that fails during one leaves that statement's outcome
        unknown; it is used for reads and for claims, which are safe to try
        again (a claim whose answer was lost is an orphan that lapses with its
        lease). Writes that must not be replayed (an add that replaces) keep
        their transaction: its ``BEGIN`` proves the connection alive before
        anything is sent that could apply.
        """
        engine = self._statements
        assert engine is not None
        return await self._attempt(engine, what, body, False)

    async def _attempt(
        self,
        engine: AsyncEngine,
        what: str,
        body: Callable[[AsyncConnection], Awaitable[T]],
        write: bool,
    ) -> T:
        for attempt in range(1, _ATTEMPTS + 1):
            committing = False
            try:
                async with engine.connect() as conn:
                    await set_sqlite_begin(conn, "IMMEDIATE" if write else "DEFERRED")
                    async with conn.begin():
                        result = await body(conn)
                        committing = True  # the COMMIT is sent as this block ends
                    return result
            except TaskshedError:
                raise
            except sa.exc.DBAPIError as exc:
                # A lost deadlock (the server rolled the transaction back), or a
                # connection that failed before COMMIT was sent (a pooled one
                # the server had closed after a restart, say: the server drops
                # an uncommitted transaction with its connection): nothing was
                # applied, so try anew. A connection that fails during COMMIT
                # leaves the outcome unknown: a write is then reported, not
                # replayed, since a replacing write sent again could drop a
                # claim another worker took in between.
                if write and committing and not _is_transient(exc):
                    raise DataStoreError(
                        f"{what}: the connection failed during COMMIT, so the change may or "
                        f"may not have been applied ({_describe(exc)})"
                    ) from exc
                if attempt < _ATTEMPTS and (_is_transient(exc) or exc.connection_invalidated):
                    log.debug("%s: transient database error, retrying (%s)", what, _describe(exc))
                    await asyncio.sleep(0.01 * attempt)
                    continue
                raise DataStoreError(f"{what} failed: {_describe(exc)}") from exc
            except (sa.exc.SQLAlchemyError, OSError) as exc:
                raise DataStoreError(f"{what} failed: {_describe(exc)}") from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def _decode(self, rows: Iterable[Any]) -> list[Task]:
        tasks = []
        for row in rows:
            try:
                tasks.append(row_to_task(row, self.serializer))
            except MalformedRecordError as exc:
                log.warning("skipping stored task %r: %s", row._mapping["task_id"], exc)
        return tasks

    def _lock_rows(self, stmt: sa.Select[Any], conn: AsyncConnection) -> sa.Select[Any]:
        # SQLite has no row locks; its write transactions hold the whole file.
        if conn.dialect.name == "sqlite":
            return stmt
        return stmt.with_for_update()

    # ------------------------------------------------------------------ clocks and siblings

    def sibling(self) -> DataStore | None:
        """A store of its own on the same URL and options, or ``None``.

        ``None`` when this store was given an engine (its connections and
        options are the application's; the store can't open others like
        them) or is an in-memory SQLite database (another engine would see
        another, empty database).
        """
        if self._url is None or self._spec is None:
            return None
        if self.dialect_name == "sqlite" and _sqlite_in_memory(self._spec.url):
            return None
        return SQLAlchemyDataStore(
            self._url,
            serializer=self.serializer,
            create_schema=False,
            engine_options=self._engine_options,
        )

    async def current_time(self) -> datetime:
        """The database server's clock: ``UTC_TIMESTAMP(6)`` on MySQL/MariaDB,
        ``clock_timestamp()`` on PostgreSQL; SQLite, embedded, answers with this host's."""
        dialect = self.dialect_name
        if dialect == "sqlite":
            self._require_engine()
            return utcnow()
        query = "SELECT clock_timestamp()" if dialect == "postgresql" else "SELECT UTC_TIMESTAMP(6)"

        async def body(conn: AsyncConnection) -> datetime:
            value = (await conn.execute(sa.text(query))).scalar_one()
            if not isinstance(value, datetime):
                raise DataStoreError(f"the server's clock answered {value!r}")
            if value.tzinfo is None:
                return value.replace(tzinfo=UTC)
            return value.astimezone(UTC)

        return await self._run("current_time", body, write=False)

    # ------------------------------------------------------------------ writing

    async def add_tasks(self, tasks: Iterable[Task], *, replace_existing: bool = True) -> None:
        rows = [task_to_row(task, payload) for task, payload in self.prepare_tasks(tasks)]
        if not rows:
            return

        async def body(conn: AsyncConnection) -> None:
            rendered = rendered_upsert(conn.dialect, replace=replace_existing)
            if rendered is not None:
                sql, order = rendered
                await conn.exec_driver_sql(
                    sql, [tuple(row[name] for name in order) for row in rows]
                )
                return
            await conn.execute(upsert_statement(conn.dialect.name, replace=replace_existing), rows)

        await self._run("add_tasks", body)

    async def update_execution_times(self, tasks: Iterable[TaskExecutionTime]) -> None:
        times = check_execution_times(tasks)
        if not times:
            return
        new_run_at = {item.task_id: to_epoch_micros(item.run_at) for item in times}

        async def body(conn: AsyncConnection) -> None:
            found = await self._existing(conn, list(new_run_at))
            _require_all(list(new_run_at), found)
            for chunk in _chunks(list(new_run_at), _CHUNK):
                await conn.execute(
                    sa.update(_t)
                    .where(_t.c.task_id.in_(chunk))
                    .values(
                        run_at=sa.case({tid: new_run_at[tid] for tid in chunk}, value=_t.c.task_id),
                        occurrence_at=None,
                        **_NO_CLAIM,
                    )
                )

        await self._run("update_execution_times", body)

    async def update_tasks_paused_status(
        self, task_ids: Iterable[str], paused: bool, *, strict: bool = False
    ) -> set[str]:
        ids = check_ids(task_ids)
        if not ids:
            return set()
        now = to_epoch_micros(utcnow())

        async def body(conn: AsyncConnection) -> set[str]:
            found = await self._existing(conn, ids)
            if strict:
                _require_all(ids, found)
            for chunk in _chunks(sorted(found), _CHUNK):
                await conn.execute(pause_statement(_t.c.task_id.in_(chunk), paused, now))
            return found

        return await self._run("update_tasks_paused_status", body)

    async def update_group_paused_status(self, group_id: str, paused: bool) -> int:
        check_identifier(group_id, "group_id")
        now = to_epoch_micros(utcnow())

        async def body(conn: AsyncConnection) -> int:
            await conn.execute(pause_statement(_t.c.group_id == group_id, paused, now))
            count = sa.select(sa.func.count()).select_from(_t).where(_t.c.group_id == group_id)
            return int((await conn.execute(count)).scalar_one())

        return await self._run("update_group_paused_status", body)

    async def remove_tasks(self, task_ids: Iterable[str]) -> set[str]:
        ids = check_ids(task_ids)
        if not ids:
            return set()

        async def body(conn: AsyncConnection) -> set[str]:
            found = await self._existing(conn, ids)
            for chunk in _chunks(sorted(found), _CHUNK):
                await conn.execute(sa.delete(_t).where(_t.c.task_id.in_(chunk)))
            return found

        return await self._run("remove_tasks", body)

    async def remove_all_tasks(self) -> None:
        async def body(conn: AsyncConnection) -> None:
            await conn.execute(sa.delete(_t))

        await self._run("remove_all_tasks", body)

    async def remove_group_tasks(self, group_id: str) -> int:
        check_identifier(group_id, "group_id")

        async def body(conn: AsyncConnection) -> int:
            result = await conn.execute(sa.delete(_t).where(_t.c.group_id == group_id))
            return int(result.rowcount)

        return await self._run("remove_group_tasks", body)

    async def retry_tasks(self, task_ids: Iterable[str], run_at: datetime) -> set[str]:
        ids = check_ids(task_ids)
        run_at_us = to_epoch_micros(run_at)
        if not ids:
            return set()

        async def body(conn: AsyncConnection) -> set[str]:
            failed = await self._existing(conn, ids, _t.c.failed_at.is_not(None))
            for chunk in _chunks(sorted(failed), _CHUNK):
                await conn.execute(
                    sa.update(_t)
                    .where(_t.c.task_id.in_(chunk), _t.c.failed_at.is_not(None))
                    .values(
                        # Failed rows are kept paused; a task paused by hand has paused_at.
                        paused=_t.c.paused_at.is_not(None),
                        failed_at=None,
                        attempts=0,
                        run_at=run_at_us,
                        occurrence_at=None,
                        **_NO_CLAIM,
                    )
                )
            return failed

        return await self._run("retry_tasks", body)

    async def _existing(
        self, conn: AsyncConnection, ids: list[str], *where: sa.ColumnElement[bool]
    ) -> set[str]:
        """Lock the rows with these ids (and ``where``) and return the ids found."""
        found: set[str] = set()
        for chunk in _chunks(ids, _CHUNK):
            stmt = self._lock_rows(
                sa.select(_t.c.task_id).where(_t.c.task_id.in_(chunk), *where), conn
            )
            found.update((await conn.execute(stmt)).scalars())
        return found

    # ------------------------------------------------------------------ reading

    async def fetch_due_tasks(self, dt: datetime) -> list[Task]:
        due = to_epoch_micros(dt)

        async def body(conn: AsyncConnection) -> list[Task]:
            stmt = (
                sa.select(*_SELECT_COLUMNS)
                .where(_ACTIVE, _t.c.run_at <= due)
                .order_by(_t.c.run_at, _t.c.task_id)
            )
            return self._decode(await conn.execute(stmt))

        return await self._run("fetch_due_tasks", body, write=False)

    async def fetch_next_wakeup(
        self, *, callbacks: Collection[str] | None = None
    ) -> datetime | None:
        names = _callback_names(callbacks)
        if names == []:
            return None

        async def body(conn: AsyncConnection) -> datetime | None:
            stmt = _cached_wakeup(tuple(names) if names is not None else None, conn.dialect.name)
            row = (await conn.execute(stmt)).one()
            times = [value for value in map(_as_micros, row) if value is not None]
            return from_epoch_micros(min(times)) if times else None

        if self._statements is not None:
            return await self._run_alone("fetch_next_wakeup", body)
        return await self._run("fetch_next_wakeup", body, write=False)

    async def fetch_tasks(self, task_ids: Iterable[str]) -> list[Task]:
        ids = check_ids(task_ids)

        async def body(conn: AsyncConnection) -> list[Task]:
            found: dict[str, Task] = {}
            for chunk in _chunks(ids, _CHUNK):
                stmt = sa.select(*_SELECT_COLUMNS).where(_t.c.task_id.in_(chunk))
                for task in self._decode(await conn.execute(stmt)):
                    found[task.task_id] = task
            return [found[task_id] for task_id in ids if task_id in found]

        return await self._run("fetch_tasks", body, write=False)

    async def fetch_group_tasks(self, group_id: str) -> list[Task]:
        check_identifier(group_id, "group_id")

        async def body(conn: AsyncConnection) -> list[Task]:
            stmt = (
                sa.select(*_SELECT_COLUMNS)
                .where(_t.c.group_id == group_id)
                .order_by(_t.c.run_at, _t.c.task_id)
            )
            return self._decode(await conn.execute(stmt))

        return await self._run("fetch_group_tasks", body, write=False)

    async def list_tasks(self, query: TaskQuery) -> TaskPage:
        now = query.now or await self.current_time()
        stmt = list_statement(query, now)

        async def body(conn: AsyncConnection) -> TaskPage:
            await _listing_session(conn)
            rows = list((await conn.execute(stmt)).all())
            tasks = self._decode(rows[: query.limit])
            more = len(rows) > query.limit
            if not more:
                return TaskPage(tasks, None)
            # The cursor is the last row of the page, decodable or not.
            last = rows[query.limit - 1]._mapping
            cursor = TaskCursor(from_epoch_micros(int(last["run_at"])), str(last["task_id"]))
            return TaskPage(tasks, cursor)

        return await self._run("list_tasks", body, write=False)

    async def count_tasks(self, query: TaskQuery, *, limit: int | None = None) -> int:
        now = query.now or await self.current_time()
        stmt = count_statement(query, now, limit)

        async def body(conn: AsyncConnection) -> int:
            await _listing_session(conn)
            return int((await conn.execute(stmt)).scalar_one())

        if limit is not None and limit <= 0:
            return 0
        return await self._run("count_tasks", body, write=False)

    # ------------------------------------------------------------------ claims

    async def acquire_tasks(
        self,
        *,
        worker_id: str,
        now: datetime,
        lease_until: datetime,
        limit: int,
        callbacks: Collection[str] | None = None,
    ) -> list[Claim]:
        names = _callback_names(callbacks)
        if limit <= 0 or names == []:
            return []
        now_us = to_epoch_micros(now)
        lease_us = to_epoch_micros(lease_until)
        lease = from_epoch_micros(lease_us)
        holder = str(worker_id)[: schema.ID_LENGTH]

        routing = tuple(names) if names is not None else None

        async def body(conn: AsyncConnection) -> list[Claim]:
            await claim_session(conn)
            rows: dict[str, Any] = {}
            params = {_CLAIM_NOW.key: now_us, _CLAIM_LIMIT.key: limit}
            for stmt in claim_reads(routing, conn.dialect.name):
                for row in (await conn.execute(stmt, params)).all():
                    rows.setdefault(row._mapping["task_id"], row)
            ordered = sorted(rows.values(), key=_row_order)[:limit]
            token = _new_token(worker_id)
            claims, bad = self._claims_from(ordered, worker_id, token, lease)
            for chunk in _chunks([claim.task_id for claim in claims], _CHUNK):
                await conn.execute(
                    sa.update(_t)
                    .where(_t.c.task_id.in_(chunk))
                    .values(claim_token=token, lease_until=lease_us, claimed_by=holder)
                )
            if bad:
                await conn.execute(_set_aside(bad, now_us))
            return claims

        if self._statements is not None:
            return await self._acquire_alone(worker_id, routing, now_us, lease_us, limit)
        return await self._run("acquire_tasks", body)

    async def _acquire_alone(
        self,
        worker_id: str,
        routing: tuple[str, ...] | None,
        now_us: int,
        lease_us: int,
        limit: int,
    ) -> list[Claim]:
        """PostgreSQL: a claim as one self-committing ``UPDATE ... RETURNING`` (one round trip).

        The statement locks the due rows as :func:`claim_statements` picks
        them, keeps the first ``limit`` and stamps them, all at once; its
        session's planner settings are those :data:`_PG_CLAIM_SETTINGS` sets
        in a transaction. A record that can't be decoded was stamped too: a
        second statement sets it aside (under this claim's token only).
        """
        token = _new_token(worker_id)
        lease = from_epoch_micros(lease_us)
        holder = str(worker_id)[: schema.ID_LENGTH]
        stmt = claim_update_statement(routing)
        params = claim_params(now_us, limit, token=token, lease_us=lease_us, holder=holder)

        async def body(conn: AsyncConnection) -> list[Claim]:
            rows = sorted((await conn.execute(stmt, params)).all(), key=_row_order)
            claims, bad = self._claims_from(rows, worker_id, token, lease)
            if bad:
                # Stamped by the statement above: set aside while this claim holds them.
                await conn.execute(_set_aside(bad, now_us).where(_t.c.claim_token == token))
            return claims

        return await self._run_alone("acquire_tasks", body)

    def _claims_from(
        self, rows: Iterable[Any], worker_id: str, token: str, lease: datetime
    ) -> tuple[list[Claim], list[str]]:
        """The claims of claimed rows, and the ids of those that can't be decoded (logged)."""
        claims: list[Claim] = []
        bad: list[str] = []
        for row in rows:
            try:
                task = row_to_task(row, self.serializer)
            except MalformedRecordError as exc:
                task_id = row._mapping["task_id"]
                log.warning("setting stored task %r aside for %s: %s", task_id, SET_ASIDE_FOR, exc)
                bad.append(task_id)
                continue
            task.claimed_by, task.lease_until = worker_id, lease
            claims.append(Claim(task, token, lease))
        return claims, bad

    async def _held(
        self, conn: AsyncConnection, pairs: Iterable[tuple[str, str]], *, lock: bool = True
    ) -> dict[str, tuple[str, Any]]:
        """Lock the named rows; return ``{task_id: (token, row)}`` of those whose token is given.

        Only consistent claims (a token and a lease) count. ``lock=False``: a
        plain read, for a check that changes nothing.
        """
        tokens: dict[str, set[str]] = {}
        for task_id, token in pairs:
            tokens.setdefault(task_id, set()).add(token)
        held: dict[str, tuple[str, Any]] = {}
        for chunk in _chunks(list(tokens), _CHUNK):
            stmt = sa.select(_t.c.task_id, _t.c.claim_token, _t.c.paused, _t.c.failed_at).where(
                _t.c.task_id.in_(chunk), _t.c.lease_until.is_not(None)
            )
            if lock:
                stmt = self._lock_rows(stmt, conn)
            for row in (await conn.execute(stmt)).all():
                current = row.claim_token
                if current is not None and current in tokens.get(row.task_id, ()):
                    held[row.task_id] = (current, row)
        return held

    async def complete_tasks(self, completions: Sequence[Completion]) -> set[str]:
        if not completions:
            return set()

        async def body(conn: AsyncConnection) -> set[str]:
            deleted, rest = await self._delete_finished(conn, completions)
            if not rest:
                return deleted
            held = await self._held(conn, ((c.task_id, c.token) for c in rest))
            outcome: dict[str, Completion] = {}
            for item in rest:
                current = held.get(item.task_id)
                if current is not None and current[0] == item.token:
                    # The first completion of a claim spends it: a second changes nothing.
                    outcome.setdefault(item.task_id, item)
            finished = [tid for tid, item in outcome.items() if item.removes]
            for chunk in _chunks(finished, _CHUNK):
                await conn.execute(sa.delete(_t).where(_t.c.task_id.in_(chunk)))
            kept = [item for item in outcome.values() if not item.removes]
            failed = [item for item in kept if item.failed_at is not None]
            again = [item for item in kept if item.failed_at is None]
            for items in _chunks(failed, _CHUNK):
                await conn.execute(_completion_update(items, _FAIL_FIELDS, paused=True))
            for items in _chunks(again, _CHUNK):
                await conn.execute(_completion_update(items, _MOVE_FIELDS))
            return deleted | set(outcome)

        return await self._run("complete_tasks", body)

    async def _delete_finished(
        self, conn: AsyncConnection, completions: Sequence[Completion]
    ) -> tuple[set[str], Sequence[Completion]]:
        """Delete the finished tasks still held, where a DELETE can say which it deleted.

        One ``DELETE ... WHERE claim_token = :token AND task_id IN (...)
        RETURNING task_id`` per claim token (the tasks of one claim share it)
        instead of a locking read and then a DELETE: the token check is the
        DELETE's own, made on the row it locks. Returns the ids deleted and the
        completions left for the general path: every one where the database
        has no ``DELETE ... RETURNING`` (MySQL 8), and any whose task id comes
        twice in the batch (only the current token's may apply, and that one
        may move the task rather than delete it).
        """
        if not conn.dialect.delete_returning:
            return set(), completions
        seen = collections.Counter(item.task_id for item in completions)
        by_token: dict[str, list[str]] = {}
        rest: list[Completion] = []
        for item in completions:
            if item.removes and seen[item.task_id] == 1:
                by_token.setdefault(item.token, []).append(item.task_id)
            else:
                rest.append(item)
        deleted: set[str] = set()
        for token, ids in by_token.items():
            for chunk in _chunks(ids, _CHUNK):
                stmt = (
                    sa.delete(_t)
                    .where(
                        _t.c.claim_token == token,
                        _t.c.lease_until.is_not(None),
                        _t.c.task_id.in_(chunk),
                    )
                    .returning(_t.c.task_id)
                )
                deleted.update((await conn.execute(stmt)).scalars())
        return deleted, rest

    async def extend_leases(self, claims: Sequence[Claim], lease_until: datetime) -> set[str]:
        if not claims:
            return set()
        lease_us = to_epoch_micros(lease_until)

        async def body(conn: AsyncConnection) -> set[str]:
            held = await self._held(conn, ((c.task_id, c.token) for c in claims))
            for chunk in _chunks(sorted(held), _CHUNK):
                await conn.execute(
                    sa.update(_t).where(_t.c.task_id.in_(chunk)).values(lease_until=lease_us)
                )
            return set(held)

        return await self._run("extend_leases", body)

    async def confirm_claims(self, claims: Sequence[Claim], lease_until: datetime) -> set[str]:
        """The claims whose task is still held by them, unpaused and not failed: one read.

        A plain read (no row locks, no write): it runs just before a prefetched
        task starts, so it must cost one quick round trip, never a commit that
        waits for the disk or for another writer. The leases are left as they
        are; the worker's heartbeat renews them (``lease_until`` is unused).
        """
        if not claims:
            return set()

        async def body(conn: AsyncConnection) -> set[str]:
            held = await self._held(conn, ((c.task_id, c.token) for c in claims), lock=False)
            return {
                task_id
                for task_id, (_, row) in held.items()
                if not row.paused and row.failed_at is None
            }

        if self._statements is not None:
            return await self._run_alone("confirm_claims", body)
        return await self._run("confirm_claims", body, write=False)

    async def release_tasks(self, claims: Sequence[Claim]) -> set[str]:
        if not claims:
            return set()

        async def body(conn: AsyncConnection) -> set[str]:
            held = await self._held(conn, ((c.task_id, c.token) for c in claims))
            for chunk in _chunks(sorted(held), _CHUNK):
                await conn.execute(sa.update(_t).where(_t.c.task_id.in_(chunk)).values(**_NO_CLAIM))
            return set(held)

        return await self._run("release_tasks", body)

    # ------------------------------------------------------------------ worker registry

    async def register_worker(self, info: WorkerInfo) -> None:
        row = {
            "worker_id": info.worker_id,
            "host": str(info.host)[: schema.ID_LENGTH],
            "pid": int(info.pid),
            "started_at": to_epoch_micros(info.started_at),
            "heartbeat_at": to_epoch_micros(info.heartbeat_at),
            "expires_at": to_epoch_micros(info.expires_at),
            "running": int(info.running),
            "held": int(info.held),
            "callbacks": json.dumps(list(info.callbacks)),
            "kind": str(info.kind),
            "version": str(info.version),
        }

        async def body(conn: AsyncConnection) -> None:
            await conn.execute(worker_upsert_statement(conn.dialect.name), row)

        await self._run("register_worker", body)

    async def remove_worker(self, worker_id: str) -> None:
        async def body(conn: AsyncConnection) -> None:
            await conn.execute(sa.delete(_w).where(_w.c.worker_id == worker_id))

        await self._run("remove_worker", body)

    async def fetch_workers(self, now: datetime) -> list[WorkerInfo]:
        now_us = to_epoch_micros(now)

        async def body(conn: AsyncConnection) -> list[WorkerInfo]:
            await conn.execute(sa.delete(_w).where(_w.c.expires_at <= now_us))
            rows = await conn.execute(sa.select(_w).order_by(_w.c.worker_id))
            workers = []
            for row in rows:
                try:
                    workers.append(_row_to_worker(row._mapping))
                except (TypeError, ValueError, OverflowError) as exc:
                    log.warning("skipping worker record %r: %s", row._mapping["worker_id"], exc)
            return workers

        return await self._run("fetch_workers", body)


# ---------------------------------------------------------------------- statements

#: The columns that hold a claim, cleared.
_NO_CLAIM: dict[str, Any] = {"claim_token": None, "lease_until": None, "claimed_by": None}
_ACTIVE = schema.ACTIVE
#: What a completion records, by column: of a failure, and of a run that moves on.
_FAIL_FIELDS: dict[str, Callable[[Completion], Any]] = {
    "failed_at": lambda item: micros(item.failed_at),
    "attempts": lambda item: int(item.attempts),
    "last_error": lambda item: item.last_error,
    "last_run_at": lambda item: micros(item.last_run_at),
}
_MOVE_FIELDS: dict[str, Callable[[Completion], Any]] = {
    "run_at": lambda item: micros(item.next_run_at),
    "occurrence_at": lambda item: micros(item.occurrence_at),
    "attempts": lambda item: int(item.attempts),
    "last_error": lambda item: item.last_error,
    "last_run_at": lambda item: micros(item.last_run_at),
}


def _completion_update(
    items: list[Completion], fields: dict[str, Callable[[Completion], Any]], **fixed: Any
) -> sa.Update:
    """One UPDATE for a chunk of completions, dropping their claims.

    A column whose value is the same for every task (a batch of clean runs:
    no error, no attempts) is set to that value; the others take theirs from
    a ``CASE task_id`` (typed, so a NULL stays the column's type).
    """
    values: dict[str, Any] = dict(fixed, **_NO_CLAIM)
    for name, read in fields.items():
        column = _t.c[name]
        per_task = {item.task_id: read(item) for item in items}
        distinct = set(per_task.values())
        if len(distinct) == 1:
            values[name] = sa.literal(distinct.pop(), column.type)
        else:
            values[name] = sa.case(
                {tid: sa.literal(value, column.type) for tid, value in per_task.items()},
                value=_t.c.task_id,
            )
    ids = [item.task_id for item in items]
    return sa.update(_t).where(_t.c.task_id.in_(ids)).values(**values)


# The held halves filter the few rows of a held-rows index by run_at. Written as
# an expression (``run_at + 0``) the column offers the planner no index of its
# own, so however many tasks are due (and with no statistics) the held-rows
# index is the only plan.
_HELD_RUN_AT = _t.c.run_at + 0


def _set_aside(task_ids: list[str], now_us: int) -> sa.Update:
    """Hold rows that can't be decoded aside for ``SET_ASIDE_FOR``, under a token of their own."""
    return (
        sa.update(_t)
        .where(_t.c.task_id.in_(task_ids))
        .values(
            claim_token=_new_token("set-aside"),
            lease_until=now_us + _SET_ASIDE_MICROS,
            claimed_by=None,
        )
    )


def _callback_names(callbacks: Collection[str] | None) -> list[str] | None:
    if callbacks is None:
        return None
    if isinstance(callbacks, str):
        callbacks = [callbacks]
    return sorted(set(callbacks))


def _routed(
    where: list[Any], names: list[str] | None, order: Any, limit: Any
) -> tuple[sa.Select[Any], bool]:
    """``SELECT`` the task columns matching ``where``, first ``limit`` by ``order``.

    Unrouted or for one callback: one index-ordered statement. For several
    callbacks: a ``UNION ALL`` of one index-ordered ``LIMIT`` per callback,
    merged and cut to ``limit``, so the cost follows the batch and not the
    number of tasks due (the second value is then ``True``).
    """
    if names is None or len(names) == 1:
        extra = [] if names is None else [_t.c.callback == names[0]]
        stmt = sa.select(*_SELECT_COLUMNS).where(*where, *extra).order_by(order).limit(limit)
        return stmt, False
    parts = [
        sa.select(*_SELECT_COLUMNS)
        .where(*where, _t.c.callback == name)
        .order_by(order)
        .limit(limit)
        .subquery()
        for name in names
    ]
    # Each part is wrapped in a SELECT: SQLite takes no LIMIT inside a compound's members.
    merged = sa.union_all(*(sa.select(*part.c) for part in parts)).subquery()
    return sa.select(*merged.c).order_by(merged.c[order.name]).limit(limit), True


def wakeup_statement(names: list[str] | None, dialect: str) -> sa.Select[Any]:
    """The earliest claimable instant, as one row of index-ordered ``LIMIT 1`` probes (issue 18).

    Free rows: the first ``run_at`` of the free-rows index. Held rows (claims
    in flight) can be claimed at ``max(run_at, lease_until)``: the first
    ``lease_until`` of the held rows whose lease ends after their ``run_at``,
    and the first ``run_at`` of the others, each from a held-rows index. When
    routed, the three probes are made per callback. No ``OR`` crosses columns
    outside the partial indexes' own predicates, and nothing aggregates: a
    planner without statistics can't prefer a table scan to reading one index
    entry. The bound on run_at leaves out what SQLite may hold that isn't a
    number.
    """
    numeric = _t.c.run_at <= _MAX_MICROS

    # MySQL/MariaDB have no held-rows index ordered by run_at: there the last probe
    # reads the held rows through the lease_until index and sorts those few.
    held_run_at = _HELD_RUN_AT if dialect in ("mysql", "mariadb") else _t.c.run_at

    def first(column: Any, index: str, *where: Any, order: Any = None) -> sa.ScalarSelect[Any]:
        stmt = sa.select(column).where(*where).order_by(column if order is None else order)
        return _force_index(stmt, index).limit(1).scalar_subquery()

    def probes(*routed: Any) -> list[sa.ScalarSelect[Any]]:
        held = (_ACTIVE, schema.HELD, *routed)
        free_index, held_index = _MYSQL_FREE[bool(routed)], _MYSQL_HELD[bool(routed)]
        return [
            first(_t.c.run_at, free_index, _ACTIVE, schema.FREE, numeric, *routed),
            first(_t.c.lease_until, held_index, *held, _t.c.lease_until >= _HELD_RUN_AT),
            first(
                _t.c.run_at,
                held_index,
                *held,
                _t.c.lease_until < _t.c.run_at,
                numeric,
                order=held_run_at,
            ),
        ]

    if names is None:
        return sa.select(*probes())
    return sa.select(*(p for name in names for p in probes(_t.c.callback == name)))


def claim_statements(
    names: list[str] | None, now_us: Any, limit: Any, *, dialect: str
) -> list[sa.Select[Any]]:
    """The SELECTs of a claim: free due rows, then lapsed claims; each at most ``limit`` rows.

    Each walks one index in order and stops at ``limit`` (per callback when
    routed, see :func:`_routed`): the free half the free-rows index
    (PostgreSQL/SQLite) or ``(paused, run_at)`` / ``(callback, paused,
    run_at)`` (MySQL/MariaDB); the lapsed half a held-rows index (claims in
    flight only), oldest lease first. Except on SQLite (whose write
    transaction holds the whole file) rows another transaction is claiming
    are skipped, not waited for: ``FOR UPDATE SKIP LOCKED``. PostgreSQL locks
    the rows a routed union picked by id (a union can't be locked itself);
    MySQL/MariaDB, which keep statistics, take ``callback IN (...)`` directly.
    """
    halves = [
        ([_ACTIVE, schema.FREE, _t.c.run_at <= now_us], _t.c.run_at, _MYSQL_FREE),
        (
            [_ACTIVE, schema.HELD, _t.c.lease_until <= now_us, _HELD_RUN_AT <= now_us],
            _t.c.lease_until,
            _MYSQL_HELD,
        ),
    ]
    statements = []
    for where, order, mysql_indexes in halves:
        if dialect == "sqlite":
            statements.append(_routed(where, names, order, limit)[0])
        elif dialect in ("mysql", "mariadb"):
            stmt = sa.select(*_SELECT_COLUMNS).where(*where)
            if names is not None:
                stmt = stmt.where(_t.c.callback.in_(names))
            stmt = _force_index(stmt, mysql_indexes[names is not None])
            statements.append(stmt.order_by(order).limit(limit).with_for_update(skip_locked=True))
        else:
            stmt, merged = _routed(where, names, order, limit)
            if merged:
                picked = stmt.subquery()
                stmt = sa.select(*_SELECT_COLUMNS).where(
                    _t.c.task_id.in_(sa.select(picked.c.task_id)), *where
                )
            statements.append(stmt.with_for_update(skip_locked=True))
    return statements


#: The bound parameters of the cached claim statements (see :func:`claim_params`).
_CLAIM_NOW = sa.bindparam("claim_now", type_=sa.BigInteger())
_CLAIM_LIMIT = sa.bindparam("claim_limit", type_=sa.Integer())
_NEW_TOKEN = sa.bindparam("claim_new_token", type_=sa.String())
_NEW_LEASE = sa.bindparam("claim_new_lease", type_=sa.BigInteger())
_NEW_HOLDER = sa.bindparam("claim_new_holder", type_=sa.String())


def claim_params(
    now_us: int,
    limit: int,
    *,
    token: str | None = None,
    lease_us: int | None = None,
    holder: str | None = None,
) -> dict[str, Any]:
    """The values of one execution of :func:`claim_reads` or :func:`claim_update_statement`."""
    params: dict[str, Any] = {_CLAIM_NOW.key: now_us, _CLAIM_LIMIT.key: limit}
    if token is not None:
        params |= {_NEW_TOKEN.key: token, _NEW_LEASE.key: lease_us, _NEW_HOLDER.key: holder}
    return params


@functools.lru_cache(maxsize=128)
def claim_reads(names: tuple[str, ...] | None, dialect: str) -> tuple[sa.Executable, ...]:
    """The locking reads of a claim, built once per routing and dialect (bound: ``claim_params``).

    Building them is the costly part of SQLAlchemy's work (a few milliseconds
    of column bookkeeping for the CTEs and unions), so each is built once and
    executed with new values. MySQL/MariaDB and PostgreSQL: both halves as
    one statement (:func:`_one_round_trip`). SQLite: the two halves, then the
    rows whose ``run_at`` isn't a number (SQLite keeps whatever a column is
    given, and such a value sorts after every number, so it is never due by
    the halves): an index range, empty when all is well, read so that they
    are logged and set aside like any other broken record.
    """
    routed = list(names) if names is not None else None
    halves = claim_statements(routed, _CLAIM_NOW, _CLAIM_LIMIT, dialect=dialect)
    if dialect != "sqlite":
        return (_one_round_trip(halves, dialect),)
    odd = (
        sa.select(*_SELECT_COLUMNS)
        .where(
            _ACTIVE,
            _t.c.run_at > _MAX_MICROS,
            sa.or_(schema.FREE, _t.c.lease_until <= _CLAIM_NOW),
        )
        .limit(_CLAIM_LIMIT)
    )
    return (*halves, odd)


@functools.lru_cache(maxsize=128)
def _cached_wakeup(names: tuple[str, ...] | None, dialect: str) -> sa.Select[Any]:
    return wakeup_statement(list(names) if names is not None else None, dialect)


@functools.lru_cache(maxsize=128)
def claim_update_statement(names: tuple[str, ...] | None) -> sa.Update:
    """:func:`build_claim_update`, built once per routing; executed with :func:`claim_params`."""
    routed = list(names) if names is not None else None
    return build_claim_update(routed, _CLAIM_NOW, _CLAIM_LIMIT, _NEW_TOKEN, _NEW_LEASE, _NEW_HOLDER)


def build_claim_update(
    names: list[str] | None, now_us: Any, limit: Any, token: Any, lease_us: Any, holder: Any
) -> sa.Update:
    """PostgreSQL: :func:`claim_statements` and the stamping ``UPDATE`` as one statement.

    ``WITH`` the two locking halves, the first ``limit`` of their ids by
    ``(run_at, task_id)``, ``UPDATE`` those rows ``FROM`` that list and
    ``RETURNING`` them. The halves lock up to ``limit`` rows each; those not
    kept are unlocked when the statement ends.
    """
    halves = [
        stmt.cte(f"claim_half_{n}")
        for n, stmt in enumerate(claim_statements(names, now_us, limit, dialect="postgresql"))
    ]
    both = sa.union_all(*(sa.select(half.c.task_id, half.c.run_at) for half in halves)).subquery(
        "claimable"
    )
    picked = (
        sa.select(both.c.task_id)
        .order_by(both.c.run_at, both.c.task_id)
        .limit(limit)
        .cte("claim_picked")
    )
    return (
        sa.update(_t)
        .where(_t.c.task_id == picked.c.task_id)
        .values(claim_token=token, lease_until=lease_us, claimed_by=holder)
        .returning(*_SELECT_COLUMNS)
    )


def _one_round_trip(statements: list[sa.Select[Any]], dialect: str) -> sa.CompoundSelect:
    """The halves of a claim as one statement, so that a claim costs one round trip, not two.

    MySQL/MariaDB: ``(half) UNION ALL (half)``, each part keeping its index,
    ``LIMIT`` and ``FOR UPDATE SKIP LOCKED``. PostgreSQL, which can't lock
    the parts of a union: each half a locking CTE (run as written, never
    folded into the outer query), then ``UNION ALL`` of the two.
    """
    if dialect in ("mysql", "mariadb"):
        return sa.union_all(*statements)
    ctes = [stmt.cte(f"claim_half_{n}") for n, stmt in enumerate(statements)]
    return sa.union_all(*(sa.select(cte) for cte in ctes))


#: MySQL/MariaDB indexes of the free and held halves, unrouted and routed. MariaDB's
#: ORDER BY ... LIMIT heuristics may otherwise walk (paused, run_at) in order and
#: filter by callback, which costs as many rows as other callbacks have before the
#: first match; FORCE INDEX names the index whose range holds exactly the rows asked for.
_MYSQL_FREE = ("ix_taskshed_data_paused_run_at", "ix_taskshed_data_callback_paused_run_at")
_MYSQL_HELD = ("ix_taskshed_data_lease_until", "ix_taskshed_data_lease_until")


def _force_index(stmt: sa.Select[Any], index: str) -> sa.Select[Any]:
    """``stmt`` reading the tasks table through ``index`` (MySQL/MariaDB only)."""
    for dialect in ("mysql", "mariadb"):
        stmt = stmt.with_hint(_t, f"FORCE INDEX ({index})", dialect_name=dialect)
    return stmt


def _row_order(row: Any) -> tuple[int, str]:
    mapping = row._mapping
    micros_ = _as_micros(mapping["run_at"])
    return (micros_ if micros_ is not None else _MAX_MICROS, str(mapping["task_id"]))


def _query_filter(query: TaskQuery, now: datetime) -> list[sa.ColumnElement[bool]]:
    """``query``'s filters (not its cursor) as SQL, with states judged at ``now``."""
    where: list[sa.ColumnElement[bool]] = []
    if query.group_id is not None:
        where.append(_t.c.group_id == query.group_id)
    if query.callback is not None:
        where.append(_t.c.callback == query.callback)
    if query.claimed_by is not None:
        where.append(sa.and_(schema.HELD, _t.c.claimed_by == query.claimed_by))
    if query.due_before is not None:
        where.append(_t.c.run_at < to_epoch_micros(query.due_before))
    if query.due_after is not None:
        where.append(_t.c.run_at >= to_epoch_micros(query.due_after))
    if query.state is not None:
        now_us = to_epoch_micros(now)
        claimed = sa.and_(schema.HELD, _t.c.lease_until > now_us)
        unfailed = _t.c.failed_at.is_(None)
        where.append(
            {
                "failed": _t.c.failed_at.is_not(None),
                "paused": sa.and_(_t.c.paused == sa.true(), unfailed),
                "claimed": sa.and_(_ACTIVE, claimed),
                "due": sa.and_(_ACTIVE, sa.not_(claimed), _t.c.run_at <= now_us),
                "scheduled": sa.and_(_ACTIVE, sa.not_(claimed), _t.c.run_at > now_us),
            }[query.state]
        )
    return where


def list_statement(query: TaskQuery, now: datetime) -> sa.Select[Any]:
    """One keyset page (and one row more, to tell whether another follows)."""
    where = _query_filter(query, now)
    if query.after is not None:
        run_at = to_epoch_micros(query.after.run_at)
        # The first condition bounds an index range; the second skips the page before.
        where.append(_t.c.run_at >= run_at)
        where.append(sa.or_(_t.c.run_at > run_at, _t.c.task_id > query.after.task_id))
    return (
        sa.select(*_SELECT_COLUMNS)
        .where(*where)
        .order_by(_t.c.run_at, _t.c.task_id)
        .limit(query.limit + 1)
    )


def count_statement(query: TaskQuery, now: datetime, limit: int | None) -> sa.Select[Any]:
    inner = sa.select(_t.c.task_id).where(*_query_filter(query, now))
    if limit is not None:
        inner = inner.limit(limit)
    return sa.select(sa.func.count()).select_from(inner.subquery())


#: PostgreSQL settings of a claim's transaction (``set_config(..., true)``: this
#: transaction only). Without statistics (right after a bulk load) the planner
#: may think few rows are due and collect them all through a bitmap to sort
#: them, which a backlog makes as slow as its size; these leave it the
#: index-ordered walk that stops after the batch.
_PG_CLAIM_SETTINGS = sa.text(
    "SELECT "
    + ", ".join(
        f"set_config('{name}', '{value}', true)" for name, value in PG_INDEX_ONLY_PLANS.items()
    )
)


async def claim_session(conn: AsyncConnection) -> None:
    """Prepare a transaction for :func:`claim_statements` (PostgreSQL: see above)."""
    if conn.dialect.name == "postgresql":
        await conn.execute(_PG_CLAIM_SETTINGS)


async def _listing_session(conn: AsyncConnection) -> None:
    # PostgreSQL's JIT compiled each listing (a second apiece on small pages):
    # off for this transaction only.
    if conn.dialect.name == "postgresql":
        await conn.execute(sa.text("SET LOCAL jit = off"))


def _require_all(ids: list[str], found: set[str]) -> None:
    for task_id in ids:
        if task_id not in found:
            raise TaskNotFoundError(f"task with ID {task_id} not found.")


def _row_to_worker(mapping: Any) -> WorkerInfo:
    callbacks = json.loads(mapping["callbacks"])
    if not isinstance(callbacks, list):
        raise ValueError("callbacks is not a list")
    return WorkerInfo(
        worker_id=mapping["worker_id"],
        host=mapping["host"],
        pid=int(mapping["pid"]),
        started_at=from_epoch_micros(int(mapping["started_at"])),
        heartbeat_at=from_epoch_micros(int(mapping["heartbeat_at"])),
        expires_at=from_epoch_micros(int(mapping["expires_at"])),
        running=int(mapping["running"]),
        held=int(mapping["held"]),
        callbacks=tuple(str(name) for name in callbacks),
        kind=mapping["kind"],
        version=mapping["version"],
    )


def _sqlite_in_memory(url: Any) -> bool:
    database = url.database or ""
    return database in ("", ":memory:") or "mode=memory" in str(url.query)


def _as_micros(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError, OverflowError):
        return None


def _new_token(worker_id: str) -> str:
    prefix = str(worker_id)[: schema.TOKEN_LENGTH - 40]
    return f"{prefix}/{uuid.uuid4().hex}"


def _chunks(items: Sequence[T], size: int) -> Iterator[list[T]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


def _is_transient(exc: sa.exc.DBAPIError) -> bool:
    orig = exc.orig
    args = getattr(orig, "args", ())
    if args and isinstance(args[0], int) and args[0] in _MYSQL_TRANSIENT:
        return True
    if (
        getattr(orig, "sqlstate", None) in _PG_TRANSIENT
        or getattr(orig, "pgcode", None) in _PG_TRANSIENT
    ):
        return True
    return "database is locked" in str(orig)


def _describe(exc: BaseException) -> str:
    """The driver's own error, without the statement and its parameters."""
    orig = getattr(exc, "orig", None) or exc
    return f"{type(orig).__name__}: {orig}"
