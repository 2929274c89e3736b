"""TaskShed 0.10's _taskshed_data table, as the baseline.

A database created by TaskShed 0.10 is stamped with this revision (its table
already exists) and upgraded from here. Kept as 0.10 defined it: ids of 63
characters, a single-precision interval; on MySQL/MariaDB ``bigint unsigned``
times, ``tinyint`` flags, ``enum`` run type, ``mediumtext`` kwargs, utf8mb4
with a collation MariaDB also knows.

Revision ID: ts_0001
Revises:
Create Date: 2026-11-27
"""

from __future__ import annotations

from alembic import op
from taskshed_sqlalchemy import schema

revision = "ts_0001"
down_revision = None
branch_labels = ("taskshed",)
depends_on = None


def upgrade() -> None:
    op.create_table(schema.TABLE_NAME, *schema.reference_columns(), **schema.mysql_table_options())
    for name, columns in schema.REFERENCE_INDEXES.items():
        op.create_index(name, schema.TABLE_NAME, list(columns))


def downgrade() -> None:
    op.drop_table(schema.TABLE_NAME)
