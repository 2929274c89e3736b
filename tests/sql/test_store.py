"""What the SQL store promises beyond the conformance suite: the 0.10 constructor, batched
statements, malformed rows set aside, exact ids, URL aliases, no password anywhere."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine
from taskshed_sqlalchemy import migrate, schema
from taskshed_sqlalchemy.engines import create_engine
from taskshed_sqlalchemy.store import SQLAlchemyDataStore
from taskshed_sqlalchemy.urls import engine_spec

from taskshed.claims import SET_ASIDE_FOR, Completion
from taskshed.config import open_datastore
from taskshed.errors import DataStoreError
from taskshed.models import Task
from taskshed.timeutils import from_epoch_micros, to_epoch_micros, utcnow
from taskshed.urls import URL


@pytest.fixture
async def engine(sql_url: str) -> AsyncIterator[AsyncEngine]:
    """A migrated database's engine, owned by the test (as an application would own it)."""
    engine = create_engine(engine_spec(sql_url))
    await migrate.upgrade(engine)
    yield engine
    await engine.dispose()


class StatementCounter:
    def __init__(self, engine: AsyncEngine) -> None:
        self.statements: list[str] = []
        self._engine = engine
        sa.event.listen(engine.sync_engine, "before_cursor_execute", self._seen)

    def _seen(self, conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        self.statements.append(statement.lstrip("( \n").split(None, 1)[0].upper())

    def data_statements(self) -> list[str]:
        kinds = ("SELECT", "INSERT", "UPDATE", "DELETE", "WITH")
        return [s for s in self.statements if s in kinds]

    def close(self) -> None:
        sa.event.remove(self._engine.sync_engine, "before_cursor_execute", self._seen)


def _task(task_id: str, **fields: object) -> Task:
    fields.setdefault("run_at", utcnow() - timedelta(seconds=1))
    return Task(callback="cb", task_id=task_id, **fields)  # type: ignore[arg-type]


def test_the_reference_names_are_importable_from_taskshed_datastores() -> None:
    from taskshed_sqlalchemy import MySQLConfig as PluginConfig
    from taskshed_sqlalchemy import MySQLDataStore as PluginStore

    from taskshed.datastores import MySQLConfig, MySQLDataStore

    assert MySQLDataStore is PluginStore and MySQLConfig is PluginConfig
    assert issubclass(MySQLDataStore, SQLAlchemyDataStore)


def test_mysql_datastore_needs_exactly_one_of_config_and_pool() -> None:
    from taskshed.datastores import MySQLConfig, MySQLDataStore

    with pytest.raises(ValueError):
        MySQLDataStore()
    with pytest.raises(ValueError):
        MySQLDataStore(config=MySQLConfig(db="x"), pool=object())


@pytest.fixture
def mariadb_url(tmp_path) -> str:  # type: ignore[no-untyped-def]
    from tests.sql.databases import database_url

    return database_url("mariadb", tmp_path)


@pytest.mark.mariadb
async def test_mysql_datastore_from_a_config(mariadb_url: str) -> None:
    from taskshed.datastores import MySQLConfig, MySQLDataStore
    from tests.sql.databases import drop_tables

    url = URL.parse(mariadb_url)
    engine = create_engine(engine_spec(url))
    await migrate.upgrade(engine)
    await engine.dispose()
    try:
        config = MySQLConfig(
            host=url.host or "localhost",
            port=url.port or 3306,
            user=url.username or "root",
            password=url.password,
            db=url.database or "",
            connect_timeout=5,
        )
        store = MySQLDataStore(config=config)
        await store.start()
        try:
            await store.add_tasks([_task("from-config", kwargs={"a": 1})])
            [task] = await store.fetch_tasks(["from-config"])
            assert task.kwargs == {"a": 1}
            await store.remove_all_tasks()
        finally:
            await store.shutdown()
    finally:
        await drop_tables(url.render(hide_password=False))


async def test_mysql_datastore_with_an_engine_as_pool_leaves_it_open(engine: AsyncEngine) -> None:
    from taskshed.datastores import MySQLDataStore

    store = MySQLDataStore(pool=engine)
    await store.start()
    await store.add_tasks([_task("pooled")])
    assert [t.task_id for t in await store.fetch_tasks(["pooled"])] == ["pooled"]
    await store.shutdown()
    # The engine is the application's: still usable after the store shut down.
    async with engine.connect() as conn:
        assert (await conn.execute(sa.text("SELECT 1"))).scalar() == 1
    await store.start()
    await store.remove_all_tasks()
    await store.shutdown()


async def test_adding_500_tasks_is_one_insert_statement(engine: AsyncEngine) -> None:
    store = SQLAlchemyDataStore(engine=engine)
    await store.start()
    counter = StatementCounter(engine)
    try:
        await store.add_tasks([_task(f"bulk-{i:03d}", kwargs={"i": i}) for i in range(500)])
        assert counter.data_statements() == ["INSERT"]
        counter.statements.clear()
        await store.add_tasks([_task(f"bulk-{i:03d}") for i in range(500)], replace_existing=False)
        assert counter.data_statements() == ["INSERT"]
    finally:
        counter.close()
    assert len(await store.fetch_due_tasks(utcnow())) == 500
    await store.remove_all_tasks()
    await store.shutdown()


async def test_claiming_and_completing_100_tasks_take_a_few_statements(engine: AsyncEngine) -> None:
    store = SQLAlchemyDataStore(engine=engine)
    await store.start()
    await store.add_tasks(
        [_task(f"c-{i:03d}", run_type="recurring", interval=timedelta(hours=1)) for i in range(50)]
        + [_task(f"o-{i:03d}") for i in range(50)]
    )
    counter = StatementCounter(engine)
    try:
        now = utcnow()
        claims = await store.acquire_tasks(
            worker_id="w", now=now, lease_until=now + timedelta(seconds=30), limit=100
        )
        assert len(claims) == 100
        # One statement locks the free due rows and the expired claims (SELECT ... FOR
        # UPDATE SKIP LOCKED of each, in a UNION ALL or in two CTEs), then one UPDATE.
        # PostgreSQL: the planner settings first. SQLite: free rows, expired claims and a
        # look for non-numeric times as three SELECTs (its write lock is the file's).
        expected = {"mysql": 2, "mariadb": 2, "postgresql": 3, "sqlite": 4}
        assert len(counter.data_statements()) == expected[engine.dialect.name], counter.statements
        counter.statements.clear()
        done = await store.complete_tasks(
            [
                Completion(
                    c.task_id,
                    c.token,
                    None if c.task_id.startswith("o-") else now + timedelta(hours=1),
                )
                for c in claims
            ]
        )
        assert len(done) == 100
        # The 50 finished one-offs: one DELETE ... RETURNING (their claim's token in the
        # WHERE). The 50 moved ones: a locking read, then one UPDATE.
        assert len(counter.data_statements()) == 3, counter.statements
        counter.statements.clear()
        assert await store.extend_leases(claims, now + timedelta(minutes=1)) == set()
    finally:
        counter.close()
    left = await store.fetch_due_tasks(now + timedelta(hours=2))
    assert len(left) == 50 and all(t.task_id.startswith("c-") for t in left)
    await store.remove_all_tasks()
    await store.shutdown()


@pytest.mark.parametrize("backend", [pytest.param("postgresql", marks=pytest.mark.postgresql)])
async def test_postgresql_on_its_own_engine_claims_and_looks_ahead_in_one_statement_each(
    engine: AsyncEngine, sql_url: str
) -> None:
    """No BEGIN, no set_config, no COMMIT: the statement engine's sessions carry the settings."""
    store = SQLAlchemyDataStore(sql_url)
    await store.start()
    try:
        await store.add_tasks(
            [_task(f"o-{i:03d}") for i in range(30)]
            + [_task("later", run_at=utcnow() + timedelta(hours=1))]
        )
        own = store.statement_engine
        assert own is not None
        await store.fetch_next_wakeup()  # a connection of its own, opened once
        alone, pooled = StatementCounter(own), StatementCounter(store.engine)
        try:
            now = utcnow()
            claims = await store.acquire_tasks(
                worker_id="w", now=now, lease_until=now + timedelta(seconds=30), limit=20
            )
            assert [c.task_id for c in claims] == [f"o-{i:03d}" for i in range(20)]
            assert alone.statements == ["WITH"] and pooled.statements == []
            # Committed by itself: another connection sees the claims at once.
            async with engine.connect() as conn:
                held = await conn.scalar(
                    sa.select(sa.func.count()).where(schema.tasks_table.c.claimed_by == "w")
                )
            assert held == 20
            alone.statements.clear()
            assert await store.fetch_next_wakeup() is not None
            assert await store.confirm_claims(claims, now) == {c.task_id for c in claims}
            assert alone.statements == ["SELECT", "SELECT"] and pooled.statements == []
            async with own.connect() as conn:
                settings = {
                    name: await conn.scalar(sa.text(f"SHOW {name}"))
                    for name in ("enable_seqscan", "enable_bitmapscan", "enable_sort")
                }
            assert settings == dict.fromkeys(settings, "off")
        finally:
            alone.close()
            pooled.close()
    finally:
        await store.remove_all_tasks()
        await store.shutdown()
    assert store.statement_engine is None


@pytest.mark.parametrize("own_engine", [False, True], ids=["given-engine", "own-engine"])
async def test_a_malformed_row_is_logged_set_aside_and_kept(
    engine: AsyncEngine, sql_url: str, own_engine: bool, caplog: pytest.LogCaptureFixture
) -> None:
    # A store on its own engine claims on PostgreSQL with one UPDATE ... RETURNING.
    store = SQLAlchemyDataStore(sql_url) if own_engine else SQLAlchemyDataStore(engine=engine)
    await store.start()
    await store.add_tasks([_task("good"), _task("bad", kwargs={"secret": "hunter2"})])
    async with engine.begin() as conn:
        await conn.execute(
            sa.update(schema.tasks_table)
            .where(schema.tasks_table.c.task_id == "bad")
            .values(kwargs='{"secret": "hunter2", broken')
        )
    now = utcnow()
    with caplog.at_level(logging.WARNING, logger="taskshed_sqlalchemy"):
        claims = await store.acquire_tasks(
            worker_id="w", now=now, lease_until=now + timedelta(seconds=30), limit=10
        )
        assert [c.task_id for c in claims] == ["good"]
        # Readers skip it too, with a log line.
        assert [t.task_id for t in await store.fetch_due_tasks(now)] == ["good"]
    text = caplog.text
    assert "'bad'" in text and "hunter2" not in text
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                sa.select(schema.tasks_table.c.lease_until, schema.tasks_table.c.claim_token).where(
                    schema.tasks_table.c.task_id == "bad"
                )
            )
        ).one()
    # Still stored, held aside for SET_ASIDE_FOR.
    assert (
        from_epoch_micros(row.lease_until)
        == from_epoch_micros(to_epoch_micros(now)) + SET_ASIDE_FOR
    )
    assert row.claim_token is not None
    again = await store.acquire_tasks(
        worker_id="w",
        now=now + timedelta(seconds=60),
        lease_until=now + timedelta(minutes=2),
        limit=10,
    )
    assert "bad" not in {claim.task_id for claim in again}
    await store.remove_all_tasks()
    await store.shutdown()


async def test_ids_compare_exactly_and_times_keep_microseconds(engine: AsyncEngine) -> None:
    store = SQLAlchemyDataStore(engine=engine)
    await store.start()
    run_at = utcnow().replace(microsecond=123457) + timedelta(days=1)
    # (Not "a" and "a ": MySQL/MariaDB compare VARCHARs ignoring trailing spaces.)
    ids = ["Straße", "STRASSE", "strasse", "a", "A", "é", "e\u0301", "x" * 255]
    await store.add_tasks([_task(task_id, run_at=run_at) for task_id in ids])
    found = await store.fetch_tasks(ids)
    assert [t.task_id for t in found] == ids
    assert all(t.run_at == run_at for t in found)
    await store.remove_tasks(["a"])
    assert [t.task_id for t in await store.fetch_tasks(ids)] == [i for i in ids if i != "a"]
    await store.remove_all_tasks()
    await store.shutdown()


@pytest.mark.parametrize(
    "url",
    [
        "mysql://root@127.0.0.1/x",
        "mysql+asyncmy://root@127.0.0.1/x",
        "mariadb://root@127.0.0.1/x",
        "mariadb+asyncmy://root@127.0.0.1/x",
        "postgresql://u@127.0.0.1/x",
        "postgres://u@127.0.0.1/x",
        "postgresql+asyncpg://u@127.0.0.1/x",
        "sqlite:///x.db",
        "sqlite+aiosqlite:///x.db",
    ],
)
def test_every_url_alias_opens_the_sql_store(url: str) -> None:
    store = open_datastore(url)
    assert isinstance(store, SQLAlchemyDataStore)


async def test_the_password_stays_out_of_repr_and_errors() -> None:
    store = open_datastore("mysql+asyncmy://root:s3cr3t-pw@127.0.0.1:1/x")
    assert "s3cr3t-pw" not in repr(store)
    with pytest.raises(DataStoreError) as info:
        await store.start()
    assert "s3cr3t-pw" not in str(info.value)
    assert "s3cr3t-pw" not in repr(info.value)


def test_pool_sizing_comes_from_the_url_query() -> None:
    spec = engine_spec("postgresql://u:pw@h/db?pool_size=3&max_overflow=1&application_name=x")
    assert spec.options == {"pool_size": 3, "max_overflow": 1}
    assert spec.url.query == {"application_name": "x"}
    assert "pw" not in repr(spec)


async def test_a_connection_the_server_closed_is_replaced_transparently(
    sql_url: str, backend: str
) -> None:
    if backend == "sqlite":
        pytest.skip("no server to close the connection")
    engine = create_engine(engine_spec(sql_url), pool_size=1, max_overflow=0)
    await migrate.upgrade(engine)
    store = SQLAlchemyDataStore(engine=engine)
    await store.start()
    ask_id = "SELECT CONNECTION_ID()" if backend == "mariadb" else "SELECT pg_backend_pid()"
    async with engine.connect() as conn:
        server_id = (await conn.execute(sa.text(ask_id))).scalar()
    killer = create_engine(engine_spec(sql_url), poolclass=sa.NullPool)
    try:
        async with killer.connect() as conn:
            if backend == "mariadb":
                await conn.execute(sa.text(f"KILL {int(str(server_id))}"))
            else:
                await conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": server_id})
            await conn.commit()
        # The pooled connection is dead now; the store notices, reconnects and carries on.
        await store.add_tasks([_task("after-kill")])
        assert [t.task_id for t in await store.fetch_tasks(["after-kill"])] == ["after-kill"]
        await store.remove_all_tasks()
    finally:
        await store.shutdown()
        await killer.dispose()
        await engine.dispose()


@pytest.mark.mariadb
async def test_on_mariadb_500_tasks_reach_the_server_as_one_insert(mariadb_url: str) -> None:
    # asyncmy rewrites the batch into one multi-row INSERT itself: ask the server.
    engine = create_engine(engine_spec(mariadb_url), pool_size=1, max_overflow=0)
    await migrate.upgrade(engine)
    store = SQLAlchemyDataStore(engine=engine)
    await store.start()
    status = sa.text("SHOW SESSION STATUS LIKE 'Com_insert'")
    try:
        async with engine.connect() as conn:  # the pool's only connection
            before = int(str((await conn.execute(status)).one()[1]))
        await store.add_tasks([_task(f"bulk-{i:03d}", kwargs={"i": i}) for i in range(500)])
        async with engine.connect() as conn:
            after = int(str((await conn.execute(status)).one()[1]))
        assert after - before == 1
        assert len(await store.fetch_due_tasks(utcnow())) == 500
        await store.remove_all_tasks()
    finally:
        await store.shutdown()
        await engine.dispose()


async def test_sqlite_rows_whose_run_at_is_not_a_number_are_set_aside(
    sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Only SQLite stores a value of any type in an integer column."""
    store = SQLAlchemyDataStore(sqlite_url)
    await store.start()
    try:
        now = utcnow()
        await store.add_tasks([_task("good", run_at=now + timedelta(hours=1))])
        async with store.engine.begin() as conn:
            await conn.execute(
                sa.text(
                    "INSERT INTO _taskshed_data (task_id, run_at, paused, callback, kwargs,"
                    " run_type, coalesce) VALUES ('odd', 'soon', 0, 'cb', '{}', 'once', 1)"
                )
            )
        with caplog.at_level(logging.WARNING, logger="taskshed_sqlalchemy"):
            claims = await store.acquire_tasks(
                worker_id="w", now=now, lease_until=now + timedelta(seconds=30), limit=10
            )
        assert claims == []
        assert "'odd'" in caplog.text
        # Set aside: held under a token of its own for SET_ASIDE_FOR, the good row untouched.
        query = sa.text("SELECT task_id, claim_token, lease_until FROM _taskshed_data")
        async with store.engine.connect() as conn:
            rows = {row[0]: (row[1], row[2]) for row in await conn.execute(query)}
        token, lease_until = rows["odd"]
        assert token is not None and token.startswith("set-aside"), rows
        assert lease_until == to_epoch_micros(now + SET_ASIDE_FOR), rows
        assert rows["good"] == (None, None), rows
        # ... so the next claims don't look at it again until then; after that, they do.
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="taskshed_sqlalchemy"):
            later = now + SET_ASIDE_FOR - timedelta(seconds=1)
            assert (
                await store.acquire_tasks(
                    worker_id="w", now=later, lease_until=later + timedelta(seconds=30), limit=10
                )
                == []
            )
            assert "'odd'" not in caplog.text
            after = now + SET_ASIDE_FOR
            await store.acquire_tasks(
                worker_id="w", now=after, lease_until=after + timedelta(seconds=30), limit=10
            )
            assert "'odd'" in caplog.text
        await store.remove_tasks(["odd"])
    finally:
        await store.shutdown()


async def test_one_offs_finish_in_one_delete_that_checks_their_claim(engine: AsyncEngine) -> None:
    store = SQLAlchemyDataStore(engine=engine)
    await store.start()
    await store.add_tasks([_task(f"o-{i:03d}") for i in range(20)] + [_task("odd")])
    now = utcnow()
    claims = await store.acquire_tasks(
        worker_id="w", now=now, lease_until=now + timedelta(seconds=30), limit=100
    )
    assert len(claims) == 21
    # "odd" keeps the claim's token but loses its lease (a hand edit, or an older writer's
    # crash): an inconsistent claim, which no completion may apply to.
    table = schema.tasks_table
    async with engine.begin() as conn:
        await conn.execute(
            sa.update(table).where(table.c.task_id == "odd").values(lease_until=None)
        )
    counter = StatementCounter(engine)
    try:
        done = await store.complete_tasks(
            [Completion(c.task_id, c.token, None) for c in claims]
            + [Completion("o-000", "someone-else", None)]  # a stale twin of one of them
        )
    finally:
        counter.close()
    assert done == {c.task_id for c in claims} - {"odd"}
    assert [t.task_id for t in await store.fetch_tasks(["odd", "o-000", "o-001"])] == ["odd"]
    # Where DELETE ... RETURNING exists, one statement for the unique ones (o-000 comes
    # twice: it and its twin take the locking path).
    returning = engine.dialect.delete_returning
    kinds = counter.data_statements()
    assert kinds.count("DELETE") == (2 if returning else 1), counter.statements
    await store.remove_all_tasks()
    await store.shutdown()
