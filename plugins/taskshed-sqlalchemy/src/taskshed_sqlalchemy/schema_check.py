"""The store's start-up check: is this database's schema the one this release needs?"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from taskshed.errors import DataStoreError, SchemaVersionError
from taskshed_sqlalchemy import schema

#: Every revision this release knows, oldest first.
KNOWN_REVISIONS = ("ts_0001", "ts_0002", "ts_0003")

_UPGRADE_HINT = "run `taskshed db upgrade --datastore URL` (URL of this database) first"


async def read_revision(conn: AsyncConnection) -> str | None:
    """The revision in our version table, or ``None`` when there is no such table or row."""

    def has_version_table(sync_conn: sa.Connection) -> bool:
        return sa.inspect(sync_conn).has_table(schema.VERSION_TABLE)

    if not await conn.run_sync(has_version_table):
        return None
    version = sa.table(schema.VERSION_TABLE, sa.column("version_num"))
    rows = (await conn.execute(sa.select(version.c.version_num))).scalars().all()
    return rows[0] if len(rows) == 1 else None


async def has_tasks_table(conn: AsyncConnection) -> bool:
    def check(sync_conn: sa.Connection) -> bool:
        return sa.inspect(sync_conn).has_table(schema.TABLE_NAME)

    return await conn.run_sync(check)


async def _inspect(engine: AsyncEngine) -> tuple[str | None, bool]:
    """The schema revision, and whether an unversioned tasks table (TaskShed 0.10's) exists."""
    try:
        conn_cm = engine.connect()
        conn = await conn_cm.__aenter__()
    except sa.exc.SQLAlchemyError as exc:
        # Refused logins and unreachable servers alike: the schema was never reached.
        orig = getattr(exc, "orig", None) or exc
        raise DataStoreError(
            f"can't connect to the database: {type(orig).__name__}: {orig}"
        ) from exc
    except OSError as exc:
        raise DataStoreError(f"can't connect to the database: {exc}") from exc
    try:
        revision = await read_revision(conn)
        legacy = revision is None and await has_tasks_table(conn)
    except sa.exc.SQLAlchemyError as exc:
        orig = getattr(exc, "orig", None) or exc
        raise DataStoreError(
            f"can't read the taskshed schema version: {type(orig).__name__}: {orig}"
        ) from exc
    except OSError as exc:
        raise DataStoreError(f"can't connect to the database: {exc}") from exc
    finally:
        await conn_cm.__aexit__(None, None, None)
    return revision, legacy


async def check_schema(engine: AsyncEngine, *, create: bool) -> None:
    """Raise :class:`SchemaVersionError` unless the schema is at :data:`schema.SCHEMA_REVISION`.

    With ``create`` the migrations run first (under their database lock), so a
    fresh or old database is brought to the current revision.
    """
    revision, legacy = await _inspect(engine)
    if (
        create
        and revision != schema.SCHEMA_REVISION
        and (revision is None or revision in KNOWN_REVISIONS)
    ):
        from taskshed_sqlalchemy.migrate import upgrade

        await upgrade(engine)
        revision, legacy = await _inspect(engine)
    if revision == schema.SCHEMA_REVISION:
        return
    if revision is None and legacy:
        raise SchemaVersionError(
            f"this database holds a TaskShed 0.10 table {schema.TABLE_NAME!r} that has not "
            f"been upgraded; {_UPGRADE_HINT}. Its tasks are kept."
        )
    if revision is None:
        raise SchemaVersionError(f"this database has no taskshed schema yet; {_UPGRADE_HINT}.")
    if revision in KNOWN_REVISIONS:
        raise SchemaVersionError(
            f"the taskshed schema is at revision {revision!r}, older than the "
            f"{schema.SCHEMA_REVISION!r} this release needs; {_UPGRADE_HINT}."
        )
    raise SchemaVersionError(
        f"the taskshed schema is at revision {revision!r}, which this release does not "
        "know (a newer taskshed-sqlalchemy wrote it); upgrade taskshed-sqlalchemy, or "
        f"run `taskshed db downgrade {schema.SCHEMA_REVISION}` with that newer release."
    )
