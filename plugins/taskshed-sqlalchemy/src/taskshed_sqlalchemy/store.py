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
import logging
import uuid
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from datetime import datetime
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
from taskshed.models import Task, TaskExecutionTime
from taskshed.serializers.base import Serializer
from taskshed.serializers.json import JSONSerializer
from taskshed.timeutils import from_epoch_micros, to_epoch_micros, utcnow
from taskshed.urls import URL
from taskshed.validation import check_execution_times, check_identifier, check_ids
from taskshed_sqlalchemy import schema
from taskshed_sqlalchemy.engines import create_engine, prepare_engine, set_sqlite_begin
from taskshed_sqlalchemy.rows import TASK_COLUMNS, row_to_task, task_to_row
from taskshed_sqlalchemy.schema_check import check_schema
from taskshed_sqlalchemy.statements import pause_statement, upsert_statement
from taskshed_sqlalchemy.urls import engine_spec

log = logging.getLogger(__name__)

T = TypeVar("T")

_t = schema.tasks_table
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
        self._start_lock = asyncio.Lock()
        # An in-memory SQLite database lives on one shared connection (StaticPool):
        # its transactions must take turns.
        self._one_connection: asyncio.Lock | None = None

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
            if isinstance(engine.pool, sa.pool.StaticPool):
                self._one_connection = asyncio.Lock()

    async def shutdown(self) -> None:
        async with self._start_lock:
            engine, self._engine = self._engine, None
            if engine is not None and self._given_engine is None:
                await engine.dispose()

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
        return await self._attempt(engine, what, body, write)

    async def _attempt(
        self,
        engine: AsyncEngine,
        what: str,
        body: Callable[[AsyncConnection], Awaitable[T]],
        write: bool,
    ) -> T:
        for attempt in range(1, _ATTEMPTS + 1):
            try:
                async with engine.connect() as conn:
                    await set_sqlite_begin(conn, "IMMEDIATE" if write else "DEFERRED")
                    async with conn.begin():
                        return await body(conn)
            except TaskshedError:
                raise
            except sa.exc.DBAPIError as exc:
                # A lost deadlock, or a pooled connection the server had closed
                # (after a restart, say): SQLAlchemy has discarded it, try anew.
                # Every operation is safe to repeat: writes are upserts or
                # token-fenced, and a repeated claim only delays its tasks.
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

    # ------------------------------------------------------------------ writing

    async def add_tasks(self, tasks: Iterable[Task], *, replace_existing: bool = True) -> None:
        rows = [task_to_row(task, payload) for task, payload in self.prepare_tasks(tasks)]
        if not rows:
            return

        async def body(conn: AsyncConnection) -> None:
            await conn.execute(upsert_statement(conn.dialect.name, replace=replace_existing), rows)

        await self._run("add_tasks", body)

    async def update_execution_times(self, tasks: Iterable[TaskExecutionTime]) -> None:
        times = check_execution_times(tasks)
        if not times:
            return
        new_run_at = {item.task_id: to_epoch_micros(item.run_at) for item in times}

        async def body(conn: AsyncConnection) -> None:
            await self._require_existing(conn, list(new_run_at))
            for chunk in _chunks(list(new_run_at), _CHUNK):
                await conn.execute(
                    sa.update(_t)
                    .where(_t.c.task_id.in_(chunk))
                    .values(
                        run_at=sa.case({tid: new_run_at[tid] for tid in chunk}, value=_t.c.task_id),
                        claim_token=None,
                        lease_until=None,
                    )
                )

        await self._run("update_execution_times", body)

    async def update_tasks_paused_status(self, task_ids: Iterable[str], paused: bool) -> None:
        ids = check_ids(task_ids)
        if not ids:
            return
        now = to_epoch_micros(utcnow())

        async def body(conn: AsyncConnection) -> None:
            await self._require_existing(conn, ids)
            for chunk in _chunks(ids, _CHUNK):
                await conn.execute(pause_statement(_t.c.task_id.in_(chunk), paused, now))

        await self._run("update_tasks_paused_status", body)

    async def update_group_paused_status(self, group_id: str, paused: bool) -> None:
        check_identifier(group_id, "group_id")
        now = to_epoch_micros(utcnow())

        async def body(conn: AsyncConnection) -> None:
            await conn.execute(pause_statement(_t.c.group_id == group_id, paused, now))

        await self._run("update_group_paused_status", body)

    async def remove_tasks(self, task_ids: Iterable[str]) -> None:
        ids = check_ids(task_ids)
        if not ids:
            return

        async def body(conn: AsyncConnection) -> None:
            for chunk in _chunks(ids, _CHUNK):
                await conn.execute(sa.delete(_t).where(_t.c.task_id.in_(chunk)))

        await self._run("remove_tasks", body)

    async def remove_all_tasks(self) -> None:
        async def body(conn: AsyncConnection) -> None:
            await conn.execute(sa.delete(_t))

        await self._run("remove_all_tasks", body)

    async def remove_group_tasks(self, group_id: str) -> None:
        check_identifier(group_id, "group_id")

        async def body(conn: AsyncConnection) -> None:
            await conn.execute(sa.delete(_t).where(_t.c.group_id == group_id))

        await self._run("remove_group_tasks", body)

    async def _require_existing(self, conn: AsyncConnection, ids: list[str]) -> None:
        found: set[str] = set()
        for chunk in _chunks(ids, _CHUNK):
            stmt = self._lock_rows(sa.select(_t.c.task_id).where(_t.c.task_id.in_(chunk)), conn)
            found.update((await conn.execute(stmt)).scalars())
        for task_id in ids:
            if task_id not in found:
                raise TaskNotFoundError(f"task with ID {task_id} not found.")

    # ------------------------------------------------------------------ reading

    async def fetch_due_tasks(self, dt: datetime) -> list[Task]:
        due = to_epoch_micros(dt)

        async def body(conn: AsyncConnection) -> list[Task]:
            stmt = (
                sa.select(*_SELECT_COLUMNS)
                .where(_t.c.paused == sa.false(), _t.c.run_at <= due)
                .order_by(_t.c.run_at)
            )
            return self._decode(await conn.execute(stmt))

        return await self._run("fetch_due_tasks", body, write=False)

    async def fetch_next_wakeup(self) -> datetime | None:
        async def body(conn: AsyncConnection) -> datetime | None:
            # Two index-friendly halves: the earliest unclaimed task (walks the
            # (paused, run_at) index) and the earliest end of a claim (the
            # claimed rows only, through the lease_until index). The bound on
            # run_at leaves out what SQLite may hold that isn't a number.
            numeric = _t.c.run_at <= _MAX_MICROS
            unclaimed = (
                sa.select(_t.c.run_at)
                .where(_t.c.paused == sa.false(), _t.c.lease_until.is_(None), numeric)
                .order_by(_t.c.run_at)
                .limit(1)
                .scalar_subquery()
            )
            claim_end = sa.case(
                (_t.c.lease_until > _t.c.run_at, _t.c.lease_until), else_=_t.c.run_at
            )
            claimed = (
                sa.select(sa.func.min(claim_end))
                .where(_t.c.paused == sa.false(), _t.c.lease_until.is_not(None), numeric)
                .scalar_subquery()
            )
            row = (await conn.execute(sa.select(unclaimed, claimed))).one()
            times = [value for value in map(_as_micros, row) if value is not None]
            return from_epoch_micros(min(times)) if times else None

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

    # ------------------------------------------------------------------ claims

    async def acquire_tasks(
        self, *, worker_id: str, now: datetime, lease_until: datetime, limit: int
    ) -> list[Claim]:
        if limit <= 0:
            return []
        now_us = to_epoch_micros(now)
        lease_us = to_epoch_micros(lease_until)

        async def body(conn: AsyncConnection) -> list[Claim]:
            free = sa.or_(_t.c.claim_token.is_(None), _t.c.lease_until <= now_us)
            stmt = (
                sa.select(*_SELECT_COLUMNS)
                .where(_t.c.paused == sa.false(), _t.c.run_at <= now_us, free)
                .order_by(_t.c.run_at)
                .limit(limit)
            )
            if conn.dialect.name != "sqlite":
                # Rows another worker is claiming right now are skipped, not waited for.
                stmt = stmt.with_for_update(skip_locked=True)
            rows = list((await conn.execute(stmt)).all())
            if conn.dialect.name == "sqlite":
                # SQLite keeps whatever a column is given: a run_at that isn't an
                # integer sorts after every number, so it is never due above.
                # Fetch such rows (an index range, empty when all is well) so
                # they are logged and set aside like any other broken record.
                odd = (
                    sa.select(*_SELECT_COLUMNS)
                    .where(_t.c.paused == sa.false(), _t.c.run_at > _MAX_MICROS, free)
                    .limit(limit)
                )
                rows.extend((await conn.execute(odd)).all())
            token = _new_token(worker_id)
            claims: list[Claim] = []
            bad: list[str] = []
            for row in rows:
                try:
                    task = row_to_task(row, self.serializer)
                except MalformedRecordError as exc:
                    task_id = row._mapping["task_id"]
                    log.warning(
                        "setting stored task %r aside for %s: %s", task_id, SET_ASIDE_FOR, exc
                    )
                    bad.append(task_id)
                    continue
                claims.append(Claim(task, token, lease_until))
            if claims:
                await conn.execute(
                    sa.update(_t)
                    .where(_t.c.task_id.in_([claim.task_id for claim in claims]))
                    .values(claim_token=token, lease_until=lease_us)
                )
            if bad:
                await conn.execute(
                    sa.update(_t)
                    .where(_t.c.task_id.in_(bad))
                    .values(
                        claim_token=_new_token("set-aside"),
                        lease_until=now_us + _SET_ASIDE_MICROS,
                    )
                )
            return claims

        return await self._run("acquire_tasks", body)

    async def _held(self, conn: AsyncConnection, pairs: Iterable[tuple[str, str]]) -> set[str]:
        """Lock the named rows and return the ids whose claim token is still the given one."""
        tokens: dict[str, set[str]] = {}
        for task_id, token in pairs:
            tokens.setdefault(task_id, set()).add(token)
        held: set[str] = set()
        for chunk in _chunks(list(tokens), _CHUNK):
            stmt = self._lock_rows(
                sa.select(_t.c.task_id, _t.c.claim_token).where(_t.c.task_id.in_(chunk)), conn
            )
            for task_id, current in (await conn.execute(stmt)).all():
                if current is not None and current in tokens.get(task_id, ()):
                    held.add(task_id)
        return held

    async def complete_tasks(self, completions: Sequence[Completion]) -> set[str]:
        if not completions:
            return set()

        async def body(conn: AsyncConnection) -> set[str]:
            held = await self._held(conn, ((c.task_id, c.token) for c in completions))
            finished: list[str] = []
            moved: dict[str, int] = {}
            for item in completions:
                if item.task_id not in held:
                    continue
                if item.next_run_at is None:
                    finished.append(item.task_id)
                    moved.pop(item.task_id, None)
                else:
                    moved[item.task_id] = to_epoch_micros(item.next_run_at)
            for chunk in _chunks(finished, _CHUNK):
                await conn.execute(sa.delete(_t).where(_t.c.task_id.in_(chunk)))
            for chunk in _chunks(list(moved), _CHUNK):
                await conn.execute(
                    sa.update(_t)
                    .where(_t.c.task_id.in_(chunk))
                    .values(
                        run_at=sa.case({tid: moved[tid] for tid in chunk}, value=_t.c.task_id),
                        claim_token=None,
                        lease_until=None,
                    )
                )
            return held

        return await self._run("complete_tasks", body)

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
            return held

        return await self._run("extend_leases", body)

    async def release_tasks(self, claims: Sequence[Claim]) -> set[str]:
        if not claims:
            return set()

        async def body(conn: AsyncConnection) -> set[str]:
            held = await self._held(conn, ((c.task_id, c.token) for c in claims))
            for chunk in _chunks(sorted(held), _CHUNK):
                await conn.execute(
                    sa.update(_t)
                    .where(_t.c.task_id.in_(chunk))
                    .values(claim_token=None, lease_until=None)
                )
            return held

        return await self._run("release_tasks", body)


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
