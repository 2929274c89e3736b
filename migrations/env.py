"""Alembic environment of taskshed's SQL datastore (run by ``taskshed db ...``).

Online, the caller hands over a connection that already holds the migration
lock (see ``taskshed_sqlalchemy.migrate``) in ``config.attributes["connection"]``;
offline (``--sql``) only the dialect named by ``sqlalchemy.url`` is used.
"""

from __future__ import annotations

from alembic import context
from taskshed_sqlalchemy import schema

config = context.config


def run_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=schema.metadata,
        version_table=schema.VERSION_TABLE,
        include_name=schema.include_name,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        raise RuntimeError(
            "taskshed's migrations run through `taskshed db ...` (or "
            "taskshed_sqlalchemy.migrate), which supplies the connection and the lock"
        )
    context.configure(
        connection=connection,
        target_metadata=schema.metadata,
        version_table=schema.VERSION_TABLE,
        include_name=schema.include_name,
        render_as_batch=connection.dialect.name == "sqlite",
        transaction_per_migration=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
