"""The table the SQL store keeps its tasks in, as the newest Alembic revision leaves it.

The layout is TaskShed 0.10's ``_taskshed_data`` (times as integer
microseconds since the epoch, UTC; kwargs as text), widened and given the
claim columns, the second-wave task fields (cron, failure policy, run state)
and the indexes the hot queries walk; beside it ``_taskshed_workers``, the
worker registry. Alembic revisions under ``migrations/`` create them; this
module is their target and what the store's queries are built from.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql

#: The table name TaskShed 0.10 used; kept so its data is upgraded in place.
TABLE_NAME = "_taskshed_data"
#: Alembic's version table for our revisions, apart from an application's ``alembic_version``.
VERSION_TABLE = "taskshed_alembic_version"
#: The revision this release's queries need; the store refuses any other.
SCHEMA_REVISION = "ts_0003"
#: The worker registry (revision ts_0003).
WORKERS_TABLE = "_taskshed_workers"
#: Longest id, group id, callback name (``taskshed.validation.MAX_ID_LENGTH``).
ID_LENGTH = 255
#: Longest claim token: a worker id prefix and a random part.
TOKEN_LENGTH = 255
#: Longest cron expression and time zone name (``taskshed.cron``).
CRON_LENGTH = 200
TIMEZONE_LENGTH = 64

_MYSQL = ("mysql", "mariadb")

# MySQL/MariaDB: ids compare byte for byte (utf8mb4_bin), so "A" and "a" are two
# tasks, as in every other store. The table default stays utf8mb4_unicode_ci,
# a collation both MySQL 8 and MariaDB know.
MYSQL_CHARSET = "utf8mb4"
MYSQL_TABLE_COLLATION = "utf8mb4_unicode_ci"
MYSQL_ID_COLLATION = "utf8mb4_bin"


def id_type(length: int = ID_LENGTH) -> sa.types.TypeEngine[str]:
    """A varchar for ids: binary collation on MySQL/MariaDB, the default elsewhere."""
    return sa.String(length).with_variant(
        mysql.VARCHAR(length, charset=MYSQL_CHARSET, collation=MYSQL_ID_COLLATION), *_MYSQL
    )


def micros_type() -> sa.types.TypeEngine[int]:
    """Epoch microseconds: ``bigint unsigned`` on MySQL as in 0.10, ``bigint`` elsewhere."""
    return sa.BigInteger().with_variant(mysql.BIGINT(unsigned=True), *_MYSQL)


def kwargs_type() -> sa.types.TypeEngine[str]:
    return sa.Text().with_variant(mysql.MEDIUMTEXT(), *_MYSQL)


def run_type_type(*names: str) -> sa.types.TypeEngine[str]:
    """``enum('once','recurring','cron')`` on MySQL (0.10's enum, widened), a short varchar elsewhere."""
    return sa.String(9).with_variant(mysql.ENUM(*(names or RUN_TYPES)), *_MYSQL)


#: The run types the newest layout's MySQL enum holds; 0.10's had the first two.
RUN_TYPES = ("once", "recurring", "cron")
REFERENCE_RUN_TYPES = ("once", "recurring")


def flag_type() -> sa.types.TypeEngine[bool]:
    """A 0/1 flag: ``tinyint`` on MySQL (as in 0.10), ``boolean`` on PostgreSQL/SQLite."""
    return sa.Boolean(create_constraint=False).with_variant(mysql.TINYINT(), *_MYSQL)


def mysql_table_options() -> dict[str, Any]:
    return {
        "mysql_engine": "InnoDB",
        "mysql_charset": MYSQL_CHARSET,
        "mysql_collate": MYSQL_TABLE_COLLATION,
        "mariadb_engine": "InnoDB",
        "mariadb_charset": MYSQL_CHARSET,
        "mariadb_collate": MYSQL_TABLE_COLLATION,
    }


metadata = sa.MetaData()

tasks_table = sa.Table(
    TABLE_NAME,
    metadata,
    sa.Column("task_id", id_type(), primary_key=True),
    sa.Column("run_at", micros_type(), nullable=False),
    sa.Column("paused", flag_type(), nullable=False, server_default=sa.false()),
    sa.Column("callback", id_type(), nullable=False),
    sa.Column("kwargs", kwargs_type(), nullable=False),
    sa.Column("run_type", run_type_type(), nullable=False),
    sa.Column("interval", sa.Double(), nullable=True),
    sa.Column("group_id", id_type(), nullable=True),
    sa.Column("coalesce", flag_type(), nullable=False, server_default=sa.true()),
    sa.Column("paused_at", micros_type(), nullable=True),
    # The claim: NULL/NULL when free. A task is claimable when unclaimed or
    # when lease_until (epoch microseconds) has passed.
    sa.Column("claim_token", id_type(TOKEN_LENGTH), nullable=True),
    sa.Column("lease_until", micros_type(), nullable=True),
    # The second-wave columns are appended below (see new_task_columns).
    **mysql_table_options(),
)


def new_task_columns() -> list[sa.Column[Any]]:
    """The columns revision ts_0003 adds: the second-wave task fields.

    Times are epoch microseconds like the others, durations double seconds.
    A failed task (``failed_at`` set) is kept with ``paused`` true, so that
    every "unpaused" predicate and index leaves it out; ``paused_at`` tells
    whether it had been paused by hand (a retry restores that).
    """
    return [
        sa.Column("cron", sa.String(CRON_LENGTH), nullable=True),
        sa.Column("timezone", sa.String(TIMEZONE_LENGTH), nullable=True),
        sa.Column("end_at", micros_type(), nullable=True),
        sa.Column("jitter", sa.Double(), nullable=True),
        sa.Column("max_attempts", sa.Integer(), nullable=True),
        sa.Column("retry_backoff", sa.Double(), nullable=True),
        sa.Column("timeout", sa.Double(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_run_at", micros_type(), nullable=True),
        sa.Column("failed_at", micros_type(), nullable=True),
        sa.Column("occurrence_at", micros_type(), nullable=True),
        sa.Column("claimed_by", id_type(), nullable=True),
    ]


for _column in new_task_columns():
    tasks_table.append_column(_column)

_c = tasks_table.c
#: A row no worker holds: no claim, or an inconsistent one (a token or a lease alone).
FREE = sa.or_(_c.claim_token.is_(None), _c.lease_until.is_(None))
#: A row with a consistent claim (token and lease); its lease may have passed.
HELD = sa.and_(_c.claim_token.is_not(None), _c.lease_until.is_not(None))
#: Unpaused (and so not failed: failed rows are kept paused).
ACTIVE = _c.paused == sa.false()


def _partial(where: Any) -> dict[str, Any]:
    return {"postgresql_where": where, "sqlite_where": where}


# Prefixed names: PostgreSQL index names share one namespace per schema. ts_0002's
# (paused, run_at) and lease_until indexes are MySQL/MariaDB's only from ts_0003 on
# (see SUPERSEDED_INDEXES), so they are not part of the shared definition.
sa.Index("ix_taskshed_data_group_id", _c.group_id)
# ts_0003: the orders of task listings (keyset pages on (run_at, task_id)).
sa.Index("ix_taskshed_data_run_at_task_id", _c.run_at, _c.task_id)
sa.Index("ix_taskshed_data_callback_run_at_task_id", _c.callback, _c.run_at, _c.task_id)


def hot_indexes(dialect: str) -> list[tuple[str, list[str], dict[str, Any]]]:
    """The dialect's own indexes of revision ts_0003 (issue 18): ``(name, columns, options)``.

    PostgreSQL and SQLite get partial indexes whose predicates are word for
    word the store's: unpaused free rows by ``run_at`` (claims and wake-ups),
    unpaused held rows by ``lease_until`` and by ``run_at`` (claims in
    flight: small however many tasks are stored), and each of those per
    callback (a routed query probes each of its callbacks). MySQL/MariaDB have no
    partial indexes: there ts_0002's ``(paused, run_at)`` and ``lease_until``
    serve the unfiltered halves and ``(callback, paused, run_at)`` the routed
    ones. They are not in :data:`metadata` (whose indexes every dialect
    shares): :func:`include_name` leaves them out of autogenerate comparisons.
    """
    if dialect in _MYSQL:
        return [(name, list(cols), {}) for name, cols in MYSQL_HOT_INDEXES.items()]
    free = _partial(sa.and_(ACTIVE, FREE))
    held = _partial(sa.and_(ACTIVE, HELD))
    return [
        ("ix_taskshed_data_free_run_at", ["run_at"], free),
        ("ix_taskshed_data_free_callback_run_at", ["callback", "run_at"], free),
        ("ix_taskshed_data_held_lease_until", ["lease_until"], held),
        ("ix_taskshed_data_held_run_at", ["run_at"], held),
        ("ix_taskshed_data_held_callback_lease_until", ["callback", "lease_until"], held),
        ("ix_taskshed_data_held_callback_run_at", ["callback", "run_at"], held),
    ]


#: Indexes of ts_0003 that only MySQL/MariaDB get, by name.
MYSQL_HOT_INDEXES: dict[str, tuple[str, ...]] = {
    "ix_taskshed_data_callback_paused_run_at": ("callback", "paused", "run_at"),
}
#: The partial indexes of ts_0003 (PostgreSQL and SQLite only).
PARTIAL_INDEXES = (
    "ix_taskshed_data_free_run_at",
    "ix_taskshed_data_free_callback_run_at",
    "ix_taskshed_data_held_lease_until",
    "ix_taskshed_data_held_run_at",
    "ix_taskshed_data_held_callback_lease_until",
    "ix_taskshed_data_held_callback_run_at",
)
#: ts_0002's indexes that ts_0003 drops on PostgreSQL and SQLite, where the partial
#: indexes replace them (left, a planner without statistics may prefer them).
SUPERSEDED_INDEXES: dict[str, tuple[str, ...]] = {
    "ix_taskshed_data_paused_run_at": ("paused", "run_at"),
    "ix_taskshed_data_lease_until": ("lease_until",),
}
#: Every index that exists on some dialects only (left out of autogenerate comparisons).
DIALECT_INDEXES = (
    frozenset(PARTIAL_INDEXES) | frozenset(MYSQL_HOT_INDEXES) | frozenset(SUPERSEDED_INDEXES)
)


def worker_columns() -> list[sa.Column[Any]]:
    """The worker registry's columns (revision ts_0003): one row per live worker."""
    return [
        sa.Column("worker_id", id_type(), primary_key=True),
        sa.Column("host", sa.String(ID_LENGTH), nullable=False),
        sa.Column("pid", sa.BigInteger(), nullable=False),
        sa.Column("started_at", micros_type(), nullable=False),
        sa.Column("heartbeat_at", micros_type(), nullable=False),
        sa.Column("expires_at", micros_type(), nullable=False),
        sa.Column("running", sa.Integer(), nullable=False),
        sa.Column("held", sa.Integer(), nullable=False),
        # The callback names the worker serves, as a JSON list.
        sa.Column("callbacks", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("version", sa.String(64), nullable=False),
    ]


workers_table = sa.Table(
    WORKERS_TABLE,
    metadata,
    *worker_columns(),
    sa.Index("ix_taskshed_workers_expires_at", "expires_at"),
    **mysql_table_options(),
)


def reference_columns() -> list[sa.Column[Any]]:
    """TaskShed 0.10's columns (the baseline revision): 63-character ids, a float interval."""
    return [
        sa.Column("task_id", sa.String(63), primary_key=True),
        sa.Column("run_at", micros_type(), nullable=False),
        sa.Column("paused", flag_type(), nullable=False, server_default=sa.false()),
        sa.Column("callback", sa.String(63), nullable=False),
        sa.Column("kwargs", kwargs_type(), nullable=False),
        sa.Column("run_type", run_type_type(*REFERENCE_RUN_TYPES), nullable=False),
        sa.Column("interval", sa.Float(), nullable=True),
        sa.Column("group_id", sa.String(63), nullable=True),
        sa.Column("coalesce", flag_type(), nullable=False, server_default=sa.true()),
        sa.Column("paused_at", micros_type(), nullable=True),
    ]


#: The baseline's indexes, by name.
REFERENCE_INDEXES: dict[str, tuple[str, ...]] = {
    "ix_taskshed_data_paused_run_at": ("paused", "run_at"),
    "ix_taskshed_data_group_id": ("group_id",),
}


def reference_table(meta: sa.MetaData) -> sa.Table:
    """The baseline table as a ``Table`` (for rendering batch operations offline)."""
    indexes = [sa.Index(name, *cols) for name, cols in REFERENCE_INDEXES.items()]
    return sa.Table(TABLE_NAME, meta, *reference_columns(), *indexes, **mysql_table_options())


#: Index names of ts_0002's layout, by the columns they cover (0.10's are renamed to these).
INDEXES: dict[tuple[str, ...], str] = {
    ("paused", "run_at"): "ix_taskshed_data_paused_run_at",
    ("group_id",): "ix_taskshed_data_group_id",
    ("lease_until",): "ix_taskshed_data_lease_until",
}


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    """An Alembic ``include_name`` filter that keeps our tables and nothing else.

    Use the opposite (``not is_taskshed_table(name)``) in an application's own
    environment so its autogenerate never proposes to drop our tables.
    """
    if type_ == "table":
        return is_taskshed_table(name)
    if type_ == "index":
        return name not in DIALECT_INDEXES
    return True


def is_taskshed_table(name: str | None) -> bool:
    """Whether ``name`` is a table taskshed's revisions own."""
    return name in (TABLE_NAME, WORKERS_TABLE, VERSION_TABLE)
