"""The statements whose wording differs by dialect: upserts, and pausing that keeps paused_at."""

from __future__ import annotations

import functools
from typing import Any

import sqlalchemy as sa

from taskshed.errors import DataStoreError
from taskshed_sqlalchemy import schema

_t = schema.tasks_table
_w = schema.workers_table


@functools.cache
def upsert_statement(dialect: str, *, replace: bool) -> Any:
    """The INSERT that replaces or keeps existing ids, in this dialect's words.

    It is executed with the list of rows as parameters, which every driver
    here turns into one multi-row INSERT (per 1,000 rows on PostgreSQL and
    SQLite, where SQLAlchemy's "insertmanyvalues" batches the VALUES; per
    ~1 MB of SQL on MySQL/MariaDB, where asyncmy rewrites the batch), and
    which SQLAlchemy compiles only once.
    """
    if dialect in ("mysql", "mariadb"):
        from sqlalchemy.dialects.mysql import insert as mysql_insert

        # VALUES(col) rather than MySQL 8.0.20's "AS new" alias: MariaDB knows
        # only this form, and asyncmy only batches statements written this way.
        columns = [c for c in _t.c if c.name != "task_id"]
        stmt = mysql_insert(_t)
        if replace:
            return stmt.on_duplicate_key_update({c.name: sa.func.values(c) for c in columns})
        # A no-op update keeps the existing row without INSERT IGNORE's habit
        # of turning real errors into warnings.
        return stmt.on_duplicate_key_update({"task_id": _t.c.task_id})
    if dialect in ("postgresql", "sqlite"):
        from sqlalchemy.dialects import postgresql, sqlite

        upsert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(_t)
        if replace:
            upsert = upsert.on_conflict_do_update(
                index_elements=[_t.c.task_id],
                set_={c.name: upsert.excluded[c.name] for c in _t.c if c.name != "task_id"},
            )
        else:
            upsert = upsert.on_conflict_do_nothing(index_elements=[_t.c.task_id])
        # RETURNING is what makes SQLAlchemy batch the rows into multi-row VALUES.
        return upsert.returning(_t.c.task_id)
    raise DataStoreError(f"the SQL datastore does not support the {dialect!r} dialect")


@functools.lru_cache(maxsize=16)
def rendered_upsert(conn_dialect: Any, *, replace: bool) -> tuple[str, tuple[str, ...]] | None:
    """MySQL/MariaDB: the upsert as SQL text for the driver, and the order of its parameters.

    ``add_tasks`` sends it with ``exec_driver_sql`` and one tuple per row: for
    500 rows, SQLAlchemy's building of each row's parameters cost about half
    of the call's CPU. Error handling stays SQLAlchemy's (a failed connection
    is still noticed and dropped from the pool). The columns are plain
    integers, strings and booleans, which the driver sends as they are.
    ``None`` on other databases and for a driver with named parameters (then
    the statement is sent the usual way). Rendered once per dialect object.
    """
    if conn_dialect.name not in ("mysql", "mariadb"):
        return None
    compiled = upsert_statement(conn_dialect.name, replace=replace).compile(dialect=conn_dialect)
    order = compiled.positiontup
    if not order or set(order) != {c.name for c in _t.c}:
        return None
    return compiled.string, tuple(order)


@functools.cache
def worker_upsert_statement(dialect: str) -> Any:
    """The INSERT that records or refreshes a worker's registration."""
    columns = [c.name for c in _w.c if c.name != "worker_id"]
    if dialect in ("mysql", "mariadb"):
        from sqlalchemy.dialects.mysql import insert as mysql_insert

        stmt = mysql_insert(_w)
        return stmt.on_duplicate_key_update({name: sa.func.values(_w.c[name]) for name in columns})
    if dialect in ("postgresql", "sqlite"):
        from sqlalchemy.dialects import postgresql, sqlite

        upsert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(_w)
        return upsert.on_conflict_do_update(
            index_elements=[_w.c.worker_id], set_={name: upsert.excluded[name] for name in columns}
        )
    raise DataStoreError(f"the SQL datastore does not support the {dialect!r} dialect")


def pause_statement(where: Any, paused: bool, now_us: int) -> sa.Update:
    """Pause or resume the rows matching ``where``; failed rows (kept paused) are left alone."""
    if paused:
        # Already-paused tasks keep their paused_at; failed ones are paused already.
        return (
            sa.update(_t)
            .where(where, _t.c.paused == sa.false())
            .values(paused=True, paused_at=now_us)
        )
    return (
        sa.update(_t)
        .where(where, _t.c.paused == sa.true(), _t.c.failed_at.is_(None))
        .values(paused=False, paused_at=None)
    )
