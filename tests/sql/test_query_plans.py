"""Every hot statement walks an index, with 100,000+ rows and no statistics (issue 18).

The table is filled straight after migrating, in one statement per database
(nothing runs ANALYZE; PostgreSQL's autovacuum is off on the test servers), so
the plans below are the ones a store gets right after a bulk load. We assert
plans, not timings: each statement over ``_taskshed_data`` must use an index
(on PostgreSQL and SQLite the partial index written for it), never scan the
table or sort all of its rows.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from taskshed_sqlalchemy import migrate
from taskshed_sqlalchemy.engines import create_engine, create_statement_engine
from taskshed_sqlalchemy.store import (
    build_claim_update,
    claim_session,
    claim_statements,
    list_statement,
    wakeup_statement,
)
from taskshed_sqlalchemy.urls import engine_spec

from taskshed.listing import TaskCursor, TaskQuery
from taskshed.timeutils import from_epoch_micros, to_epoch_micros, utcnow

ROWS = 120_000
CALLBACKS = 20
#: Every stored task is due in the future, a few are held, some paused or failed.
NOW = to_epoch_micros(utcnow())
HOUR_US = 3_600_000_000


def _fill_statement(dialect: str) -> str:
    """One INSERT ... SELECT of ROWS generated rows: future tasks, 20 callbacks, a mix of states.

    Row n (1..ROWS) is due n seconds from now; every 50th is paused, every 97th
    failed (kept paused), every 1000th held by a claim whose lease has not passed.
    """
    mysql = dialect in ("mysql", "mariadb")
    true, false = ("true", "false") if dialect == "postgresql" else ("1", "0")

    def text(prefix: str, expr: str) -> str:
        return f"CONCAT('{prefix}', {expr})" if mysql else f"'{prefix}' || ({expr})"

    def every(k: int, then: str) -> str:
        return f"CASE WHEN n % {k} = 0 THEN {then} ELSE NULL END"

    values = ", ".join(
        [
            text("t", "n"),
            f"{NOW} + n * 1000000",
            f"CASE WHEN n % 50 = 0 OR n % 97 = 0 THEN {true} ELSE {false} END",
            text("cb", f"n % {CALLBACKS}"),
            "'{}'",
            "'once'",
            true,
            every(97, str(NOW)),
            every(1000, "'w/token'"),
            every(1000, str(NOW + HOUR_US)),
            every(1000, "'w'"),
        ]
    )
    quote = "`" if mysql else '"'
    columns = (
        f"task_id, run_at, paused, callback, kwargs, run_type, {quote}coalesce{quote}, "
        "failed_at, claim_token, lease_until, claimed_by"
    )
    insert = f"INSERT INTO _taskshed_data ({columns}) "
    if dialect == "postgresql":
        return insert + f"SELECT {values} FROM generate_series(1::bigint, {ROWS}) AS s(n)"
    if dialect == "sqlite":
        return insert + (
            f"WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < {ROWS}) "
            f"SELECT {values} FROM s"
        )
    # MariaDB's sequence engine.
    return insert + f"SELECT {values} FROM (SELECT seq AS n FROM seq_1_to_{ROWS}) AS s"


async def _prepare(url: str) -> None:
    engine = create_engine(engine_spec(url), poolclass=sa.NullPool)
    try:
        await migrate.upgrade(engine)
        async with engine.begin() as conn:
            await conn.execute(sa.text(_fill_statement(conn.dialect.name)))
    finally:
        await engine.dispose()


@pytest.fixture
def filled_url(sql_url: str) -> Iterator[str]:
    asyncio.run(_prepare(sql_url))
    yield sql_url


def _hot_statements(dialect: str) -> dict[str, Any]:
    now = from_epoch_micros(NOW)
    later = now + timedelta(days=30)
    statements: dict[str, Any] = {
        "wake-up": wakeup_statement(None, dialect),
        "wake-up, one callback": wakeup_statement(["cb3"], dialect),
        "wake-up, three callbacks": wakeup_statement(["cb1", "cb2", "cb3"], dialect),
        "list, first page": list_statement(TaskQuery(limit=100), now),
        "list, next page": list_statement(
            TaskQuery(limit=100, after=TaskCursor(now + timedelta(hours=5), "t18000")), now
        ),
        "list, one callback": list_statement(TaskQuery(callback="cb4", limit=100), now),
    }
    for routing, names in (
        ("", None),
        (", one callback", ["cb5"]),
        (", callbacks", ["cb5", "cb6"]),
    ):
        free, expired = claim_statements(names, to_epoch_micros(later), 50, dialect=dialect)
        statements[f"claim free{routing}"] = free
        statements[f"claim expired{routing}"] = expired
        if dialect == "postgresql":
            # What a store on its own engine sends: both halves and the UPDATE at once.
            statements[f"claim in one statement{routing}"] = build_claim_update(
                names, to_epoch_micros(later), 50, "token", to_epoch_micros(later), "worker"
            )
    return statements


def _sql(statement: Any, dialect: sa.Dialect) -> str:
    return str(statement.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))


async def _plans(url: str) -> dict[str, list[str]]:
    engine = create_engine(engine_spec(url), poolclass=sa.NullPool)
    plans: dict[str, list[str]] = {}
    statements = _hot_statements(engine.dialect.name)
    alone = {name: stmt for name, stmt in statements.items() if "one statement" in name}
    try:
        async with engine.connect() as conn:
            # The settings the store's claims run with (the other statements don't care).
            await claim_session(conn)
            for name, statement in statements.items():
                if name not in alone:
                    plans[name] = await _explain(conn, statement)
            await conn.rollback()
    finally:
        await engine.dispose()
    if alone:
        # On the engine the store sends them through: its sessions' settings, no set_config.
        own = create_statement_engine(engine_spec(url), poolclass=sa.NullPool)
        assert own is not None
        try:
            async with own.connect() as conn:
                for name, statement in alone.items():
                    plans[name] = await _explain(conn, statement)
        finally:
            await own.dispose()
    return plans


async def _explain(conn: Any, statement: Any) -> list[str]:
    dialect = conn.dialect
    if dialect.name == "sqlite":
        sql = "EXPLAIN QUERY PLAN " + _sql(statement, dialect)
        return [str(row[-1]) for row in (await conn.exec_driver_sql(sql)).all()]
    if dialect.name == "postgresql":
        rows = (await conn.exec_driver_sql("EXPLAIN " + _sql(statement, dialect))).all()
        return [str(row[0]) for row in rows]
    result = await conn.exec_driver_sql("EXPLAIN " + _sql(statement, dialect))
    keys = list(result.keys())
    return [" ".join(f"{k}={v}" for k, v in zip(keys, row, strict=True)) for row in result.all()]


#: The index each statement family must walk on PostgreSQL and SQLite.
_PARTIAL = {
    "wake-up": "ix_taskshed_data_free",
    "claim free": "ix_taskshed_data_free",
    "claim expired": "ix_taskshed_data_held_",
}
#: ... and the wake-up's held halves.
_HELD = ("ix_taskshed_data_held_lease_until", "ix_taskshed_data_held_run_at")


@pytest.mark.slow  # fills 120,000 rows per database
def test_every_hot_statement_walks_an_index(filled_url: str, backend: str) -> None:
    plans = asyncio.run(_plans(filled_url))
    assert plans, "no plans were read"
    problems = []
    for name, lines in plans.items():
        text = "\n".join(lines)
        if backend == "postgresql":
            if "Seq Scan" in text:
                problems.append(f"{name}: sequential scan\n{text}")
            if "Index" not in text:
                problems.append(f"{name}: no index\n{text}")
            if name.startswith("claim") and "Bitmap Heap Scan" in text:
                # Collects every matching row to sort them: as slow as a backlog is long.
                problems.append(f"{name}: not an index-ordered walk\n{text}")
        elif backend == "sqlite":
            for line in lines:
                if line.startswith("SCAN _taskshed_data") and "INDEX" not in line:
                    problems.append(f"{name}: table scan\n{text}")
            for before, line in itertools.pairwise(lines):
                # Sorting a per-callback LIMIT's output (a co-routine) is bounded; sorting
                # rows read from the table is not.
                if "TEMP B-TREE FOR ORDER BY" in line and not before.startswith("SCAN anon"):
                    problems.append(f"{name}: sorts the rows it found\n{text}")
        else:
            for line in lines:
                if "table=_taskshed_data" in line and ("type=ALL" in line or "key=None" in line):
                    problems.append(f"{name}: full table scan\n{text}")
            # The held probes and halves read the few held rows, not an ordered walk of all.
            lease = sum("key=ix_taskshed_data_lease_until " in line for line in lines)
            if name.startswith("wake-up") and lease != 2 * (len(lines) - 1) // 3:
                problems.append(f"{name}: held probes not on the lease_until index\n{text}")
            if name.startswith("claim expired") and not lease:
                problems.append(f"{name}: not on the lease_until index\n{text}")
            routed = "key=ix_taskshed_data_callback_paused_run_at " in text
            if "callback" in name and not name.startswith(("claim expired", "list")) and not routed:
                problems.append(f"{name}: not on the (callback, paused, run_at) index\n{text}")
        if backend in ("postgresql", "sqlite"):
            for prefix, index in _PARTIAL.items():
                if name.startswith(prefix) and index not in text:
                    problems.append(f"{name}: does not use {index}\n{text}")
            if name == "wake-up":
                problems += [f"{name}: does not use {i}\n{text}" for i in _HELD if i not in text]
            if name.startswith("claim in one statement"):
                problems += [
                    f"{name}: does not use {index}\n{text}"
                    for index in _PARTIAL.values()
                    if index not in text
                ]
    assert not problems, "\n\n".join(problems)


def test_the_hot_statements_have_no_or_across_columns_outside_the_index_predicates() -> None:
    """The free/held predicates are the partial indexes' own; no other OR may appear."""
    for name, statement in _hot_statements("postgresql").items():
        if name.startswith(("list", "count")):
            continue
        sql = _sql(statement, sa.dialects.postgresql.dialect())  # type: ignore[attr-defined]
        stripped = sql.replace(
            "(_taskshed_data.claim_token IS NULL OR _taskshed_data.lease_until IS NULL)", ""
        )
        assert " OR " not in stripped, f"{name} has an OR across columns:\n{sql}"
