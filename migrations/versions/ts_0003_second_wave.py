"""Second-wave task fields, the worker registry, and indexes for every hot query.

Adds the task columns of cron schedules, failure policies and run state
(``cron``, ``timezone``, ``end_at``, ``jitter``, ``max_attempts``,
``retry_backoff``, ``timeout``, ``attempts``, ``last_error``, ``last_run_at``,
``failed_at``, ``occurrence_at``) and ``claimed_by``; widens MySQL's
``run_type`` enum with ``cron``; creates ``_taskshed_workers``; and adds the
indexes of issue 18: listing orders on every dialect, partial indexes for
claims and wake-ups on PostgreSQL and SQLite (which replace ts_0002's
``(paused, run_at)`` and ``lease_until`` indexes there), a routed-claim index
on MySQL/MariaDB (see ``schema.hot_indexes``).

Downgrading refuses while cron tasks are stored (ts_0002 can't run them);
failed tasks are kept as paused tasks.

Revision ID: ts_0003
Revises: ts_0002
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from alembic.util import CommandError
from taskshed_sqlalchemy import schema

revision = "ts_0003"
down_revision = "ts_0002"
branch_labels = None
depends_on = None

_T = schema.TABLE_NAME
#: Indexes every dialect gets, as the table definition names them.
_SHARED_INDEXES = {
    "ix_taskshed_data_run_at_task_id": ["run_at", "task_id"],
    "ix_taskshed_data_callback_run_at_task_id": ["callback", "run_at", "task_id"],
}


def _dialect() -> str:
    return str(op.get_context().dialect.name)


def _is_mysql() -> bool:
    return _dialect() in ("mysql", "mariadb")


def upgrade() -> None:
    if _is_mysql():
        op.alter_column(
            _T,
            "run_type",
            type_=schema.run_type_type(*schema.RUN_TYPES),
            existing_type=schema.run_type_type(*schema.REFERENCE_RUN_TYPES),
            existing_nullable=False,
        )
    for column in schema.new_task_columns():
        op.add_column(_T, column)
    for name, columns in _SHARED_INDEXES.items():
        op.create_index(name, _T, columns)
    for name, columns, options in schema.hot_indexes(_dialect()):
        op.create_index(name, _T, columns, **options)
    if not _is_mysql():
        for name in schema.SUPERSEDED_INDEXES:
            op.drop_index(name, table_name=_T)
    op.create_table(
        schema.WORKERS_TABLE,
        *schema.worker_columns(),
        **schema.mysql_table_options(),
    )
    op.create_index("ix_taskshed_workers_expires_at", schema.WORKERS_TABLE, ["expires_at"])


def downgrade() -> None:
    if not op.get_context().as_sql:
        cron = op.get_bind().execute(
            sa.text(f"SELECT COUNT(*) FROM {_quoted(_T)} WHERE run_type = 'cron'")
        )
        count = cron.scalar() or 0
        if count:
            raise CommandError(
                f"{count} cron task(s) are stored; revision ts_0002 can't hold them. "
                "Remove them (or upgrade again) before downgrading."
            )
    op.drop_table(schema.WORKERS_TABLE)
    if not _is_mysql():
        for name, columns in schema.SUPERSEDED_INDEXES.items():
            op.create_index(name, _T, list(columns))
    for name, _columns, _options in schema.hot_indexes(_dialect()):
        op.drop_index(name, table_name=_T)
    for name in _SHARED_INDEXES:
        op.drop_index(name, table_name=_T)
    # Failed tasks stay paused, which is how revision ts_0002 reads them.
    for column in reversed(schema.new_task_columns()):
        op.drop_column(_T, column.name)
    if _is_mysql():
        op.alter_column(
            _T,
            "run_type",
            type_=schema.run_type_type(*schema.REFERENCE_RUN_TYPES),
            existing_type=schema.run_type_type(*schema.RUN_TYPES),
            existing_nullable=False,
        )


def _quoted(name: str) -> str:
    return str(op.get_context().dialect.identifier_preparer.quote(name))
