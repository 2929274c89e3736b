"""Claims with leases; ids of 255 characters; double-precision intervals.

Adds ``claim_token``/``lease_until`` (and an index to find claims that end),
widens ``task_id``, ``callback`` and ``group_id`` to 255 characters compared
byte for byte, makes ``interval`` a double. A table adopted from TaskShed 0.10
is also tidied here: columns older 0.x releases lacked are added, its
indexes get our names, its redundant unique key on the primary key goes, and
on MySQL its utf8mb4_0900_ai_ci collation (unknown to MariaDB) is replaced.

Revision ID: ts_0002
Revises: ts_0001
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from taskshed_sqlalchemy import schema

revision = "ts_0002"
down_revision = "ts_0001"
branch_labels = None
depends_on = None

_T = schema.TABLE_NAME
_IDS = (("task_id", False), ("callback", False), ("group_id", True))


def _is_mysql() -> bool:
    return op.get_bind().dialect.name in ("mysql", "mariadb")


def upgrade() -> None:
    copy_from = None
    if op.get_context().as_sql:
        # Offline (--sql) there is nothing to inspect: assume ts_0001's own layout.
        columns = {"coalesce", "paused_at"}
        copy_from = schema.reference_table(sa.MetaData())
    else:
        inspector = sa.inspect(op.get_bind())
        columns = {column["name"] for column in inspector.get_columns(_T)}
        _tidy_indexes(inspector)
    if _is_mysql():
        op.execute(
            f"ALTER TABLE `{_T}` CONVERT TO CHARACTER SET {schema.MYSQL_CHARSET} "
            f"COLLATE {schema.MYSQL_TABLE_COLLATION}"
        )
    with op.batch_alter_table(_T, copy_from=copy_from) as batch:
        if "coalesce" not in columns:
            batch.add_column(
                sa.Column("coalesce", schema.flag_type(), nullable=False, server_default=sa.true())
            )
        if "paused_at" not in columns:
            batch.add_column(sa.Column("paused_at", schema.micros_type(), nullable=True))
        for name, nullable in _IDS:
            batch.alter_column(
                name,
                type_=schema.id_type(),
                existing_type=sa.String(63),
                existing_nullable=nullable,
            )
        batch.alter_column(
            "kwargs",
            type_=schema.kwargs_type(),
            existing_type=sa.Text(),
            existing_nullable=False,
        )
        batch.alter_column(
            "interval", type_=sa.Double(), existing_type=sa.Float(), existing_nullable=True
        )
        batch.add_column(
            sa.Column("claim_token", schema.id_type(schema.TOKEN_LENGTH), nullable=True)
        )
        batch.add_column(sa.Column("lease_until", schema.micros_type(), nullable=True))
    op.create_index("ix_taskshed_data_lease_until", _T, ["lease_until"])


def _tidy_indexes(inspector: sa.Inspector) -> None:
    """Give 0.10's indexes our names; drop its unique key that repeats the primary key."""
    present: set[str] = set()
    for index in inspector.get_indexes(_T):
        name = index["name"]
        cols = tuple(str(column) for column in index["column_names"])
        if name is None:
            continue
        if cols == ("task_id",) and index.get("unique"):
            op.drop_index(name, table_name=_T)
            continue
        wanted = schema.INDEXES.get(cols)
        if wanted is None:
            continue
        if name != wanted:
            op.drop_index(name, table_name=_T)
            op.create_index(wanted, _T, list(cols))
        present.add(wanted)
    for cols, wanted in schema.INDEXES.items():
        if wanted not in present and "lease_until" not in cols:
            op.create_index(wanted, _T, list(cols))


def downgrade() -> None:
    op.drop_index("ix_taskshed_data_lease_until", table_name=_T)
    copy_from = None
    if op.get_context().as_sql:
        copy_from = schema.tasks_table.to_metadata(sa.MetaData())
        copy_from.indexes = {
            i for i in copy_from.indexes if i.name != "ix_taskshed_data_lease_until"
        }
    with op.batch_alter_table(_T, copy_from=copy_from) as batch:
        batch.drop_column("lease_until")
        batch.drop_column("claim_token")
        batch.alter_column(
            "interval", type_=sa.Float(), existing_type=sa.Double(), existing_nullable=True
        )
        for name, nullable in _IDS:
            batch.alter_column(
                name,
                type_=sa.String(63),
                existing_type=schema.id_type(),
                existing_nullable=nullable,
            )
