"""The table the SQL store keeps its tasks in, as the newest Alembic revision leaves it.

The layout is TaskShed 0.10's ``_taskshed_data`` (times as integer
microseconds since the epoch, UTC; kwargs as text), widened and given the two
claim columns. Alembic revisions under ``migrations/`` create it; this module
is their target and what the store's queries are built from.
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
SCHEMA_REVISION = "ts_0002"
#: Longest id, group id, callback name (``taskshed.validation.MAX_ID_LENGTH``).
ID_LENGTH = 255
#: Longest claim token: a worker id prefix and a random part.
TOKEN_LENGTH = 255

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


def run_type_type() -> sa.types.TypeEngine[str]:
    """``enum('once','recurring')`` on MySQL as in 0.10, a short varchar elsewhere."""
    return sa.String(9).with_variant(mysql.ENUM("once", "recurring"), *_MYSQL)


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
    # Prefixed names: PostgreSQL index names share one namespace per schema.
    sa.Index("ix_taskshed_data_paused_run_at", "paused", "run_at"),
    sa.Index("ix_taskshed_data_group_id", "group_id"),
    sa.Index("ix_taskshed_data_lease_until", "lease_until"),
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
        sa.Column("run_type", run_type_type(), nullable=False),
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


#: Index names of the newest layout, by the columns they cover.
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
    return True


def is_taskshed_table(name: str | None) -> bool:
    """Whether ``name`` is a table taskshed's revisions own."""
    return name in (TABLE_NAME, VERSION_TABLE)
