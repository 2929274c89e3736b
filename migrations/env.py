"""Alembic environment of taskshed's SQL datastore.

Two ways in, online:

- ``taskshed db ...`` (or ``taskshed_sqlalchemy.migrate``) hands over a
  connection that already holds the migration lock in
  ``config.attributes["connection"]`` and has adopted a 0.10 table itself;
- the plain ``alembic`` command, with ``script_location =
  taskshed_sqlalchemy:migrations`` in its ini file and the database in
  ``-x datastore=URL`` (or the ini's ``sqlalchemy.url``, or taskshed's
  configuration): the same lock is taken here, and a 0.10 table adopted.

Offline (``--sql``) only the dialect of the URL (``-x datastore=`` or
``sqlalchemy.url``) is used; no password reaches the output.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context
from taskshed_sqlalchemy import migrate, schema

config = context.config


def run_offline() -> None:
    url = migrate.alembic_command_url(
        config, context.get_x_argument(as_dictionary=True), offline=True
    )
    context.configure(
        url=url.render(),
        target_metadata=schema.metadata,
        version_table=schema.VERSION_TABLE,
        include_name=schema.include_name,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def run_on(connection: sa.Connection, *, adopt: bool = False) -> None:
    migrate.create_version_table(connection)
    context.configure(
        connection=connection,
        target_metadata=schema.metadata,
        version_table=schema.VERSION_TABLE,
        include_name=schema.include_name,
        render_as_batch=connection.dialect.name == "sqlite",
        transaction_per_migration=True,
    )
    migration_context = context.get_context()
    changes = migration_context.opts.get("destination_rev") is not None
    if adopt and changes and not migration_context.opts.get("dont_mutate"):
        migrate.adopt_legacy_table(connection, migration_context, context.script)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        run_on(connection)
    else:
        migrate.run_for_alembic_command(
            config,
            context.get_x_argument(as_dictionary=True),
            lambda conn: run_on(conn, adopt=True),
        )


if context.is_offline_mode():
    run_offline()
else:
    run_online()
